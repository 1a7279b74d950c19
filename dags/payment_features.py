"""
### payment_features

Downstream of the raw feed: for every day that `daily_synthetic` publishes (asset
`daily_synthetic_raw`, whose event `extra` is the day's manifest: `date`, `uri`, `rows`),

1. **features**: the job image's second command, `payment-features --date D`, computes each
   payment's card, customer and terminal features from day D and the 37 days before it, and
   publishes them to the features' Delta table, a root of its own: `s3://$FEATURES_BUCKET`
   (never inside the raw feed's bucket root, where a `**/*.parquet` reader would take them for
   payments), one commit per day, with `_manifests/YYYY-MM-DD.json`;
2. **materialize**: the Feast image applies `feature_repo/` and materialises those days into
   the online store (the card, customer and terminal views).

Asset events that arrive while a run is busy are handled together by the next run: it
processes every day they name. A manual run takes the days from its conf:
`airflow dags trigger payment_features --conf '{"dates": ["2025-06-10", "2025-06-11"]}'`.
A backfill of `daily_synthetic` over N days thus leaves N days of features, in the offline
store and online, ready to train on (training itself is not part of this DAG).

**Containers.** Both steps run through the same launcher layer as `daily_synthetic`
(`daily_synthetic_job`, `DAILY_SYNTHETIC_LAUNCHER` = docker, ecs or kubernetes): the same
template fields (Rendered Templates shows what ran), exit-code policy, credentials handling
(never rendered), limits and failure alert. `features` is the job image with the entrypoint
`payment-features`; `materialize` is the Feast image.

**Limits.** `conf["dates"]` names at most 31 days; at most 4 features containers run at once.
The param `rows` (rows of each raw day, default 1 000 000) sizes each features container's
scratch space: the day and the 37 days before it.

**Configuration** (worker environment, read when the task runs): `FEATURES_BUCKET` (the
features' bucket; required with S3), `DAILY_SYNTHETIC_IMAGE` (job image),
`DAILY_SYNTHETIC_FEAST_IMAGE`, `DAILY_SYNTHETIC_FEAST_VOLUME` (docker: the volume of the SQLite
online store and registry), `DAILY_SYNTHETIC_LOCAL_DATA` (docker: a host folder holding the raw
feed, instead of S3) with `DAILY_SYNTHETIC_LOCAL_FEATURES` (the features' host folder, default
`features` beside it), the pass-through variables and each launcher's own settings (see
`daily_synthetic`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Asset, Param, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from daily_synthetic_job import alerts
from daily_synthetic_job.launchers import load_launcher
from daily_synthetic_job.limits import MAX_FEATURE_DAYS, MAX_PARALLEL_FEATURES, MAX_ROWS
from daily_synthetic_job.policy import (
    DATE_RE,
    FEATURES_BUCKET_UNSET,
    FEATURES_JOB,
    LOCAL_DATA_MOUNT,
    MATERIALIZE_JOB,
    RAW_FEED,
    features_root,
)

DAG_ID = "payment_features"
RAW_FEED_NAME = RAW_FEED.name
FEATURES = Asset(name="daily_synthetic_features")
LAUNCHER = load_launcher()  # DAILY_SYNTHETIC_LAUNCHER, as for daily_synthetic


def _valid_day(value: Any) -> str | None:
    text = str(value or "")
    if not DATE_RE.fullmatch(text):
        return None
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return None
    return text


def days_to_process(
    events: Mapping[Any, Iterable[Any]] | None, conf: Mapping[str, Any] | None
) -> list[str]:
    """The days named by the raw feed's triggering events and by conf["dates"], sorted, unique."""
    named: list[Any] = list((conf or {}).get("dates") or [])
    if len(named) > MAX_FEATURE_DAYS:
        # One features container per day: a trigger must not start an unbounded number.
        raise AirflowException(
            f"conf['dates'] names {len(named)} days, at most {MAX_FEATURE_DAYS} per run: "
            "trigger the rest in further runs"
        )
    for asset, asset_events in (events or {}).items():
        if getattr(asset, "name", None) == RAW_FEED_NAME:
            named += [dict(event.extra or {}).get("date") for event in asset_events]
    days = {day for value in named if (day := _valid_day(value))}
    bad = [value for value in named if not _valid_day(value)]
    if bad:
        raise AirflowException(f"not a day in YYYY-MM-DD form: {bad!r}")
    return sorted(days)


def features_command(day: str) -> list[str]:
    """payment-features' arguments, with the features' root always named: a root of its own
    (`s3://$FEATURES_BUCKET`, or the local features folder's mount), never inside the raw
    feed's, and the same root the Feast image reads. Without FEATURES_BUCKET the run fails
    here, before any container starts, saying what to set."""
    dest = features_root()
    if not dest:
        raise AirflowFailException(FEATURES_BUCKET_UNSET)
    source = ["--source", LOCAL_DATA_MOUNT] if os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA") else []
    # Without RAW_BUCKET (and no local folder) the command fails, saying what to set.
    return ["--date", day, "-q", *source, "--dest", dest]


def materialize_command(days: Sequence[str]) -> list[str]:
    """One Feast call over the whole span, oldest first, so the newest values win online."""
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    return ["materialize", "--date", last.isoformat(), "--days", str((last - first).days + 1)]


with DAG(
    dag_id=DAG_ID,
    description="Features of each raw day (job image), then Feast materialize (Feast image)",
    schedule=[Asset.ref(name=RAW_FEED_NAME)],
    start_date=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # runs that overlap would race on the online store
    params={
        "rows": Param(
            1_000_000,
            type="integer",
            minimum=1,
            maximum=MAX_ROWS,
            title="Rows of each raw day",
            description="Sizes each features container's scratch (the day and its history).",
        ),
    },
    default_args=alerts.default_args(),
    tags=["data-gen", "features", "feast"],
    doc_md=__doc__,
) as dag:

    @task
    def plan(triggering_asset_events: Any = None, dag_run: Any = None) -> list[str]:
        days = days_to_process(triggering_asset_events, getattr(dag_run, "conf", None))
        if not days:
            raise AirflowSkipException("no raw day named by the triggering events or the conf")
        return days

    @task
    def commands(days: list[str]) -> list[list[str]]:
        return [features_command(day) for day in days]

    @task
    def feast_command(days: list[str]) -> list[str]:
        return materialize_command(days)

    days: Any = plan()  # an XComArg at parse time, the list when the tasks run
    # One job container per day; each reads only raw days, so they may run side by side.
    features = LAUNCHER.operator.partial(
        task_id="features",
        max_active_tis_per_dagrun=MAX_PARALLEL_FEATURES,
        **LAUNCHER.run(FEATURES_JOB),
    ).expand(command=commands(days))
    materialize = LAUNCHER.operator(
        task_id="materialize",
        command=feast_command(days),
        outlets=[FEATURES],
        **LAUNCHER.run(MATERIALIZE_JOB),
    )
    features >> materialize
