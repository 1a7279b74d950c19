"""Installs DuckDB extensions from the wheels that ship them, into DuckDB's extension folder.

    python scripts/duckdb-local-extensions.py [NAME ...]     (default: httpfs aws)

DuckDB downloads an extension on its first use, from extensions.duckdb.org, which CI and
these machines cannot reach. The `duckdb-extension-NAME` wheels (PyPI) hold the file for one
DuckDB version; `INSTALL '<file>'` puts it in ~/.duckdb, where every later connection of that
DuckDB version finds it, offline. Run it with the python of the venv that has the wheels:
the datacontract tool venv (httpfs, aws: datacontract-cli 1.2.8 looks for a `.gz` the wheels
do not hold, then downloads) and the dev venv and the Feast image (delta: Feast's DuckDB
offline store reads a `DeltaFormat` source through DuckDB's `delta_scan`).
"""

import importlib.resources
import sys
from pathlib import Path

import duckdb

con = duckdb.connect()
version = con.sql("PRAGMA version").fetchone()[0]  # type: ignore[index]
for name in sys.argv[1:] or ("httpfs", "aws"):
    folder = (
        Path(str(importlib.resources.files(f"duckdb_extension_{name}"))) / "extensions" / version
    )
    (path,) = folder.glob(f"{name}.duckdb_extension*")
    con.sql(f"INSTALL '{path}'")
