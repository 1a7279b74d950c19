"""Installs the DuckDB extensions that datacontract-cli's S3 extra ships as wheels.

datacontract-cli 1.2.8 looks for `<name>.duckdb_extension.gz` in those wheels, but they hold
the plain file, so it falls back to downloading from extensions.duckdb.org. Installing the
wheels' files into DuckDB's extension folder (~/.duckdb) keeps `datacontract test` offline.
Run with the datacontract tool venv's python (mk/contracts.mk does).
"""

import importlib.resources
from pathlib import Path

import duckdb

con = duckdb.connect()
version = con.sql("PRAGMA version").fetchone()[0]  # type: ignore[index]
for name in ("httpfs", "aws"):
    folder = (
        Path(str(importlib.resources.files(f"duckdb_extension_{name}"))) / "extensions" / version
    )
    (path,) = folder.glob(f"{name}.duckdb_extension*")
    con.sql(f"INSTALL '{path}'")
