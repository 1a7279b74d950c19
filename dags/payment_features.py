"""
### payment_features

Downstream of the raw feed: for every day that `daily_synthetic` publishes (asset
`daily_synthetic_raw`, whose event `extra` is the day's manifest: `date`, `uri`, `rows`),

1. **features**: the job image's second command, `payment-features --date D`, computes each
   payment's card, customer and terminal features from day D and the 37 days before it, and
   publishes them under `s3://$RAW_BUCKET/features/year=/month=/day=/` with a `_manifest.json`;
2. **materialize**: the Feast image applies `feature_repo/` and materialises those days into
   the online store (the card, customer and terminal views).

Asset events that arrive while a run is busy are handled together by the next run: it
processes every day they name. A manual run takes the days from its conf:
`airflow dags trigger payment_features --conf '{"dates": ["2025-06-10", "2025-06-11"]}'`.
A backfill of `daily_synthetic` over N days thus leaves N days of features, in the offline
store and online, ready to train on (training itself is not part of this DAG).

**Configuration** (worker environment, read when the task runs): `DAILY_SYNTHETIC_IMAGE`
(job image), `DAILY_SYNTHETIC_FEAST_IMAGE`, `DAILY_SYNTHETIC_FEAST_VOLUME` (Docker volume of
the SQLite online store and registry), `DAILY_SYNTHETIC_NETWORK`, `DAILY_SYNTHETIC_MEM_LIMIT`,
`DOCKER_HOST`, `DAILY_SYNTHETIC_LOCAL_DATA` (a host folder holding the raw feed, instead of S3)
and the pass-through `RAW_BUCKET`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` plus AWS
credentials (only through `private_environment`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG, Asset, task
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from daily_synthetic_job.lineage import LineageFromManifest
from daily_synthetic_job.policy import last_json_object

DAG_ID = "payment_features"
RAW_FEED_NAME = "daily_synthetic_raw"
FEATURES = Asset(name="daily_synthetic_features")
DEFAULT_JOB_IMAGE = "daily-synthetic-job:dev"
DEFAULT_FEAST_IMAGE = "daily-synthetic-feast:dev"
DEFAULT_FEAST_VOLUME = "daily-synthetic-feast"
# 37 days of 1 M payments go through the features step: a cap, not a reservation.
DEFAULT_MEM_LIMIT = "8g"
LOCAL_DATA_MOUNT = "/data"  # where DAILY_SYNTHETIC_LOCAL_DATA appears in the containers
FEATURES_DIR = "features"  # the features' root under the feed's root (the raw days' glob skips it)
FEAST_DATA_MOUNT = "/feature_repo/data"  # the Feast image's registry + online store folder
PUBLIC_ENV = ("RAW_BUCKET", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _valid_day(value: Any) -> str | None:
    text = str(value or "")
    if not _DATE_RE.fullmatch(text):
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
    for asset, asset_events in (events or {}).items():
        if getattr(asset, "name", None) == RAW_FEED_NAME:
            named += [dict(event.extra or {}).get("date") for event in asset_events]
    days = {day for value in named if (day := _valid_day(value))}
    bad = [value for value in named if not _valid_day(value)]
    if bad:
        raise AirflowException(f"not a day in YYYY-MM-DD form: {bad!r}")
    return sorted(days)


def features_command(day: str) -> list[str]:
    """payment-features' arguments, with the features' root always named: `features/` under
    the feed's root, where the Feast image reads them (feature_repo's default). The command's
    own default would fail beside a bucket root, and beside /data be outside the mount."""
    if os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA"):
        roots = ["--source", LOCAL_DATA_MOUNT, "--dest", f"{LOCAL_DATA_MOUNT}/{FEATURES_DIR}"]
    else:
        bucket = os.environ.get("RAW_BUCKET", "").strip()
        # Without RAW_BUCKET the command fails as before, saying what to set.
        roots = ["--dest", f"s3://{bucket}/{FEATURES_DIR}"] if bucket else []
    return ["--date", day, "-q", *roots]


def materialize_command(days: Sequence[str]) -> list[str]:
    """One Feast call over the whole span, oldest first, so the newest values win online."""
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    return ["materialize", "--date", last.isoformat(), "--days", str((last - first).days + 1)]


class DailyContainerOperator(DockerOperator, LineageFromManifest):
    """DockerOperator whose image, network, memory, Docker host, data and credentials come from
    the worker's environment when the task runs; its XCom is the last JSON line it printed."""

    def __init__(self, *, image_variable: str, default_image: str, feast: bool, **kw: Any) -> None:
        super().__init__(image=default_image, **kw)
        self.image_variable = image_variable
        self.feast = feast

    def execute(self, context: Any) -> dict[str, Any]:  # type: ignore[override]
        from airflow.sdk.log import mask_secret  # task-time only: keeps parsing cheap
        from docker.types import Mount

        self.image = os.environ.get(self.image_variable) or self.image
        self.network_mode = os.environ.get("DAILY_SYNTHETIC_NETWORK") or self.network_mode
        self.mem_limit = os.environ.get("DAILY_SYNTHETIC_MEM_LIMIT") or self.mem_limit
        self.docker_url = os.environ.get("DOCKER_HOST") or self.docker_url
        env = {name: value for name in PUBLIC_ENV if (value := os.environ.get(name))}
        mounts = []
        local = os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA")
        if local:
            mounts.append(Mount(target=LOCAL_DATA_MOUNT, source=local, type="bind"))
        if self.feast:
            volume = os.environ.get("DAILY_SYNTHETIC_FEAST_VOLUME") or DEFAULT_FEAST_VOLUME
            mounts.append(Mount(target=FEAST_DATA_MOUNT, source=volume, type="volume"))
            bucket = env.get("RAW_BUCKET")
            data = LOCAL_DATA_MOUNT if local else (f"s3://{bucket}" if bucket else "")
            env["DAILY_SYNTHETIC_DATA"] = data
        self.environment = {**self.environment, **env}
        self.mounts = [*self.mounts, *mounts]
        secrets = {name: value for name in SECRET_ENV if (value := os.environ.get(name))}
        for name, value in secrets.items():
            mask_secret(value, name)
        self._private_environment = {**self._private_environment, **secrets}
        self.log.info(
            "container: image=%s network=%s env=%s credentials=%s",
            self.image, self.network_mode or "default", sorted(self.environment), sorted(secrets),
        )  # fmt: skip
        summary = last_json_object(super().execute(context), what="JSON summary")
        if not self.feast:  # the features manifest; Feast's summary names no dataset
            self.lineage_manifest = summary
        return summary


CONTAINER: dict[str, Any] = {
    "docker_url": None,
    "network_mode": None,
    "mem_limit": DEFAULT_MEM_LIMIT,
    "auto_remove": "force",
    "mount_tmp_dir": False,
    "force_pull": False,
    "tty": False,
    "do_xcom_push": True,
    "xcom_all": True,
}

with DAG(
    dag_id=DAG_ID,
    description="Features of each raw day (job image), then Feast materialize (Feast image)",
    schedule=[Asset.ref(name=RAW_FEED_NAME)],
    start_date=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # runs that overlap would race on the online store
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=5)},
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
    features = DailyContainerOperator.partial(
        task_id="features",
        image_variable="DAILY_SYNTHETIC_IMAGE",
        default_image=DEFAULT_JOB_IMAGE,
        feast=False,
        entrypoint=["payment-features"],
        **CONTAINER,
    ).expand(command=commands(days))
    materialize = DailyContainerOperator(
        task_id="materialize",
        image_variable="DAILY_SYNTHETIC_FEAST_IMAGE",
        default_image=DEFAULT_FEAST_IMAGE,
        feast=True,
        command=feast_command(days),
        outlets=[FEATURES],
        **CONTAINER,
    )
    features >> materialize
