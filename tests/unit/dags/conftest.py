"""DAG unit tests: no Docker, no database, no network.

Airflow writes its home (logs/, maybe airflow.cfg) when first imported, so AIRFLOW_HOME is
set here, before any test module imports airflow. The dags folder goes on sys.path, as
Airflow does for DAG files, so that tests import the DAG files and their helper package.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

DAGS = Path(__file__).resolve().parents[3] / "dags"

_HOME = tempfile.mkdtemp(prefix="airflow-unit-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ["AIRFLOW_HOME"] = _HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))
