"""Fixtures for the Airflow end-to-end tests.

Real Airflow (`airflow dags test` against a temporary AIRFLOW_HOME with SQLite), the real job
image through DockerOperator, and a real S3 server: moto's ThreadedMotoServer on 127.0.0.1 in
this process. The job container uses the host network, so every byte stays on loopback.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import ensure_images

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
DAG_ID = "daily_synthetic"
REGION = "us-east-1"
# Random per session, so that finding it anywhere is a real leak, not a coincidence.
SECRET_KEY = f"e2e-secret-{secrets.token_hex(12)}"
SESSION_TOKEN = f"e2e-token-{secrets.token_hex(12)}"
ACCESS_KEY = "E2EACCESSKEYID0000001"

# Wall times shown in the terminal summary (see pytest_terminal_summary below).
TIMINGS: dict[str, float] = {}

# `airflow dags test` with retries forced to 0 (a failing task would otherwise wait for two
# 5-minute retry delays), or with no logical date at all. Same code path as the CLI:
# BundleDagBag -> dag.test(); the CLI only adds argument parsing.
DAG_TEST_SCRIPT = r"""
import datetime as dt, json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag

dags, logical, conf, no_retries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
# The bag the CLI, the DAG processor and the task runner use: it puts the bundle (the dags
# folder) on sys.path, which is how daily_synthetic.py finds its daily_synthetic_job package.
dag = BundleDagBag(dag_folder=dags, bundle_path=Path(dags)).dags["daily_synthetic"]
if no_retries == "1":
    for task in dag.tasks:
        if hasattr(task, "partial_kwargs"):  # mapped: retries live in the partial kwargs
            task.partial_kwargs["retries"] = 0
        else:
            task.retries = 0
date = None if logical == "none" else dt.datetime.fromisoformat(logical).replace(tzinfo=dt.UTC)
run = dag.test(logical_date=date, run_conf=conf)
print("DAG_TEST_RESULT " + json.dumps({"run_id": run.run_id, "state": str(run.state)}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """moto's S3 server on loopback; stop() and start() keep its data (moto is in-process)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto did not listen on {self.endpoint}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def table(self, bucket: str, prefix: str) -> Any:
        """Every Parquet row under prefix, as one pyarrow table sorted by transaction_id."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = [k for k in self.keys(bucket, prefix) if k.endswith(".parquet")]
        tables = [pq.read_table(io.BytesIO(self.read(bucket, key))) for key in parts]
        if not tables:
            return None
        return pa.concat_tables(tables).sort_by("transaction_id")


@dataclass
class DagRunResult:
    """What one `airflow dags test` left behind, read right after it finished."""

    run_id: str
    state: str
    returncode: int
    output: str
    seconds: float
    started: dt.datetime
    ended: dt.datetime
    tasks: dict[tuple[str, int], str] = field(default_factory=dict)
    xcoms: dict[tuple[str, int], Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    rendered: dict[tuple[str, int], Any] = field(default_factory=dict)


class AirflowHome:
    """A temporary AIRFLOW_HOME with a migrated SQLite metadata DB."""

    def __init__(self, path: Path, image: str, s3: S3Server) -> None:
        self.path = path
        self.image = image
        self.s3 = s3
        self.db = path / "airflow.db"

    def env(self, bucket: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Start from a clean slate: no Airflow, AWS or job settings of the developer leak in.
        prefixes = (
            "AIRFLOW",
            "AWS_",
            "DAILY_SYNTHETIC",
            "RAW_BUCKET",
            "FEATURES_BUCKET",
            "DOCKER_",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        if "DOCKER_HOST" in os.environ:
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        env.update(
            AIRFLOW_HOME=str(self.path),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            # Unpaused consumer => an asset event queues a run of it (asset_dag_run_queue).
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            DAILY_SYNTHETIC_IMAGE=self.image,
            DAILY_SYNTHETIC_NETWORK="host",
            DAILY_SYNTHETIC_MEM_LIMIT="1g",
            RAW_BUCKET=bucket,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=self.s3.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_SESSION_TOKEN=SESSION_TOKEN,
        )
        env.update(extra or {})
        return env

    def airflow(self, *args: str, bucket: str = "unused", timeout: float = 600) -> Any:
        return subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env(bucket),
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def dags_test(
        self,
        date: str | None,
        conf: dict[str, Any],
        bucket: str,
        *,
        no_retries: bool = False,
        via_cli: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> DagRunResult:
        """Run the DAG once like `airflow dags test daily_synthetic DATE -c CONF`."""
        if via_cli:
            assert date is not None and not no_retries
            cmd = [str(BIN / "airflow"), "dags", "test", DAG_ID, date, "-c", json.dumps(conf)]
        else:
            cmd = [
                sys.executable,
                "-c",
                DAG_TEST_SCRIPT,
                str(DAGS),
                date or "none",
                json.dumps(conf),
                "1" if no_retries else "0",
            ]
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        done = subprocess.run(
            cmd,
            env=self.env(bucket, extra_env),
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - t0
        ended = dt.datetime.now(dt.UTC)
        run_id, state = self._latest_run()
        result = DagRunResult(
            run_id=run_id,
            state=state,
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            seconds=seconds,
            started=started,
            ended=ended,
        )
        self._collect(result)
        return result

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return conn.execute(sql, args).fetchall()

    def _latest_run(self) -> tuple[str, str]:
        rows = self.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", DAG_ID
        )
        assert rows, "airflow dags test created no dag run"
        return str(rows[0][0]), str(rows[0][1])

    def _collect(self, r: DagRunResult) -> None:
        for task_id, map_index, state in self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            DAG_ID,
            r.run_id,
        ):
            r.tasks[(task_id, map_index)] = state
        for task_id, map_index, value in self.query(
            "SELECT task_id, map_index, value FROM xcom "
            "WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
            DAG_ID,
            r.run_id,
        ):
            r.xcoms[(task_id, map_index)] = json.loads(value)
        for name, uri, extra, task_id in self.query(
            "SELECT a.name, a.uri, e.extra, e.source_task_id FROM asset_event e "
            "JOIN asset a ON a.id = e.asset_id WHERE e.source_dag_id = ? AND e.source_run_id = ?",
            DAG_ID,
            r.run_id,
        ):
            r.events.append({"name": name, "uri": uri, "extra": json.loads(extra), "task": task_id})
        for task_id, map_index, fields in self.query(
            "SELECT task_id, map_index, rendered_fields FROM rendered_task_instance_fields "
            "WHERE dag_id = ? AND run_id = ?",
            DAG_ID,
            r.run_id,
        ):
            r.rendered[(task_id, map_index)] = json.loads(fields)

    def files_containing(self, needle: str) -> list[str]:
        """Every file under AIRFLOW_HOME (DB, logs, config) whose bytes contain needle."""
        hits = []
        for path in self.path.rglob("*"):
            if path.is_file() and needle.encode() in path.read_bytes():
                hits.append(str(path.relative_to(self.path)))
        return hits


@pytest.fixture(scope="session")
def docker_client() -> Any:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"the e2e tests need a Docker engine (make docker-engine): {exc}")
    return client


@pytest.fixture(scope="session")
def job_image(docker_client: Any) -> str:
    """The job image, built once per session by tests/support/images.py (`make images`)."""
    images = ensure_images()
    if images.build_seconds is not None:
        TIMINGS["make images"] = images.build_seconds
    docker_client.images.get(images.job)  # fails clearly if it is missing
    return images.job


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def airflow_home(
    tmp_path_factory: pytest.TempPathFactory, job_image: str, s3: S3Server
) -> AirflowHome:
    home = AirflowHome(tmp_path_factory.mktemp("airflow-home"), job_image, s3)
    t0 = time.perf_counter()
    done = home.airflow("db", "migrate")
    TIMINGS["airflow db migrate"] = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    return home


class Containers:
    """The job containers of one DAG run, found by the labels the operator puts on them."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def events(self, run: DagRunResult) -> dict[str, int]:
        """Counts of Docker events (create, start, die, destroy, ...) during the run."""
        counts: dict[str, int] = {}
        for event in self.client.events(
            since=run.started - dt.timedelta(seconds=2),
            until=run.ended + dt.timedelta(seconds=2),
            filters={"type": "container", "label": f"io.daily-synthetic.run_id={run.run_id}"},
            decode=True,
        ):
            action = str(event.get("Action") or event.get("status"))
            counts[action] = counts.get(action, 0) + 1
        return counts

    def leftovers(self, run: DagRunResult) -> list[str]:
        found = self.client.containers.list(
            all=True, filters={"label": f"io.daily-synthetic.run_id={run.run_id}"}
        )
        return [c.name for c in found]


@pytest.fixture(scope="session")
def containers(docker_client: Any) -> Containers:
    return Containers(docker_client)


@pytest.fixture(scope="session")
def credentials() -> list[str]:
    """Secret values handed to the Airflow processes; none may show up anywhere."""
    return [SECRET_KEY, SESSION_TOKEN]


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    return TIMINGS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("daily_synthetic e2e timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<48} {seconds:7.1f} s")
