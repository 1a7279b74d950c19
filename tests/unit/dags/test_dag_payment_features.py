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


def test_features_have_a_root_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _module()
    monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_DATA", raising=False)
    monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_FEATURES", raising=False)
    monkeypatch.setenv("RAW_BUCKET", "feed-bucket")
    monkeypatch.setenv("FEATURES_BUCKET", "features-bucket")
    assert module.features_command("2025-06-12") == [
        "--date", "2025-06-12", "-q", "--dest", "s3://features-bucket",
    ]  # fmt: skip
    # A local folder: the raw feed and the features each have a mount of their own.
    monkeypatch.setenv("DAILY_SYNTHETIC_LOCAL_DATA", "/srv/feed/raw")
    assert module.features_command("2025-06-12")[-4:] == [
        "--source", "/data", "--dest", "/features",
    ]  # fmt: skip


def test_no_features_bucket_fails_before_any_container(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    module = _module()
    monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_DATA", raising=False)
    monkeypatch.setenv("RAW_BUCKET", "feed-bucket")
    monkeypatch.delenv("FEATURES_BUCKET", raising=False)
    # Never `features/` inside the raw bucket: a `**/*.parquet` reader would read it as payments.
    with pytest.raises(AirflowFailException, match="FEATURES_BUCKET is not set"):
        module.features_command("2025-06-12")


@pytest.mark.parametrize(
    ("local_features", "expected"),
    [(None, "/srv/feed/features"), ("/srv/elsewhere/feat", "/srv/elsewhere/feat")],
)
def test_local_features_folder_is_mounted_beside_the_raw_one(
    monkeypatch: pytest.MonkeyPatch, local_features: str | None, expected: str
) -> None:
    from daily_synthetic_job import docker, policy

    monkeypatch.setenv("DAILY_SYNTHETIC_LOCAL_DATA", "/srv/feed/raw/")
    if local_features:
        monkeypatch.setenv("DAILY_SYNTHETIC_LOCAL_FEATURES", local_features)
    else:
        monkeypatch.delenv("DAILY_SYNTHETIC_LOCAL_FEATURES", raising=False)
    context = {"params": {"rows": 1000}}
    for job in (policy.FEATURES_JOB, policy.MATERIALIZE_JOB):
        binds = {m["Target"]: m["Source"] for m in docker.job_mounts(job, context)
                 if m["Type"] == "bind"}  # fmt: skip
        assert binds == {"/data": "/srv/feed/raw/", "/features": expected}
    # The generator's container never sees the features.
    daily = docker.job_mounts(policy.DAILY_JOB, context)
    assert [m["Target"] for m in daily if m["Type"] == "bind"] == ["/data"]


def test_dag_shape(dag_bag: Any) -> None:  # noqa: F811
    dag = dag_bag.dags["payment_features"]
    features, materialize = dag.get_task("features"), dag.get_task("materialize")
    assert features.downstream_task_ids == {"materialize"}
    assert [a.name for a in materialize.outlets] == ["daily_synthetic_features"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert "daily_synthetic_raw" in repr(dag.timetable.asset_condition)
