"""The example consumer: scheduled on the raw feed asset, reads the triggering events."""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"

# Airflow writes its home on import: keep it out of the repo (before the first airflow import).
_HOME = tempfile.mkdtemp(prefix="airflow-unit-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ["AIRFLOW_HOME"] = _HOME


@pytest.fixture(scope="module")
def consumer() -> ModuleType:
    sys.path.insert(0, str(DAGS))
    try:
        return importlib.import_module("feast_consumer_example")
    finally:
        sys.path.remove(str(DAGS))


@pytest.fixture(scope="module")
def producer() -> ModuleType:
    sys.path.insert(0, str(DAGS))
    try:
        return importlib.import_module("daily_synthetic")
    finally:
        sys.path.remove(str(DAGS))


def test_scheduled_on_the_producers_asset_by_name(
    consumer: ModuleType, producer: ModuleType
) -> None:
    from airflow.sdk import Asset, AssetAll

    dag = consumer.feast_consumer_example()
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAll)
    assert list(condition.objects) == [Asset.ref(name=producer.RAW_FEED.name)]
    assert dag.catchup is False


def _event(extra: dict[str, Any]) -> Any:
    return SimpleNamespace(extra=extra)


def test_summarize_reads_uri_and_rows(consumer: ModuleType, caplog: Any) -> None:
    from airflow.sdk import Asset

    raw = Asset(name="daily_synthetic_raw")
    other = Asset(name="something_else")
    events = {
        raw: [
            _event({"date": "2025-06-12", "uri": "s3://raw/year=2025/month=06/day=12/", "rows": 5}),
            _event({"date": "2025-06-13", "uri": "s3://raw/year=2025/month=06/day=13/", "rows": 7}),
        ],
        other: [_event({"date": "x", "uri": "y", "rows": 1})],
    }
    with caplog.at_level("INFO"):
        days = consumer.summarize_events(events)
    assert days == [
        {"date": "2025-06-12", "uri": "s3://raw/year=2025/month=06/day=12/", "rows": 5},
        {"date": "2025-06-13", "uri": "s3://raw/year=2025/month=06/day=13/", "rows": 7},
    ]
    assert "s3://raw/year=2025/month=06/day=13/" in caplog.text


def test_manual_run_without_events_is_skipped(consumer: ModuleType) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    dag = consumer.feast_consumer_example()
    task = dag.task_dict["read_raw_feed_event"]
    with pytest.raises(AirflowSkipException):
        task.python_callable(triggering_asset_events={})
