"""Thin I/O beside the generator: Parquet files, local and S3 destinations."""
