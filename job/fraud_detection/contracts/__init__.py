"""The datasets' ODCS v3 data contracts, generated from schema.py and validation.py."""
