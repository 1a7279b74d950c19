"""Run metrics of a job container: from its result (the manifest it printed) and its wall time.

They go into the asset event's extra (`extra["metrics"]`) and out as Airflow metrics through
Airflow's own `Stats` (StatsD, Datadog or OpenTelemetry, whichever `[metrics]` turns on), as
`daily_synthetic.<dag_id>.<task_id>.<name>`. Nothing is parsed out of logs: a figure the
result does not carry is simply absent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "daily_synthetic"
# Counts and sizes the job's manifest carries today.
FROM_RESULT = ("rows", "bytes", "fraud_rows", "shards")
# Carried through when a result holds them (the publishing steps' own figures).
OPTIONAL = ("promotion_seconds", "lease_takeovers", "commit_retries")


def run_metrics(result: Mapping[str, Any], seconds: float | None) -> dict[str, float]:
    """The numeric figures of one run: the result's, its object count and the wall time."""
    found: dict[str, float] = {}
    for name in (*FROM_RESULT, *OPTIONAL):
        value = result.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = value
    if isinstance(result.get("keys"), list):
        found["objects"] = len(result["keys"])
    if seconds is not None:
        found["container_seconds"] = round(seconds, 3)
    return found


def stat_name(dag_id: str, task_id: str, name: str) -> str:
    return f"{PREFIX}.{dag_id}.{task_id}.{name}"


def emit(dag_id: str, task_id: str, figures: Mapping[str, float]) -> None:
    """Each figure as a gauge; the wall time also as a timing (ms). Never fails the task."""
    try:
        from airflow.sdk.observability.stats import Stats  # task-time only

        tags = {"dag_id": dag_id, "task_id": task_id}
        for name, value in figures.items():
            Stats.gauge(stat_name(dag_id, task_id, name), value, tags=tags)
        if "container_seconds" in figures:
            duration = dt.timedelta(seconds=figures["container_seconds"])
            Stats.timing(stat_name(dag_id, task_id, "duration"), duration, tags=tags)
    except Exception as exc:  # metrics are a side channel: the day is published already
        log.warning("could not send run metrics: %s", exc)
