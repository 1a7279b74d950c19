"""The downstream DAG: which days a run processes, and the commands its containers get."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.unit.dags.test_dag_import import dag_bag  # noqa: F401 (fixture)


@dataclass(frozen=True)
class FakeAsset:
    name: str


@dataclass
class FakeEvent:
    extra: dict[str, Any] = field(default_factory=dict)


def _module() -> Any:
    import payment_features

    return payment_features


def test_days_come_from_raw_feed_events_and_conf_sorted_unique() -> None:
    events = {
        FakeAsset("daily_synthetic_raw"): [
            FakeEvent({"date": "2025-06-12", "rows": 3}),
            FakeEvent({"date": "2025-06-10"}),
        ],
        FakeAsset("another_feed"): [FakeEvent({"date": "2025-01-01"})],
    }
    days = _module().days_to_process(events, {"dates": ["2025-06-11", "2025-06-12"]})
    assert days == ["2025-06-10", "2025-06-11", "2025-06-12"]


def test_a_bad_day_fails_the_plan() -> None:
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="2025-02-30"):
        _module().days_to_process({}, {"dates": ["2025-02-30"]})


def test_materialize_spans_the_days_oldest_first() -> None:
    assert _module().materialize_command(["2025-06-10", "2025-06-12"]) == [
        "materialize", "--date", "2025-06-12", "--days", "3",
    ]  # fmt: skip


def test_features_read_a_local_folder_only_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = _module()
    monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_DATA", raising=False)
    monkeypatch.setenv("RAW_BUCKET", "feed-bucket")
    assert module.features_command("2025-06-12") == [
        "--date", "2025-06-12", "-q", "--dest", "s3://feed-bucket/features",
    ]  # fmt: skip
    monkeypatch.setenv("DAILY_SYNTHETIC_LOCAL_DATA", "/srv/feed")
    assert module.features_command("2025-06-12")[-4:] == [
        "--source", "/data", "--dest", "/data/features",
    ]  # fmt: skip
    # no RAW_BUCKET: the command's own error says what to set
    monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_DATA")
    monkeypatch.delenv("RAW_BUCKET")
    assert module.features_command("2025-06-12") == ["--date", "2025-06-12", "-q"]


def test_dag_shape(dag_bag: Any) -> None:  # noqa: F811
    dag = dag_bag.dags["payment_features"]
    features, materialize = dag.get_task("features"), dag.get_task("materialize")
    assert features.downstream_task_ids == {"materialize"}
    assert [a.name for a in materialize.outlets] == ["daily_synthetic_features"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert "daily_synthetic_raw" in repr(dag.timetable.asset_condition)
