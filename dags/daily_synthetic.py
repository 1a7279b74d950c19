"""
### daily_synthetic

One day of synthetic card payments per run, written as Parquet to S3 by the **job image**
(`daily-synthetic --date D --rows N`). `DAILY_SYNTHETIC_LAUNCHER` picks what runs it:
`docker` (DockerOperator, the default), `ecs` (EcsRunTaskOperator) or `kubernetes`
(KubernetesPodOperator); same image, command, environment, memory, manifest and exit-code
policy for all three. The job's dependencies (polars, mimesis, boto3) live in the image.

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

**Time.** Each job task's `execution_timeout` is 10 min + 1 min per started million rows;
the job gets a deadline one minute shorter (`DAILY_SYNTHETIC_DEADLINE`, exit 8). Exit 7
(another run holds the day's lease) is retried; 2, 4 and 9 (out of memory) are not.

**Alerts.** A task that fails for good posts one line (task, day, try, the job's reason and
the day's state, the runbook section) to the webhook of the Airflow connection
`daily_synthetic_alerts`; a day not published by 06:00 UTC the morning after posts one too
(the `daily_synthetic_freshness` DAG). Without the connection the line is only logged.
Rows, bytes, objects and the container's wall time go into the asset event's
`extra["metrics"]` and out as `daily_synthetic.*` metrics (Airflow's `[metrics]` settings).

**Configuration** is read from the worker's environment when the task runs:
`DAILY_SYNTHETIC_IMAGE`, `DAILY_SYNTHETIC_MEM_LIMIT`, the pass-through `RAW_BUCKET`,
`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, and each launcher's own settings (see the modules
of `daily_synthetic_job/`). AWS keys are passed by the docker launcher only, and never
rendered, logged or stored; ECS and Kubernetes use the task role / IRSA.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

# Cheap at parse time: Airflow, and (through daily_synthetic_job) the chosen launcher's
# provider only; no job dependencies, no I/O. dags/ is on sys.path, so the package resolves.
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from daily_synthetic_job import alerts
from daily_synthetic_job.launchers import load_launcher
from daily_synthetic_job.limits import MAX_ROWS, MAX_SHARDS
from daily_synthetic_job.policy import RAW_FEED, REPORT_JOB, REPORTS_DEST_ENV, day_of

DAG_ID = "daily_synthetic"
SCHEDULE_CRON = "0 2 * * *"
DEFAULT_START_DATE = "2025-06-01"
LAUNCHER = load_launcher()  # DAILY_SYNTHETIC_LAUNCHER: docker (default), ecs or kubernetes

BASE_COMMAND = ["--date", "{{ ds }}", "--rows", "{{ params.rows }}"]


def _start_date() -> dt.datetime:
    # The first day catch-up creates. Parse-time setting: it shapes the schedule itself.
    day = dt.date.fromisoformat(os.environ.get("DAILY_SYNTHETIC_START_DATE") or DEFAULT_START_DATE)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


with DAG(
    dag_id=DAG_ID,
    description=f"One day of synthetic card payments as Parquet on S3 (job image via {LAUNCHER.description})",
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
    default_args=alerts.default_args(),  # 2 retries 5 min apart; the webhook, not e-mail
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

    generate = LAUNCHER.operator(
        task_id="generate", command=BASE_COMMAND, outlets=[RAW_FEED], **LAUNCHER.container
    )

    commands = plan_shards()
    shard = LAUNCHER.operator.partial(task_id="shard", **LAUNCHER.container).expand(
        command=commands
    )
    finalize = LAUNCHER.operator(
        task_id="finalize",
        command=[*BASE_COMMAND, "--finalize", "--shards", "{{ params.shards }}"],
        outlets=[RAW_FEED],
        **LAUNCHER.container,
    )

    # The day's report page, once the day is published (whichever path published it), when
    # DAILY_SYNTHETIC_REPORTS_DEST names where pages go (never inside a dataset's root).
    @task.short_circuit(trigger_rule="none_failed_min_one_success")
    def reports_configured() -> bool:
        """The report step runs where DAILY_SYNTHETIC_REPORTS_DEST is set (on the worker)."""
        return bool(os.environ.get(REPORTS_DEST_ENV, "").strip())

    report = LAUNCHER.operator(
        task_id="report", command=["--date", "{{ ds }}"], **LAUNCHER.run(REPORT_JOB)
    )

    route >> [generate, commands]
    shard >> finalize
    [generate, finalize] >> reports_configured() >> report
