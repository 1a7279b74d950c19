"""
### daily_synthetic_freshness

Is yesterday's day published? Every day at 06:00 UTC one task reads the latest events of the
asset `daily_synthetic_raw` (one per published day, its `extra["date"]` names the day) and
fails if none names day D = the day before. The failure posts one line to the webhook of the
Airflow connection `daily_synthetic_alerts` (see docs/operations.md, "A day not published in
time").

Separate from `daily_synthetic` on purpose: a run that never started, a paused DAG or a dead
scheduler must be noticed too, which no callback of the late run itself can do. The day D is
due at D+1 06:00 UTC, four hours after its 02:00 run starts (retries included). No catch-up:
old days are not news.

Airflow's own deadline alerts (`DeadlineAlert`) would fit, but in Airflow 3.3.2 `airflow dags
test` of a DAG that has one fails as soon as the run succeeds (the test run's DAG holds the
alert's serialized form where the scheduler expects its id), so `make dag-test` could not run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, task
from airflow.sdk.exceptions import AirflowFailException

from daily_synthetic_job import alerts
from daily_synthetic_job.policy import RAW_FEED

DAG_ID = "daily_synthetic_freshness"
DUE_CRON = "0 6 * * *"  # D+1 06:00 UTC: day D must be published by then
# Events read back: a day re-run many times has many events; the latest ones are enough.
RECENT_EVENTS = 100


def expected_day(check_time: dt.datetime) -> str:
    """The day due at `check_time` (06:00 UTC on D+1): D."""
    return (check_time - dt.timedelta(days=1)).date().isoformat()


def published_days(events: Any) -> list[str]:
    return sorted({str(e.extra["date"]) for e in events if (e.extra or {}).get("date")})


with DAG(
    dag_id=DAG_ID,
    description="Alert when a day of daily_synthetic_raw is not published by 06:00 UTC",
    schedule=CronTriggerTimetable(DUE_CRON, timezone="UTC"),
    start_date=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        # A failed read of the events (API server restarting) is retried soon; a missing
        # day fails at once (AirflowFailException), so the alert is not delayed.
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "email_on_failure": False,
        "email_on_retry": False,
        "on_failure_callback": alerts.on_late_day,
    },
    tags=["data-gen", "alerts"],
    doc_md=__doc__,
) as dag:

    @task(inlets=[RAW_FEED])
    def check_published(inlet_events: Any = None, logical_date: dt.datetime | None = None) -> str:
        """Day D's event exists, else fail with the late-day line (the callback posts it)."""
        due = logical_date or dt.datetime.now(dt.UTC)
        day = expected_day(due)
        recent = inlet_events[RAW_FEED].ascending(False).limit(RECENT_EVENTS)
        found = published_days(recent)
        if day not in found:
            raise AirflowFailException(alerts.late_day_line(day, due, found))
        return day

    check_published()
