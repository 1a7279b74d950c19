"""The local compose stack, end to end, the way a developer and the scheduler use it.

`make airflow-up-minimal` (and `make airflow-up` for the full Celery stack) builds what is
missing and starts the stack under a project name, ports and credentials of this test's own,
so a developer's stack is left alone. Then, through Airflow's REST API v2 with a JWT from
/auth/token: a run of daily_synthetic with a logical date and a small `rows` conf; and through
`make airflow-trigger`, a backfill run of the next day. Each must succeed, its manifest (XCom)
must name the objects, and the stack's S3 store (boto3 on 127.0.0.1) must hold them with the
rows asked for. Last, `make airflow-down` must leave nothing of the stack running.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "daily_synthetic"
# Days inside the DAG's default schedule window (its start date is 2025-06-01).
RUN_DAY, RUN_ROWS = "2025-06-12", 2_000
BACKFILL_DAY, BACKFILL_ROWS = "2025-06-13", 1_500
UP_TIMEOUT = 1_200  # s; includes building the images on a cold machine
RUN_TIMEOUT = 420  # s; one small day is ~10-20 s once a worker picks it up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stack:
    profile: str
    env: dict[str, str]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['AIRFLOW_PORT']}"

    @property
    def project(self) -> str:
        return self.env["COMPOSE_PROJECT_NAME"]

    def make(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a make target against this stack; its output is shown if it fails."""
        proc = subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert proc.returncode == 0, f"make {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def leftovers(self) -> list[str]:
        """Containers, network and job containers of this stack that still exist."""
        found = []
        for what, cmd in {
            "container": [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
            ],
            "network": ["docker", "network", "ls", "-q", "--filter", f"name=^{self.project}-net$"],
            "job container": ["docker", "ps", "-aq", "--filter", f"network={self.project}-net"],
        }.items():
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            found += [f"{what} {item}" for item in out]
        return found


def stack_env(profile: str) -> dict[str, str]:
    """This test's own stack: project name, loopback ports and credentials (shell wins over .env)."""
    return {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"ds-e2e-{profile}-{os.getpid()}",
        "AIRFLOW_PORT": str(free_port()),
        "S3_PORT": str(free_port()),
        "AIRFLOW_ADMIN_USER": "e2e-admin",
        "AIRFLOW_ADMIN_PASSWORD": f"e2e-password-{os.getpid()}",
        "AWS_ACCESS_KEY_ID": "e2e-access-key-0123",
        "AWS_SECRET_ACCESS_KEY": f"e2e-secret-key-{os.getpid()}",
        "RAW_BUCKET": "e2e-raw",
        "AIRFLOW_USE_JOB_SCHEDULE": "false",  # only the runs this test asks for
        "DAILY_SYNTHETIC_START_DATE": "",  # the DAG's own start date
    }


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The stack of one profile; removed with its volumes whatever the test's outcome."""
    profile: str = request.param
    running = Stack(profile, stack_env(profile))
    try:
        yield running
    finally:
        subprocess.run(
            ["make", "--no-print-directory", "airflow-clean"],
            cwd=REPO,
            env=running.env,
            capture_output=True,
            timeout=300,
            check=False,
        )


class Api:
    """Airflow's REST API v2 with a JWT from the simple auth manager's /auth/token."""

    def __init__(self, stack: Stack) -> None:
        self.base = stack.api
        body = self.call(
            "POST",
            "/auth/token",
            {
                "username": stack.env["AIRFLOW_ADMIN_USER"],
                "password": stack.env["AIRFLOW_ADMIN_PASSWORD"],
            },
            auth=False,
        )
        self.token: str = body["access_token"]

    def call(self, method: str, path: str, payload: Any = None, *, auth: bool = True) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the test's own stack on 127.0.0.1)
            self.base + path,
            method=method,
            data=None if payload is None else json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from error

    def wait_for_dag(self, timeout: float = 180) -> None:
        """Until the dag-processor has parsed daily_synthetic, without import errors."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.call("GET", "/api/v2/importErrors")["import_errors"]
            ours = [e for e in errors if e["filename"].endswith("daily_synthetic.py")]
            assert not ours, f"import errors: {ours}"
            try:
                self.call("GET", f"/api/v2/dags/{DAG_ID}")
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def wait_for_run(self, run_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in {"success", "failed"}:
                break
            assert time.monotonic() < deadline, (
                f"run {run_id} still {run['state']} after {timeout} s"
            )
            time.sleep(3)
        if run["state"] != "success":
            tis = self.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
            states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
            pytest.fail(f"run {run_id} {run['state']}: tasks {states}")
        return run

    def manifest(self, run_id: str) -> dict[str, Any]:
        """The job's manifest, which the generate task pushes as its return value."""
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/generate/xcomEntries/return_value"
        value = self.call("GET", path)["value"]
        return value if isinstance(value, dict) else json.loads(value)


def s3_rows(stack: Stack, day: str) -> tuple[set[str], int]:
    """Parquet keys of the day in the stack's S3 store, and their rows in total."""
    year, month, dom = (int(part) for part in day.split("-"))  # unpadded partition values
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.env['S3_PORT']}",
        region_name="us-east-1",
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = stack.env["RAW_BUCKET"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"year={year}/month={month}/day={dom}/")
    keys = {obj["Key"] for obj in listed.get("Contents", []) if obj["Key"].endswith(".parquet")}
    rows = 0
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        rows += pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
    return keys, rows


def profiles() -> list[Any]:
    """minimal always; full once uv.lock has what CeleryExecutor and postgres need in the image."""
    lock = (REPO / "uv.lock").read_text()
    needed = ["apache-airflow-providers-celery", "apache-airflow-providers-postgres"]
    missing = [name for name in needed if f'name = "{name}"' not in lock]
    skip_full = pytest.mark.skipif(
        bool(missing), reason=f"uv.lock has no {', '.join(missing)} (airflow group) yet"
    )
    return ["minimal", pytest.param("full", marks=skip_full)]


@pytest.mark.parametrize("stack", profiles(), indirect=True)
def test_stack_runs_a_day_and_stops_clean(stack: Stack) -> None:
    target = "airflow-up" if stack.profile == "full" else "airflow-up-minimal"
    started = time.monotonic()
    stack.make(target, timeout=UP_TIMEOUT)
    print(f"{target}: healthy after {time.monotonic() - started:.0f} s")

    health = json.loads(urllib.request.urlopen(f"{stack.api}/api/v2/monitor/health").read())  # noqa: S310
    assert {name: part["status"] for name, part in health.items()} == dict.fromkeys(
        ["metadatabase", "scheduler", "triggerer", "dag_processor"], "healthy"
    )

    api = Api(stack)
    api.wait_for_dag()
    api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

    # A run with a logical date, as the scheduler would make for that day, with a small conf.
    run = api.call(
        "POST",
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        {"logical_date": f"{RUN_DAY}T02:00:00Z", "conf": {"rows": RUN_ROWS}},
    )
    # The next day through the make target: a backfill run, timetable-made.
    stack.make("airflow-trigger", f"DATE={BACKFILL_DAY}", f"STACK_ROWS={BACKFILL_ROWS}")
    backfill_runs = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill")["dag_runs"]
    assert [r["logical_date"][:10] for r in backfill_runs] == [BACKFILL_DAY]

    for run_id, day, rows in [
        (run["dag_run_id"], RUN_DAY, RUN_ROWS),
        (backfill_runs[0]["dag_run_id"], BACKFILL_DAY, BACKFILL_ROWS),
    ]:
        started = time.monotonic()
        api.wait_for_run(run_id)
        print(f"{run_id}: success after {time.monotonic() - started:.0f} s more")
        manifest = api.manifest(run_id)
        assert (manifest["date"], manifest["rows"]) == (day, rows)
        keys, s3_total = s3_rows(stack, day)
        assert keys and keys == set(manifest["keys"]), (keys, manifest["keys"])
        assert s3_total == rows
        # The stack's own check (in the job image, with the job's DayLayout) agrees, and
        # refuses a wrong count.
        check = ["bash", "scripts/stack-ctl.sh", "check-s3", day]
        ok = subprocess.run(
            [*check, str(rows)], cwd=REPO, env=stack.env, capture_output=True, text=True
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        bad = subprocess.run(
            [*check, str(rows + 1)], cwd=REPO, env=stack.env, capture_output=True, text=True
        )
        assert bad.returncode != 0 and f"expected {rows + 1}" in bad.stderr, bad.stdout + bad.stderr

    stack.make("airflow-down", timeout=300)
    assert stack.leftovers() == []
