"""Failures a person hears about: one line to a webhook, for a failed task and for a late day
(the daily_synthetic_freshness DAG).

The webhook is the Airflow connection `daily_synthetic_alerts` (an HTTP connection: its URI
`http://host:port/path`, or a full URL in its host or in its extra `url`, e.g. a Slack
incoming webhook). The body is `{"text": "<one line>"}`. Without the connection the line is
logged and nothing is sent; a webhook that fails is logged too, never raised: an alert must
not hide the failure it reports.

Standard library only (urllib): the Airflow image has no HTTP provider of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

CONN_ID = "daily_synthetic_alerts"
TIMEOUT_SECONDS = 10
MAX_REASON = 400  # characters of the error kept in the line
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Sections of docs/operations.md that say what to do.
RUNBOOK = "docs/operations.md#runbook"
RUNBOOK_EXIT_CODES = "docs/operations.md#exit-codes"
RUNBOOK_LATE_DAY = "docs/operations.md#a-day-not-published-in-time"


# --- a failed task ---------------------------------------------------------------------------


def _day(context: Mapping[str, Any]) -> str:
    """The day the task stood for: its logical date, else the --date of its command."""
    if context.get("ds"):
        return str(context["ds"])
    command = getattr(context.get("task"), "command", None)
    if isinstance(command, Sequence) and not isinstance(command, str):
        args = [str(arg) for arg in command]
        day = args[args.index("--date") + 1] if "--date" in args[:-1] else ""
        if DATE.fullmatch(day):  # not a template left unrendered by a failure to render
            return day
    return "no logical date"


def failure_line(context: Mapping[str, Any]) -> str:
    """What failed, for which day, on which try, the day's state and where the runbook is."""
    ti = context["ti"]
    task = f"{ti.dag_id}.{ti.task_id}"
    if getattr(ti, "map_index", -1) not in (-1, None):
        task += f"[{ti.map_index}]"
    error = context.get("exception")
    reason = " ".join(str(error).split()) if error is not None else "no error recorded"
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    runbook = RUNBOOK_EXIT_CODES if "exited with" in reason else RUNBOOK
    return (
        f"daily-synthetic: {task} failed for day {_day(context)} "
        f"(try {getattr(ti, 'try_number', '?')}, run {ti.run_id}): {reason}; runbook: {runbook}"
    )


def default_args() -> dict[str, Any]:
    """The job DAGs' task defaults: two retries five minutes apart, the webhook, no e-mail."""
    return {
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "email_on_failure": False,
        "email_on_retry": False,
        "on_failure_callback": on_task_failure,
    }


def on_task_failure(context: Mapping[str, Any]) -> None:
    """on_failure_callback: called once a task has failed for good (no try left)."""
    post(failure_line(context))


# --- a day not published in time -------------------------------------------------------------


def late_day_line(day: str, due: dt.datetime, found: Sequence[str]) -> str:
    """The freshness alert: which day is missing, since when, and what was published last."""
    last = max(found) if found else "none in the events read"
    return (
        f"daily-synthetic: day {day} of daily_synthetic_raw not published by "
        f"{due:%Y-%m-%d %H:%M} UTC (latest published day: {last}); runbook: {RUNBOOK_LATE_DAY}"
    )


def on_late_day(context: Mapping[str, Any]) -> None:
    """The freshness check's on_failure_callback: its error is the late-day line itself;
    any other failure of the check is reported like a task's."""
    error = str(context.get("exception") or "")
    post(error if error.startswith("daily-synthetic: day ") else failure_line(context))


# --- the webhook -----------------------------------------------------------------------------


def webhook_url() -> str | None:
    """The webhook's URL from the connection, or None when there is no such connection."""
    from airflow.sdk import BaseHook  # run time only
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(CONN_ID)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson
    if extra.get("url"):
        return str(extra["url"])
    host = str(conn.host or "")
    if "://" in host:
        return host
    scheme = "https" if conn.conn_type == "https" else "http"
    port = f":{conn.port}" if conn.port else ""
    path = str(conn.schema or "").lstrip("/")
    return f"{scheme}://{host}{port}/{path}"


def post(line: str) -> bool:
    """POST {"text": line} to the webhook; True if it answered 2xx. Logs, never raises."""
    try:
        url = webhook_url()
    except Exception as exc:  # a broken connection must not hide the failure
        log.warning("alert not sent (connection %s: %s): %s", CONN_ID, exc, line)
        return False
    if url is None:
        log.warning("alert not sent (no connection %s): %s", CONN_ID, line)
        return False
    request = urllib.request.Request(  # noqa: S310 - the operator's own configured URL
        url,
        data=json.dumps({"text": line}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            ok = 200 <= answer.status < 300
    except OSError as exc:
        log.warning("alert not sent (%s): %s", exc, line)
        return False
    log.info("alert sent to %s: %s", CONN_ID, line)
    return ok
