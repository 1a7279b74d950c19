"""Every limit of the job containers and of the DAGs' params, defined once.

The DAG files must not import the job package (it is not installed where Airflow runs), so
the job's own figures are restated here and tests/unit/dags/test_dag_limits.py ties each one to
its source: `job/fraud_detection/settings.py`, the features step's history and the measured
bytes per row in docs/performance.md.
"""

from __future__ import annotations

import math

# --- params that multiply work -------------------------------------------------------------

MAX_ROWS = 50_000_000  # the job's own maximum for one container (settings.MAX_ROWS)
MAX_SHARDS = 64  # job containers per day in daily_synthetic (the job allows more)
# payment_features: days one run may name in conf["dates"] (one features container each).
MAX_FEATURE_DAYS = 31
# payment_features: features containers of one run at a time (the days an asset event backlog
# names are not capped: a backfill's days all get their features, a few at a time).
MAX_PARALLEL_FEATURES = 4
# Days before a day that the features step reads (its longest window plus the label delay).
FEATURE_HISTORY_DAYS = 37

# --- one container -------------------------------------------------------------------------

# A CPU cap (Docker's NanoCpus), not a weight: one slice keeps two cores busy (blocks are
# generated on two threads while polars encodes the last ones on its own).
JOB_CPUS = 2.0
# Memory (MiB): the job's peak grows with the day's rows, whichever slice a container makes:
# above a million rows the day's fraud plan and card lifecycle grow with its payments. This
# restates fraud_detection.memory.memory_needed (a test ties them); the container gets it
# plus half again, or the default cap if that is more.
JOB_MEMORY_MIB = (400, 700, 140)  # base, per million up to a million rows, per million above
MEMORY_HEADROOM = 1.5
# Processes and threads: polars and Arrow size their pools by the host's cores, boto3 adds its
# transfer threads; this stops a runaway, not a normal run on a large host.
PIDS_LIMIT = 1024

# Scratch (/tmp): one slice's Parquet file before its upload. Measured 52.4 bytes a row at 1 M
# rows, polars' writer (docs/performance.md); 1.5x headroom for the labels feed and the codec's
# spread, plus a floor for the small files of a run.
PARQUET_BYTES_PER_ROW = 53
SCRATCH_HEADROOM = 1.5
SCRATCH_FLOOR_MIB = 64
# Kubernetes counts the container's log against its ephemeral storage too; the job logs a few
# lines a run, this bounds a runaway.
LOG_ALLOWANCE_MIB = 64


def job_memory_mib(rows: int) -> int:
    """The memory a container making (a slice of) a day of `rows` rows gets, in MiB."""
    base, first, beyond = JOB_MEMORY_MIB
    need = base + first * min(rows, 1_000_000) / 1e6 + beyond * max(rows - 1_000_000, 0) / 1e6
    return math.ceil(need * MEMORY_HEADROOM)


def scratch_mib(rows: int, days: int = 1) -> int:
    """The job's /tmp for `days` days of `rows` rows each, in MiB."""
    need = rows * days * PARQUET_BYTES_PER_ROW * SCRATCH_HEADROOM
    return SCRATCH_FLOOR_MIB + math.ceil(need / 1024**2)


def ephemeral_storage_mib(rows: int, days: int = 1) -> int:
    """A pod's ephemeral-storage limit: its scratch emptyDir and its log."""
    return scratch_mib(rows, days) + LOG_ALLOWANCE_MIB
