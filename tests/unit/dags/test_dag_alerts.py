"""A failure a person hears about, and run metrics, checked against real local receivers.

A webhook on 127.0.0.1 (http.server in a thread) for the failure and freshness lines; a UDP
socket on 127.0.0.1 for the StatsD metrics that Airflow's own Stats client sends. No Docker,
no database: the operator's engine is the fake API of test_dag_daily_synthetic.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import importlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.dags.test_dag_daily_synthetic import MANIFEST, FakeDockerAPI

DAY = "2025-06-12"


class Webhook:
    """An HTTP receiver on loopback that records each POSTed JSON body."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook()
    # The Airflow connection, from the environment (the secrets backend every worker has).
    monkeypatch.setenv("AIRFLOW_CONN_DAILY_SYNTHETIC_ALERTS", hook.url)
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def alerts() -> Any:
    return importlib.import_module("daily_synthetic_job.alerts")


def _failure_context(exception: BaseException, *, ds: str | None = DAY) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="daily_synthetic",
        task_id="generate",
        map_index=-1,
        run_id="scheduled__2025-06-12T02:00:00+00:00",
        try_number=3,
    )
    return {"ti": ti, "ds": ds, "exception": exception, "task": SimpleNamespace(command=None)}


def _exit_3() -> BaseException:
    from daily_synthetic_job.policy import explain

    line = "daily-synthetic: error: cannot reach S3 at http://127.0.0.1:1; the day is untouched"
    return explain(3, ["INFO starting", line])


def test_a_failed_task_posts_one_line_to_the_webhook(alerts: Any, webhook: Webhook) -> None:
    alerts.on_task_failure(_failure_context(_exit_3()))
    (body,) = webhook.bodies
    line = body["text"]
    assert "\n" not in line
    assert line.startswith("daily-synthetic: daily_synthetic.generate failed for day 2025-06-12")
    assert "try 3" in line
    assert "exited with 3" in line and "destination error" in line  # the exit code's meaning
    assert "the day is untouched" in line  # the day's state, from the job's own line
    assert line.endswith("runbook: docs/operations.md#exit-codes")


def test_the_day_comes_from_the_command_without_a_logical_date(alerts: Any) -> None:
    context = _failure_context(RuntimeError("boom\nsecond line"), ds=None)
    context["task"] = SimpleNamespace(command=["--date", "2025-06-10", "-q"])
    context["ti"].task_id, context["ti"].map_index = "features", 2
    line = alerts.failure_line(context)
    assert "daily_synthetic.features[2] failed for day 2025-06-10" in line
    assert "boom second line" in line  # one line, whatever the error
    assert line.endswith("runbook: docs/operations.md#runbook")
    # A task that failed while rendering still holds its template: no day to name.
    context["task"] = SimpleNamespace(command=["--date", "{{ ds }}", "--rows", "5"])
    assert "failed for day no logical date" in alerts.failure_line(context)


def test_runbook_sections_exist(alerts: Any) -> None:
    from tests.unit.dags.conftest import DAGS

    text = (DAGS.parent / "docs" / "operations.md").read_text()
    anchors = {
        "-".join("".join(c for c in h.lower() if c.isalnum() or c in " -").split())
        for h in (line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#"))
    }
    for link in (alerts.RUNBOOK, alerts.RUNBOOK_EXIT_CODES, alerts.RUNBOOK_LATE_DAY):
        assert link.split("#")[1] in anchors, link


def test_without_the_connection_the_line_is_logged_only(
    alerts: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_DAILY_SYNTHETIC_ALERTS", raising=False)
    assert alerts.post("daily-synthetic: something failed") is False
    assert "no connection daily_synthetic_alerts" in caplog.text


def test_a_failing_webhook_never_raises(alerts: Any, webhook: Webhook) -> None:
    webhook.status = 500
    assert alerts.post("daily-synthetic: something failed") is False
    assert len(webhook.bodies) == 1
    webhook.close()  # and one that is gone
    assert alerts.post("daily-synthetic: something failed") is False


# --- freshness: a day not published by 06:00 UTC the morning after -----------------------------


@dataclass
class Event:
    extra: dict[str, Any]


class Events(list[Event]):
    """inlet_events[asset] as the task SDK gives it: chainable ordering and limit."""

    def ascending(self, ascending: bool = True) -> Events:
        return self

    def limit(self, limit: int) -> Events:
        return Events(self[:limit])


@pytest.fixture(scope="module")
def freshness() -> Any:
    return importlib.import_module("daily_synthetic_freshness")


def _check(freshness: Any, events: list[Event], due: dt.datetime) -> Any:
    check = freshness.dag.task_dict["check_published"].python_callable
    return check(inlet_events={freshness.RAW_FEED: Events(events)}, logical_date=due)


def test_freshness_dag_checks_yesterday_at_six(freshness: Any) -> None:
    dag = freshness.dag
    assert dag.timetable.expression == "0 6 * * *"
    assert dag.catchup is False  # old days are not news
    (check,) = dag.tasks
    assert [a.name for a in check.inlets] == ["daily_synthetic_raw"]
    assert check.on_failure_callback


def test_a_published_day_passes(freshness: Any) -> None:
    events = [Event({"date": "2025-06-11"}), Event({"date": DAY}), Event({})]
    assert _check(freshness, events, dt.datetime(2025, 6, 13, 6, tzinfo=dt.UTC)) == DAY


def test_a_late_day_fails_and_posts_one_line(freshness: Any, alerts: Any, webhook: Webhook) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    due = dt.datetime(2025, 6, 13, 6, tzinfo=dt.UTC)
    with pytest.raises(AirflowFailException) as info:
        _check(freshness, [Event({"date": "2025-06-11"})], due)
    assert str(info.value) == (
        "daily-synthetic: day 2025-06-12 of daily_synthetic_raw not published by "
        "2025-06-13 06:00 UTC (latest published day: 2025-06-11); "
        "runbook: docs/operations.md#a-day-not-published-in-time"
    )
    # The DAG's failure callback posts that line as it is.
    context = _failure_context(info.value)
    freshness.dag.task_dict["check_published"].on_failure_callback[0](context)
    assert [body["text"] for body in webhook.bodies] == [str(info.value)]


def test_another_failure_of_the_check_is_reported_as_a_task_failure(
    alerts: Any, webhook: Webhook
) -> None:
    alerts.on_late_day(_failure_context(RuntimeError("API server unreachable")))
    (body,) = webhook.bodies
    assert "failed for day" in body["text"] and "API server unreachable" in body["text"]


# --- run metrics: asset event extra and StatsD ---------------------------------------------------


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP socket on loopback, and the task SDK's Stats pointed at it the way the task
    runner sets it up ([metrics] statsd_on)."""
    from airflow.sdk._shared.observability.metrics import stats
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability.metrics import stats_utils

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(sock.getsockname()[1]))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    yield sock
    stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
    sock.close()


def _received(sock: socket.socket, want: set[str]) -> dict[str, str]:
    """StatsD lines (name -> value|type) until every wanted name has arrived."""
    found: dict[str, str] = {}
    while not want <= found.keys():
        data, _ = sock.recvfrom(65536)
        for line in data.decode().splitlines():
            name, _, value = line.partition(":")
            found[name] = value
    return found


def test_run_metrics_go_to_the_event_and_to_statsd(
    statsd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.docker.operators.docker import DockerOperator

    policy = importlib.import_module("daily_synthetic_job.policy")
    api = FakeDockerAPI()
    api.output = ["INFO generating", json.dumps(MANIFEST)]
    monkeypatch.setattr(DockerOperator, "cli", property(lambda self: api))
    op = copy.copy(importlib.import_module("daily_synthetic").dag.task_dict["generate"])
    ti = SimpleNamespace(dag_id="daily_synthetic", run_id="r", task_id="generate", map_index=-1)
    context: dict[str, Any] = {"ti": ti, "ds": DAY, "params": {"rows": 5000, "shards": 1}}
    op.render_template_fields(context, op.dag.get_template_env())

    class Events(dict[Any, Any]):
        def __missing__(self, key: Any) -> Any:
            self[key] = SimpleNamespace(extra={})
            return self[key]

    context["outlet_events"] = Events()
    op.execute(context)
    metrics = context["outlet_events"][policy.RAW_FEED].extra["metrics"]
    assert metrics["rows"] == MANIFEST["rows"]
    assert metrics["bytes"] == MANIFEST["bytes"]
    assert metrics["objects"] == len(MANIFEST["keys"])  # type: ignore[arg-type]
    assert metrics["container_seconds"] >= 0

    base = "airflow.daily_synthetic.daily_synthetic.generate"
    got = _received(statsd, {f"{base}.rows", f"{base}.bytes", f"{base}.duration"})
    assert got[f"{base}.rows"] == f"{MANIFEST['rows']}|g"
    assert got[f"{base}.bytes"] == f"{MANIFEST['bytes']}|g"
    assert got[f"{base}.duration"].endswith("|ms")
