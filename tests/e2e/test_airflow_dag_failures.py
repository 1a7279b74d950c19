"""daily_synthetic failing the right way: S3 down, and a run without a logical date. Each
failure reaches a webhook on loopback as one line (the Airflow connection
`daily_synthetic_alerts`, set in the environment of the `airflow dags test` process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.dags.test_dag_alerts import Webhook

pytestmark = pytest.mark.e2e

DAY = "2025-06-12"


@pytest.fixture
def webhook(airflow_home: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook()
    env = airflow_home.env
    monkeypatch.setattr(
        airflow_home,
        "env",
        lambda bucket, extra=None: {
            **env(bucket, extra),
            "AIRFLOW_CONN_DAILY_SYNTHETIC_ALERTS": hook.url,
        },
    )
    yield hook
    hook.close()


def test_s3_down_fails_the_task_and_lands_nothing(
    airflow_home: Any, s3: Any, containers: Any, timings: dict[str, float], webhook: Webhook
) -> None:
    bucket = "raw-e2e-s3-down"
    s3.client().create_bucket(Bucket=bucket)
    s3.stop()
    try:
        # retries=0 for the test only: otherwise two 5-minute retry delays follow.
        run = airflow_home.dags_test(DAY, {"rows": 5_000}, bucket, no_retries=True, via_cli=False)
    finally:
        s3.start()  # same port, same in-process data
    timings["failing run (S3 down, retries=0)"] = run.seconds
    assert run.state == "failed", run.output[-5000:]
    assert run.tasks[("generate", -1)] == "failed"
    assert "daily-synthetic exited with 3" in run.output  # the job's destination-error code
    assert "cannot reach S3" in run.output  # its one-line reason, surfaced in the task error
    assert ("generate", -1) not in run.xcoms
    assert run.events == []
    assert s3.keys(bucket) == []
    # The container ran and was removed although it failed (the operator removes it).
    events = containers.events(run)
    assert events.get("create") == 1
    assert events.get("destroy") == 1
    assert containers.leftovers(run) == []
    # Somebody hears about it: one line, naming the task, the day, the reason and the runbook.
    (body,) = webhook.bodies
    line = body["text"]
    assert "\n" not in line
    assert line.startswith(f"daily-synthetic: daily_synthetic.generate failed for day {DAY}")
    assert "exited with 3" in line and "cannot reach S3" in line
    assert "runbook: docs/operations.md#exit-codes" in line


def test_run_without_logical_date_fails_once_and_starts_no_container(
    airflow_home: Any, s3: Any, containers: Any, webhook: Webhook
) -> None:
    bucket = "raw-e2e-no-date"
    s3.client().create_bucket(Bucket=bucket)
    # Real retries (2): the failure must be final at once, not up_for_retry.
    run = airflow_home.dags_test(None, {"rows": 5_000}, bucket, via_cli=False)
    assert run.state == "failed", run.output[-5000:]
    assert run.tasks[("generate", -1)] == "failed"
    assert "this run has no logical date" in run.output
    assert s3.keys(bucket) == []
    assert containers.events(run) == {}
    lines = [body["text"] for body in webhook.bodies]
    assert any("daily_synthetic.generate failed for day no logical date" in x for x in lines)
