"""
### daily_synthetic

One day of synthetic card payments per run, written as Parquet to S3 by the **job image**
(`daily-synthetic --date D --rows N`), launched with `DockerOperator`. The job's
dependencies (polars, mimesis, boto3) live in the image, not in Airflow.

**Which day.** The schedule is `CronDataIntervalTimetable("0 2 * * *", UTC)`: the run that
starts at 02:00 UTC on D+1 covers the interval [D 02:00, D+1 02:00) and its logical date
(`{{ ds }}`) is **D**, the day the run stands for. `airflow dags test daily_synthetic
2025-06-12` and a backfill of 2025-06-12 both produce day 2025-06-12. A manual run without a
logical date fails at once (no retries) instead of guessing a day.

**Params.** `rows` (1 ... 50 000 000, default 1 000 000) and `shards` (default 1). With
`shards=K > 1`, K job containers each write their slice (`--shard i/K`, i = 0..K-1) and a
final container (`--finalize --shards K`) writes the day's manifest. Re-running a day, with
any K, leaves exactly one copy of it.

**Outputs.** XCom `return_value` of `generate` / `finalize` is the job's manifest, parsed
(a dict); each `shard` pushes its shard manifest. The asset `daily_synthetic_raw` gets one
event per successful day, its `extra` is the same manifest (`uri`, `rows`, `date`, ...).

**Configuration** is read from the worker's environment when the task runs:
`DAILY_SYNTHETIC_IMAGE`, `DAILY_SYNTHETIC_NETWORK`, `DAILY_SYNTHETIC_MEM_LIMIT`,
`DOCKER_HOST`, and the pass-through `RAW_BUCKET`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (credentials only through
`private_environment`: never rendered, logged or stored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

# Cheap at parse time: Airflow and its docker provider only, no job dependencies, no I/O.
from airflow.providers.docker.exceptions import DockerContainerFailedException
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

DAG_ID = "daily_synthetic"
SCHEDULE_CRON = "0 2 * * *"
MAX_ROWS = 50_000_000  # the job's own maximum
MAX_SHARDS = 64
DEFAULT_IMAGE = "daily-synthetic-job:dev"
# Measured peak of the job container: ~0.5 GB for 1 M rows, ~1.5 GB for 10 M. Beyond ~25 M
# rows use shards or raise DAILY_SYNTHETIC_MEM_LIMIT. A cap, not a reservation.
DEFAULT_MEM_LIMIT = "4g"
OOM_EXIT_CODE = 137  # SIGKILL, in practice the kernel's OOM killer at mem_limit
DEFAULT_START_DATE = "2025-06-01"

# A name-based asset: its identity does not depend on the bucket of one environment.
# Where a given day landed is in each event's extra["uri"].
RAW_FEED = Asset(name="daily_synthetic_raw")

PUBLIC_ENV = ("RAW_BUCKET", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
MANIFEST_KEYS = frozenset({"rows", "uri", "date"})
# Exit codes that another try cannot fix: 2 bad arguments, 4 the day failed its data checks
# (the job is deterministic). Others (3 destination, 5 disk full, 6 incomplete day, signals)
# are retried.
NOT_RETRIED_EXIT_CODES = {2: "bad arguments", 4: "data check failed"}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

NO_LOGICAL_DATE = (
    "this run has no logical date, so there is no day to generate. Trigger it with a "
    "logical date (the day to generate), e.g. `airflow dags trigger daily_synthetic "
    "--logical-date 2025-06-12T00:00:00+00:00`, or backfill the day."
)


# Template-field callables: Airflow calls them while rendering, i.e. on the worker when the
# task runs, so the worker's environment counts and the result shows in "Rendered Templates".
def image_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    """The job image: DAILY_SYNTHETIC_IMAGE, else the local dev tag."""
    return os.environ.get("DAILY_SYNTHETIC_IMAGE") or DEFAULT_IMAGE


def public_env_from_env(context: Mapping[str, Any], jinja_env: Any) -> dict[str, str]:
    """The non-secret pass-through variables that are set (and non-empty) on the worker."""
    return {name: value for name in PUBLIC_ENV if (value := os.environ.get(name))}


def secret_env_from_env() -> dict[str, str]:
    """AWS credentials that are set on the worker; they go to private_environment only."""
    return {name: value for name in SECRET_ENV if (value := os.environ.get(name))}


def day_of(command: Sequence[str]) -> str:
    """The value after --date in a rendered command; fails the task (no retry) if unusable."""
    args = list(command)
    value = args[args.index("--date") + 1] if "--date" in args[:-1] else ""
    if not value:
        raise AirflowFailException(NO_LOGICAL_DATE)
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError(value)
        dt.date.fromisoformat(value)
    except ValueError:
        raise AirflowFailException(f"--date must be a date YYYY-MM-DD, got {value!r}") from None
    return value


def parse_manifest(output: Sequence[str] | str | None) -> dict[str, Any]:
    """The job's manifest: the last output line that is a JSON object with rows, uri, date.

    stdout (the manifest is its last line) and stderr (logs) reach us as one stream, so
    scanning from the end also copes with a log line that overtakes the manifest.
    """
    lines = [output] if isinstance(output, str) else list(output or [])
    for line in reversed(lines):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict) and candidate.keys() >= MANIFEST_KEYS:
            return candidate
    tail = lines[-1] if lines else "<no output>"
    raise AirflowException(f"the job printed no JSON manifest; its last line was {tail!r}")


class DailySyntheticJobOperator(DockerOperator):
    """DockerOperator for the job image.

    * image, network, memory limit, Docker host and pass-through variables come from the
      worker's environment when the task runs;
    * AWS credentials only via private_environment, and registered with the secrets masker;
    * the XCom is the job's manifest, parsed; with an asset outlet, it is the event's extra;
    * exit codes 2 (bad arguments) and 4 (data check failed) fail the task without retries.
    """

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        # Airflow 3 allows runs without a logical date; then `ds` is undefined, rendering
        # fails and would be retried twice. Fail once, with the reason, instead.
        if context.get("ds") is None:
            raise AirflowFailException(NO_LOGICAL_DATE)
        super().render_template_fields(context, jinja_env)

    # Returns the parsed manifest instead of DockerOperator's raw line(s): the XCom is a dict.
    def execute(self, context: Any) -> dict[str, Any]:  # type: ignore[override]
        from airflow.sdk.log import mask_secret  # task-time only: keeps parsing cheap

        day_of(self.command or [])  # never start a container with an empty --date

        self.network_mode = os.environ.get("DAILY_SYNTHETIC_NETWORK") or self.network_mode
        self.mem_limit = os.environ.get("DAILY_SYNTHETIC_MEM_LIMIT") or self.mem_limit
        self.docker_url = os.environ.get("DOCKER_HOST") or self.docker_url
        secrets = secret_env_from_env()
        for name, value in secrets.items():
            mask_secret(value, name)
        # DockerOperator keeps private_environment out of templates, rendering and the UI.
        self._private_environment = {**self._private_environment, **secrets}
        ti = context["ti"]
        # Labels find a container again if a worker dies mid-run (docker ps --filter label=...).
        self.labels = {
            "io.daily-synthetic.dag_id": str(ti.dag_id),
            "io.daily-synthetic.run_id": str(ti.run_id),
            "io.daily-synthetic.task_id": str(ti.task_id),
            "io.daily-synthetic.map_index": str(ti.map_index),
        }
        self.log.info(
            "job container: image=%s network=%s mem_limit=%s env=%s credentials=%s",
            self.image,
            self.network_mode or "default",
            self.mem_limit,
            sorted(self.environment),
            sorted(secrets),  # names only
        )
        try:
            output = super().execute(context)
        except DockerContainerFailedException as exc:
            raise self._explain(exc) from exc
        manifest = parse_manifest(output)
        if RAW_FEED in self.outlets:
            context["outlet_events"][RAW_FEED].extra.update(manifest)
        return manifest

    @staticmethod
    def _explain(exc: DockerContainerFailedException) -> AirflowException:
        """A clear error from the job's one-line `...error: ...` message and its exit code."""
        match = re.search(r"'StatusCode': (\d+)", str(exc))
        code = int(match.group(1)) if match else None
        logs = [str(line) for line in (exc.logs or [])]
        reason = next((line for line in reversed(logs) if "error:" in line), None)
        message = f"daily-synthetic exited with {code}: {reason or 'see the container log above'}"
        if code == OOM_EXIT_CODE:
            message += " (killed: out of memory? raise DAILY_SYNTHETIC_MEM_LIMIT or use shards)"
        if code in NOT_RETRIED_EXIT_CODES:
            return AirflowFailException(f"{message} ({NOT_RETRIED_EXIT_CODES[code]}, not retried)")
        return AirflowException(message)


# Shared by generate, shard and finalize.
JOB_CONTAINER: dict[str, Any] = {
    "image": image_from_env,
    "environment": public_env_from_env,
    "docker_url": None,  # DOCKER_HOST, else the local socket (resolved again at run time)
    "network_mode": None,  # DAILY_SYNTHETIC_NETWORK at run time, else Docker's default bridge
    "mem_limit": DEFAULT_MEM_LIMIT,
    "auto_remove": "force",  # remove the container whether the job succeeded or not
    "mount_tmp_dir": False,  # the job writes straight to S3; no host scratch dir needed
    "force_pull": False,  # the image is built locally or pre-pulled by the deployment
    "tty": False,  # keep stdout lines intact: the last one is the manifest
    "do_xcom_push": True,
    # Hand every output line to execute(), which keeps only the manifest as the XCom.
    "xcom_all": True,
    # The job's log is a few lines per run; bound the engine's copy anyway.
    "log_opts_max_size": "10m",
    "log_opts_max_file": "3",
}

BASE_COMMAND = ["--date", "{{ ds }}", "--rows", "{{ params.rows }}"]


def _start_date() -> dt.datetime:
    # The first day catch-up creates. Parse-time setting: it shapes the schedule itself.
    day = dt.date.fromisoformat(os.environ.get("DAILY_SYNTHETIC_START_DATE") or DEFAULT_START_DATE)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


with DAG(
    dag_id=DAG_ID,
    description="One day of synthetic card payments as Parquet on S3 (job image via Docker)",
    # Data-interval semantics on purpose: the 02:00 run on D+1 stands for day D = {{ ds }}.
    schedule=CronDataIntervalTimetable(SCHEDULE_CRON, timezone="UTC"),
    start_date=_start_date(),
    catchup=True,
    max_active_runs=1,
    params={
        "rows": Param(
            1_000_000,
            type="integer",
            minimum=1,
            maximum=MAX_ROWS,
            title="Rows",
            description=f"Rows to generate for the day (1 ... {MAX_ROWS:,}).",
        ),
        "shards": Param(
            1,
            type="integer",
            minimum=1,
            maximum=MAX_SHARDS,
            title="Shards",
            description="Job containers to split the day over; 1 = a single container.",
        ),
    },
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "email_on_failure": False,
        "email_on_retry": False,
    },
    tags=["data-gen"],
    doc_md=__doc__,
) as dag:

    @task.branch
    def choose_path(params: dict[str, Any] | None = None) -> str:
        """One container for shards=1, else K shard containers plus a finalize step."""
        shards = int((params or {})["shards"])
        return "generate" if shards == 1 else "plan_shards"

    @task
    def plan_shards(ds: str | None = None, params: dict[str, Any] | None = None) -> list[list[str]]:
        """One job command per shard. Mapped values are not templated, so resolve them here."""
        day = day_of(["--date", ds or ""])
        rows, shards = int((params or {})["rows"]), int((params or {})["shards"])
        return [
            ["--date", day, "--rows", str(rows), "--shard", f"{i}/{shards}"] for i in range(shards)
        ]

    route = choose_path()

    generate = DailySyntheticJobOperator(
        task_id="generate",
        command=BASE_COMMAND,
        outlets=[RAW_FEED],
        **JOB_CONTAINER,
    )

    commands = plan_shards()
    shard = DailySyntheticJobOperator.partial(task_id="shard", **JOB_CONTAINER).expand(
        command=commands
    )
    finalize = DailySyntheticJobOperator(
        task_id="finalize",
        command=[*BASE_COMMAND, "--finalize", "--shards", "{{ params.shards }}"],
        outlets=[RAW_FEED],
        **JOB_CONTAINER,
    )

    route >> [generate, commands]
    shard >> finalize
