"""What every launcher of a job container shares, whatever runs it (Docker, ECS, Kubernetes).

* A `Job` names what runs: the image (and its variable), the entrypoint, the memory and
  scratch it needs, the result it prints. `DAILY_JOB` is daily_synthetic's container; the
  payment_features DAG runs `FEATURES_JOB` and `MATERIALIZE_JOB` through the same launchers.

* Settings come from the worker's environment when the task runs, through template-field
  callables: Airflow calls them while rendering, so the worker's values count and show in
  "Rendered Templates". Credentials are the one exception: never rendered (see
  `WorkerCredentials`), and only the docker launcher passes any (ECS and Kubernetes use the
  task role / IRSA).
* The XCom is the job's manifest, parsed; with the asset outlet it is also the event's extra.
* One exit-code policy: `explain()` turns the job's exit code into the task's error, and
  decides whether another try can help.
* The task's `execution_timeout` grows with `rows`; the job's own deadline is a minute
  shorter, so it stops cleanly (exit 8) before Airflow kills it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from airflow.sdk import Asset, BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from daily_synthetic_job import limits, metrics
from daily_synthetic_job.lineage import LineageFromManifest

DEFAULT_IMAGE = "daily-synthetic-job:dev"
DEFAULT_FEAST_IMAGE = "daily-synthetic-feast:dev"
# The job container's cap for days up to about 12.6 M rows (docs/performance.md measures its
# peak); a larger day's containers get more (limits.job_memory_mib), shards or not: every
# slice holds the day's fraud plan. A cap, not a reservation.
DEFAULT_MEM_LIMIT = "4g"
# The job stops within 2 s of SIGTERM (it aborts its uploads); the launcher waits this long
# before it kills. Docker's own default (10 s) and ECS's (30 s) are replaced by this value.
STOP_GRACE_SECONDS = 30
# execution_timeout = BASE + PER_MILLION per started million rows; the job's deadline
# (DAILY_SYNTHETIC_DEADLINE, seconds) is DEADLINE_MARGIN shorter.
TIMEOUT_BASE = dt.timedelta(minutes=10)
TIMEOUT_PER_MILLION = dt.timedelta(minutes=1)
DEADLINE_MARGIN = dt.timedelta(minutes=1)

# A name-based asset: its identity does not depend on the bucket of one environment.
# Where a given day landed is in each event's extra["uri"].
RAW_FEED = Asset(name="daily_synthetic_raw")

PUBLIC_ENV = (
    "RAW_BUCKET", "FEATURES_BUCKET", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "DAILY_SYNTHETIC_LABELS_DEST", "DAILY_SYNTHETIC_REPORTS_DEST",
)  # fmt: skip
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
DEADLINE_ENV = "DAILY_SYNTHETIC_DEADLINE"
MANIFEST_KEYS = frozenset({"rows", "uri", "date"})
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MEMORY_RE = re.compile(r"(\d+)\s*([kmg]?)b?", re.IGNORECASE)

NO_LOGICAL_DATE = (
    "this run has no logical date, so there is no day to generate. Trigger it with a "
    "logical date (the day to generate), e.g. `airflow dags trigger daily_synthetic "
    "--logical-date 2025-06-12T00:00:00+00:00`, or backfill the day."
)


@dataclass(frozen=True)
class ExitPolicy:
    meaning: str
    retried: bool
    action: str = ""


# The job's exit codes (its own contract). Not retried: what another try cannot change.
EXIT_CODES: dict[int, ExitPolicy] = {
    2: ExitPolicy("bad arguments", retried=False),
    3: ExitPolicy("destination error", retried=True),
    4: ExitPolicy("data check failed", retried=False, action="the job is deterministic"),
    5: ExitPolicy("disk full", retried=True),
    6: ExitPolicy("incomplete day at finalize", retried=True, action="re-run the missing shards"),
    7: ExitPolicy(
        "another run holds the day's lease", retried=True, action="retried after retry_delay"
    ),
    8: ExitPolicy(
        "the run's deadline passed",
        retried=True,
        action="S3 too slow, or too many rows for one container: use shards",
    ),
    9: ExitPolicy(
        "out of memory",
        retried=False,
        action="raise DAILY_SYNTHETIC_MEM_LIMIT (or the ECS task / pod memory) or use shards",
    ),
    130: ExitPolicy("interrupted by SIGINT", retried=True),
    143: ExitPolicy("stopped by SIGTERM", retried=True),
    137: ExitPolicy("killed (SIGKILL)", retried=True),
}
# The kernel's OOM killer at the container's memory cap, as the launcher reports it.
OOM_KILLED = ExitPolicy(
    "killed: out of memory at the container's cap", retried=False, action=EXIT_CODES[9].action
)


# --- what runs: a Job ---------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One kind of container a DAG runs; every launcher turns it into the same run.

    Its methods `image`, `environment` and `mem_limit` are template-field callables: Airflow
    calls them while rendering, on the worker, so the worker's settings count and show in
    "Rendered Templates".
    """

    name: str  # container (ECS: in the task definition), pod and task-definition name
    image_variable: str = "DAILY_SYNTHETIC_IMAGE"
    default_image: str = DEFAULT_IMAGE
    entrypoint: tuple[str, ...] = ()  # empty: the image's own
    default_mem_limit: str = DEFAULT_MEM_LIMIT
    memory_follows_rows: bool = False  # the cap grows for large days (limits.job_memory_mib)
    result_keys: frozenset[str] = MANIFEST_KEYS  # what its last JSON line must hold
    what: str = "JSON manifest"
    # Days of `rows` rows that its /tmp holds at once; 0: no sized scratch (/tmp stays in the
    # container's own writable layer).
    scratch_days: int = 1
    timeout_scale: int = 1  # execution_timeout = job_timeout(rows) * timeout_scale
    deadline: bool = True  # the command reads DAILY_SYNTHETIC_DEADLINE
    needs_logical_date: bool = True  # rendered from {{ ds }}: no logical date, no run
    read_only_root: bool = True  # verified for the job image (ECS and Kubernetes run it so)
    feast: bool = False  # the Feast image: its data and store (docker: a volume)
    features: bool = False  # writes or reads the features dataset (docker: its local folder)

    def image(self, context: Mapping[str, Any], jinja_env: Any) -> str:
        return os.environ.get(self.image_variable) or self.default_image

    def mem_limit(self, context: Mapping[str, Any], jinja_env: Any) -> str:
        """The container's memory cap (Docker syntax, e.g. 4g): DAILY_SYNTHETIC_MEM_LIMIT,
        else the default, or more for a day whose rows need it."""
        chosen = os.environ.get("DAILY_SYNTHETIC_MEM_LIMIT")
        if chosen:
            return chosen
        if self.memory_follows_rows:
            need = limits.job_memory_mib(rows_of(context))
            if need > memory_mib(self.default_mem_limit):
                return f"{need}m"
        return self.default_mem_limit

    def environment(self, context: Mapping[str, Any], jinja_env: Any) -> dict[str, str]:
        """The set, non-secret pass-through variables, the job's deadline, Feast's data root."""
        env = {name: value for name in PUBLIC_ENV if (value := os.environ.get(name))}
        if self.deadline:
            env[DEADLINE_ENV] = str(deadline_seconds(rows_of(context)))
        if self.feast:
            env["DAILY_SYNTHETIC_DATA"] = feast_data_root()
            env["DAILY_SYNTHETIC_FEATURES"] = features_root()
        return env

    def scratch_mib(self, context: Mapping[str, Any]) -> int:
        return limits.scratch_mib(rows_of(context), self.scratch_days)

    def timeout(self, rows: int) -> dt.timedelta:
        return job_timeout(rows) * self.timeout_scale


LOCAL_DATA_MOUNT = "/data"  # where DAILY_SYNTHETIC_LOCAL_DATA appears in the containers
# Where the features' local folder appears: a mount of its own, since the features dataset
# is never inside the raw feed's root (a `**/*.parquet` reader of the feed would read it).
LOCAL_FEATURES_MOUNT = "/features"
FEATURES_BUCKET_UNSET = (
    "FEATURES_BUCKET is not set: the features dataset needs a bucket of its own (never "
    "inside the raw feed's root). Set FEATURES_BUCKET on the worker, or "
    "DAILY_SYNTHETIC_LOCAL_DATA for a local folder"
)


def feast_data_root() -> str:
    """The raw feed's root as the containers see it: the local folder's mount, else the bucket."""
    if os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA"):
        return LOCAL_DATA_MOUNT
    bucket = os.environ.get("RAW_BUCKET", "").strip()
    return f"s3://{bucket}" if bucket else ""


def local_features_dir() -> str:
    """The host folder of the features with DAILY_SYNTHETIC_LOCAL_DATA: DAILY_SYNTHETIC_LOCAL_FEATURES,
    else `features` beside the raw folder (as payment-features' own default)."""
    if folder := os.environ.get("DAILY_SYNTHETIC_LOCAL_FEATURES", "").strip():
        return folder
    raw = PurePosixPath(os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA", "."))
    return str(raw.parent / "features")


def features_root() -> str:
    """Where payment_features writes the features (--dest) and the Feast image reads them:
    one value for both, so that neither relies on the other's default. A root of its own:
    the local features folder's mount, else `s3://$FEATURES_BUCKET`; "" when that is unset."""
    if os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA"):
        return LOCAL_FEATURES_MOUNT
    bucket = os.environ.get("FEATURES_BUCKET", "").strip()
    return f"s3://{bucket}" if bucket else ""


DAILY_JOB = Job(name="daily-synthetic-job", memory_follows_rows=True)
# payment-features reads the day and FEATURE_HISTORY_DAYS before it: its scratch holds them
# all. Its time is not measured at full size yet: three times the generator's, generously.
FEATURES_JOB = Job(
    name="daily-synthetic-features",
    entrypoint=("payment-features",),
    default_mem_limit="8g",  # 38 days of 1 M payments go through it: a cap, not a reservation
    result_keys=frozenset({"rows", "uri", "date"}),
    scratch_days=limits.FEATURE_HISTORY_DAYS + 1,
    timeout_scale=3,
    deadline=False,
    needs_logical_date=False,  # asset-triggered runs have none; the day is in the command
    features=True,
)
MATERIALIZE_JOB = Job(
    name="daily-synthetic-feast",
    image_variable="DAILY_SYNTHETIC_FEAST_IMAGE",
    default_image=DEFAULT_FEAST_IMAGE,
    default_mem_limit="8g",
    result_keys=frozenset(),
    what="JSON summary",
    timeout_scale=3,
    deadline=False,
    needs_logical_date=False,
    # Feast's own writes (registry cache, DuckDB's temporary files) are not mapped or measured
    # yet: its root stays writable and its /tmp unsized.
    read_only_root=False,
    scratch_days=0,
    feast=True,
    features=True,
)


# --- settings from the worker's environment (template-field callables) ---------------------

# daily_synthetic's, kept by name: docs and tests refer to them.
image_from_env = DAILY_JOB.image
mem_limit_from_env = DAILY_JOB.mem_limit
job_env = DAILY_JOB.environment


class WorkerCredentials(Mapping[str, str]):
    """The AWS credentials set on the worker, read when the launcher starts the container.

    Handed to the provider as its (public) private_environment argument: a mapping that is
    read only when the container is created, so nothing is read at parse time and nothing
    is rendered, logged or stored.
    """

    def __init__(self, names: Sequence[str] = SECRET_ENV) -> None:
        self.names = tuple(names)

    def __getitem__(self, name: str) -> str:
        value = os.environ.get(name) if name in self.names else None
        if not value:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in self.names if os.environ.get(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:  # the provider replaces a falsy argument with {}
        return True

    def mask(self) -> list[str]:
        """Register the values with the secrets masker; return the names that are set."""
        from airflow.sdk.log import mask_secret  # task-time only: keeps parsing cheap

        for name, value in self.items():
            mask_secret(value, name)
        return sorted(self)


# --- rows, time and memory -------------------------------------------------------------------


def rows_of(context: Mapping[str, Any]) -> int:
    """The rows a run's containers handle: the day's (daily_synthetic) or each raw day's."""
    return int(context["params"]["rows"])


def job_timeout(rows: int) -> dt.timedelta:
    """The task's execution_timeout: generous, and growing with the rows of the day."""
    return TIMEOUT_BASE + TIMEOUT_PER_MILLION * math.ceil(rows / 1_000_000)


def deadline_seconds(rows: int) -> int:
    """The job's own deadline: a minute before Airflow would kill it."""
    return int((job_timeout(rows) - DEADLINE_MARGIN).total_seconds())


def memory_mib(limit: str) -> int:
    """A Docker-style memory cap (`4g`, `1536m`, `512MB`) in MiB, for ECS and Kubernetes."""
    match = _MEMORY_RE.fullmatch(limit.strip())
    if not match:
        raise AirflowFailException(
            f"DAILY_SYNTHETIC_MEM_LIMIT must be like 4g or 1536m, got {limit!r}"
        )
    number, unit = int(match.group(1)), match.group(2).lower()
    scale = {"g": 1024, "m": 1, "k": 1 / 1024, "": 1 / 1024**2}[unit]
    return max(1, math.ceil(number * scale))


# --- the command, the manifest and the exit code ---------------------------------------------


def day_of(command: Sequence[str]) -> str:
    """The value after --date in a rendered command; fails the task (no retry) if unusable."""
    args = list(command)
    value = args[args.index("--date") + 1] if "--date" in args[:-1] else ""
    if not value:
        raise AirflowFailException(NO_LOGICAL_DATE)
    try:
        if not DATE_RE.fullmatch(value):
            raise ValueError(value)
        dt.date.fromisoformat(value)
    except ValueError:
        raise AirflowFailException(f"--date must be a date YYYY-MM-DD, got {value!r}") from None
    return value


def last_json_object(
    output: Sequence[str] | str | None,
    keys: frozenset[str] = frozenset(),
    what: str = "JSON object",
) -> dict[str, Any]:
    """The last output line that is a JSON object holding `keys`.

    stdout (the summary is its last line) and stderr (logs) reach us as one stream, so
    scanning from the end also copes with a log line that overtakes it.
    """
    lines = [output] if isinstance(output, str) else list(output or [])
    for line in reversed(lines):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict) and candidate.keys() >= keys:
            return candidate
    tail = lines[-1] if lines else "<no output>"
    raise AirflowException(f"the container printed no {what}; its last line was {tail!r}")


def parse_manifest(output: Sequence[str] | str | None) -> dict[str, Any]:
    """The job's manifest: the last output line that is a JSON object with rows, uri, date."""
    return last_json_object(output, MANIFEST_KEYS, "JSON manifest")


def explain(code: int, logs: Sequence[Any] | None, *, oom_killed: bool = False) -> AirflowException:
    """The task's error for a job that exited with `code`: its one-line reason and what to do.

    AirflowFailException (no retry) where another try cannot help, else AirflowException.
    """
    lines = [line.decode() if isinstance(line, bytes) else str(line) for line in logs or []]
    reason = next((line for line in reversed(lines) if "error:" in line), None)
    policy = OOM_KILLED if oom_killed else EXIT_CODES.get(code)
    message = f"daily-synthetic exited with {code}: {reason or 'see the container log above'}"
    if policy is None:
        return AirflowException(message)
    details = "; ".join(filter(None, [policy.meaning, policy.action]))
    if not policy.retried:
        return AirflowFailException(f"{message} ({details}; not retried)")
    return AirflowException(f"{message} ({details})")


class JobTask(BaseOperator, LineageFromManifest):
    """Mixed in before a provider's operator: what every launcher's task does the same way.

    `job` (a key of JOBS, so that mapped tasks serialise it as a string) says what runs.
    """

    job: Job
    started: float | None = None

    def __init__(self, *, job: str = DAILY_JOB.name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = JOBS[job]

    # The hook for both paths: a task's render_template_fields, and a mapped task's, which
    # renders its expanded copy through this method and never calls the copy's own
    # render_template_fields.
    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Any,
        context: Any,
        jinja_env: Any,
        seen_oids: set[int],
    ) -> None:
        top = parent is self  # not a nested object being rendered
        # Airflow 3 allows runs without a logical date; then `ds` is undefined, rendering
        # fails and would be retried twice. Fail once, with the reason, instead.
        if top and self.job.needs_logical_date and context.get("ds") is None:
            raise AirflowFailException(NO_LOGICAL_DATE)
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
        if top:
            # Params are known only now; the task runner reads the timeout after rendering.
            self.execution_timeout = self.job.timeout(rows_of(context))
            self.after_render(context)

    def after_render(self, context: Any) -> None:
        """What a launcher derives from the rendered fields and the params (sizes, overrides)."""

    def start_clock(self) -> None:
        self.started = time.monotonic()

    def publish(self, context: Any, output: Sequence[str] | str | None) -> dict[str, Any]:
        """The result as the XCom; with the run's metrics, the extra of every asset outlet."""
        result = last_json_object(output, self.job.result_keys, self.job.what)
        if not self.job.feast:  # a manifest; Feast's summary names no dataset
            self.lineage_manifest = result  # OpenLineage facets come from it (lineage.py)
        seconds = time.monotonic() - self.started if self.started is not None else None
        run = metrics.run_metrics(result, seconds)
        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                event = context["outlet_events"][outlet]
                event.extra.update(result)
                event.extra["metrics"] = run
        metrics.emit(self.dag_id, self.task_id, run)
        return result


def container_labels(context: Mapping[str, Any], jinja_env: Any) -> dict[str, str]:
    """Labels that find the container (or pod) of a task again, e.g. after a worker died."""
    ti = context["ti"]
    return {
        "io.daily-synthetic.dag_id": str(ti.dag_id),
        "io.daily-synthetic.run_id": str(ti.run_id),
        "io.daily-synthetic.task_id": str(ti.task_id),
        "io.daily-synthetic.map_index": str(ti.map_index),
    }


REPORTS_DEST_ENV = "DAILY_SYNTHETIC_REPORTS_DEST"  # where the report pages go (daily-report --dest)
# The day's report page (daily-report, from the job image): reads the published days and
# writes one HTML file beside the datasets. It keeps aggregates only: no sized scratch.
REPORT_JOB = Job(
    name="daily-synthetic-report",
    entrypoint=("daily-report",),
    result_keys=frozenset({"uri", "date"}),
    what="JSON summary",
    scratch_days=1,
    deadline=False,
)
JOBS: dict[str, Job] = {
    job.name: job for job in (DAILY_JOB, FEATURES_JOB, MATERIALIZE_JOB, REPORT_JOB)
}
