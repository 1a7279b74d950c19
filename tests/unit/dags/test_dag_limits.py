"""One definition of each limit (dags/daily_synthetic_job/limits.py), tied to its source.

The DAG layer may not import the job package, so it restates the job's figures; these tests
are where the two meet: the job's settings, the features step's history and the measured
bytes per row. And every DAG param that multiplies work is bounded by them.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import re
from typing import Any

import pytest

from tests.unit.dags.conftest import DAGS

ROOT = DAGS.parent


@pytest.fixture(scope="module")
def limits() -> Any:
    return importlib.import_module("daily_synthetic_job.limits")


def test_row_and_slice_limits_are_the_jobs(limits: Any) -> None:
    from fraud_detection import settings

    assert limits.MAX_ROWS == settings.MAX_ROWS
    assert limits.MAX_SHARDS <= settings.MAX_SHARDS


def test_feature_history_is_the_features_steps(limits: Any) -> None:
    from fraud_detection.features import compute

    history = compute.history_days(dt.date(2025, 6, 12), compute.DEFAULT_LABEL_DELAY_DAYS)
    assert history == limits.FEATURE_HISTORY_DAYS


def _measured_bytes_per_row() -> list[float]:
    text = (ROOT / "docs" / "performance.md").read_text()
    found = [float(v) for v in re.findall(r"\| bytes per row, [\d,]+ rows \| ([\d.]+) \|", text)]
    assert found, "docs/performance.md has no 'bytes per row' figure"
    return found


def test_scratch_holds_the_measured_bytes_per_row_with_headroom(limits: Any) -> None:
    measured = max(_measured_bytes_per_row())
    # The constant is the measurement, rounded up, not a guess far from it.
    assert measured <= limits.PARQUET_BYTES_PER_ROW <= measured * 1.1
    for rows in (1, 1_000_000, limits.MAX_ROWS):
        assert limits.scratch_mib(rows) * 1024**2 >= rows * measured * 1.4
    assert limits.ephemeral_storage_mib(10) > limits.scratch_mib(10)  # the log counts too


def test_the_jobs_memory_covers_its_need_with_margin_for_any_rows(limits: Any) -> None:
    from daily_synthetic_job.policy import DAILY_JOB, DEFAULT_MEM_LIMIT, memory_mib
    from fraud_detection.memory import memory_needed

    # docs/operations.md: give the container the table's memory plus 50 %.
    for rows in (1, 1_000_000, 10_000_000, 20_000_000, limits.MAX_ROWS):
        need = memory_needed(rows) * 1.5
        assert abs(limits.job_memory_mib(rows) * 1024**2 - need) <= 1024**2, rows  # MiB rounding
        given = memory_mib(DAILY_JOB.mem_limit({"params": {"rows": rows}}, None))
        assert given * 1024**2 >= need, rows
        assert given == max(memory_mib(DEFAULT_MEM_LIMIT), limits.job_memory_mib(rows)), rows
    # The default cap serves the default day; a large day asks for more.
    assert limits.job_memory_mib(1_000_000) < memory_mib(DEFAULT_MEM_LIMIT)
    assert limits.job_memory_mib(limits.MAX_ROWS) > memory_mib(DEFAULT_MEM_LIMIT)


def test_measured_peaks_stay_under_the_jobs_need(limits: Any) -> None:
    """The bench's peaks (docs/performance.md) are below what the job asks for."""
    from fraud_detection.memory import memory_needed

    text = (ROOT / "docs" / "performance.md").read_text()
    runs = re.findall(
        r"^\| ([\d,]+)-row local run \(zstd\) \| ([\d,]+) \|(?:[^|]*\|){5} ([\d,]+) \|$",
        text, flags=re.M,
    )  # fmt: skip
    assert runs, "docs/performance.md has no whole-run peak RSS"
    for _, rows, peak in runs:
        n, peak_mib = int(rows.replace(",", "")), int(peak.replace(",", ""))
        assert peak_mib * 1024**2 <= memory_needed(n), (n, peak_mib)


def test_limits_are_defined_once(limits: Any) -> None:
    """No other file of dags/ assigns a name that limits.py defines (it imports it instead)."""
    names = [name for name in vars(limits) if name.isupper()]
    for path in DAGS.rglob("*.py"):
        if path.name == "limits.py":
            continue
        text = path.read_text()
        assert "50_000_000" not in text, path
        for name in names:
            assert not re.search(rf"^{name} = ", text, re.M), f"{path}: {name}"


# --- the DAG params that multiply work -----------------------------------------------------


def _dags() -> dict[str, Any]:
    return {
        name: importlib.import_module(name).dag for name in ("daily_synthetic", "payment_features")
    }


def _rejects(param: Any, value: Any) -> bool:
    from airflow.sdk.exceptions import ParamValidationError

    try:
        copy.deepcopy(param).resolve(value=value)
    except ParamValidationError:
        return True
    return False


def test_every_int_param_is_bounded_by_limits(limits: Any) -> None:
    bounds = {
        ("daily_synthetic", "rows"): limits.MAX_ROWS,
        ("daily_synthetic", "shards"): limits.MAX_SHARDS,
        ("payment_features", "rows"): limits.MAX_ROWS,
    }
    seen = {}
    for dag_id, dag in _dags().items():
        for name in dag.params:
            param = dag.params.get_param(name)
            seen[(dag_id, name)] = param.schema.get("maximum")
            assert param.schema["type"] == "integer"
            assert param.schema["minimum"] == 1
            assert _rejects(param, 0) and _rejects(param, param.schema["maximum"] + 1)
    assert seen == bounds


def test_conf_dates_are_bounded(limits: Any) -> None:
    from airflow.sdk.exceptions import AirflowException

    import payment_features

    start = dt.date(2025, 1, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(limits.MAX_FEATURE_DAYS)]
    assert payment_features.days_to_process({}, {"dates": days}) == days
    one_more = [*days, (start + dt.timedelta(days=len(days))).isoformat()]
    with pytest.raises(AirflowException, match=f"at most {limits.MAX_FEATURE_DAYS}"):
        payment_features.days_to_process({}, {"dates": one_more})


def test_features_containers_run_a_few_at_a_time(limits: Any) -> None:
    features = _dags()["payment_features"].task_dict["features"]
    assert features.partial_kwargs["max_active_tis_per_dagrun"] == limits.MAX_PARALLEL_FEATURES
