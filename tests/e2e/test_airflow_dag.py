"""`airflow dags test daily_synthetic 2025-06-12` end to end: real Airflow, real job image,
real S3 (moto on loopback). One run with shards=1, then the same day again with shards=3.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DAGS

pytestmark = pytest.mark.e2e

DAY = "2025-06-12"
ROWS = 12_000
SHARDS = 3
BUCKET = "raw-e2e"
DAY_PREFIX = "year=2025/month=6/day=12/"
MONTH_PREFIX = "year=2025/month=6/"
MANIFEST_KEY = "_manifests/2025-06-12.json"
# The report pages go beside the dataset, to a bucket of their own.
REPORTS_BUCKET = "raw-e2e-reports"
REPORTS_ENV = {"DAILY_SYNTHETIC_REPORTS_DEST": f"s3://{REPORTS_BUCKET}"}


@dataclass
class Landed:
    """A dags-test run and what it left in S3, captured before the next run changes it."""

    run: Any
    keys: list[str]
    table: Any
    manifest_object: dict[str, Any]


def _without_run_id(keys: list[str]) -> list[str]:
    """Part keys without the publishing run's id (part-RUN-NNNNN-of-KKKKK.parquet)."""
    return [re.sub(r"/part-[0-9a-f]{12}-", "/part-", k) for k in keys]


def _land(airflow_home: Any, s3: Any, conf: dict[str, Any]) -> Landed:
    run = airflow_home.dags_test(DAY, conf, BUCKET, extra_env=REPORTS_ENV)
    keys = _without_run_id(s3.keys(BUCKET, MONTH_PREFIX))
    listed = s3.keys(BUCKET, "_manifests/")
    manifest = json.loads(s3.read(BUCKET, MANIFEST_KEY)) if MANIFEST_KEY in listed else {}
    return Landed(run, keys, s3.table(BUCKET, MONTH_PREFIX), manifest)


@pytest.fixture(scope="module")
def single(airflow_home: Any, s3: Any, timings: dict[str, float]) -> Landed:
    s3.client().create_bucket(Bucket=BUCKET)  # the test makes the bucket; the job never does
    s3.client().create_bucket(Bucket=REPORTS_BUCKET)
    landed = _land(airflow_home, s3, {"rows": ROWS})
    timings[f"airflow dags test, shards=1, {ROWS:,} rows"] = landed.run.seconds
    return landed


@pytest.fixture(scope="module")
def sharded(single: Landed, airflow_home: Any, s3: Any, timings: dict[str, float]) -> Landed:
    # The same day into the same bucket again, now split over SHARDS containers.
    landed = _land(airflow_home, s3, {"rows": ROWS, "shards": SHARDS})
    timings[f"airflow dags test, shards={SHARDS}, {ROWS:,} rows"] = landed.run.seconds
    return landed


def _assert_green(landed: Landed) -> None:
    assert landed.run.returncode == 0, landed.run.output[-5000:]
    assert landed.run.state == "success"


# --- shards=1 --------------------------------------------------------------------------


def test_single_run_is_green(single: Landed) -> None:
    _assert_green(single)
    assert single.run.tasks == {
        ("choose_path", -1): "success",
        ("generate", -1): "success",
        ("plan_shards", -1): "skipped",
        ("shard", -1): "skipped",
        ("finalize", -1): "skipped",
        ("reports_configured", -1): "success",
        ("report", -1): "success",
    }


def test_the_report_step_publishes_the_days_page(single: Landed, s3: Any) -> None:
    assert s3.keys(REPORTS_BUCKET, "") == ["2025-06-12.html"]
    text = s3.read(REPORTS_BUCKET, "2025-06-12.html").decode()
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "2025-06-12" in text and text.count("<svg") >= 8


def test_single_run_lands_exactly_the_requested_rows_for_the_day(single: Landed) -> None:
    assert single.keys == [DAY_PREFIX + "part-00000-of-00001.parquet"]
    assert single.table.num_rows == ROWS
    # The date handed to the job is the day the run stands for: every payment is on it.
    days = {ts.date().isoformat() for ts in single.table.column("event_timestamp").to_pylist()}
    assert days == {DAY}


def test_single_run_rendered_command(single: Landed) -> None:
    rendered = single.run.rendered[("generate", -1)]
    assert rendered["command"] == ["--date", DAY, "--rows", str(ROWS)]
    # The job ran under a read-only root with its /tmp a tmpfs sized from rows (and the rest
    # of the confinement, in the host config): a green run proves it needs nothing more.
    assert "tmpfs" in json.dumps(rendered["mounts"])
    assert rendered["environment"]["RAW_BUCKET"] == BUCKET
    assert set(rendered["environment"]) == {
        "RAW_BUCKET",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "DAILY_SYNTHETIC_REPORTS_DEST",
        "DAILY_SYNTHETIC_DEADLINE",
    }


def test_xcom_is_the_parsed_manifest(single: Landed) -> None:
    manifest = single.run.xcoms[("generate", -1)]
    assert isinstance(manifest, dict)
    assert manifest["rows"] == ROWS
    assert manifest["date"] == DAY
    assert manifest["uri"] == f"s3://{BUCKET}/{DAY_PREFIX}"
    assert _without_run_id(manifest["keys"]) == [DAY_PREFIX + "part-00000-of-00001.parquet"]
    # The same document the job stored next to the data.
    for key in ("rows", "date", "uri", "keys", "sha256", "bytes", "seed", "generator_version"):
        assert manifest[key] == single.manifest_object[key], key


def test_asset_event_carries_the_manifest(single: Landed, airflow_home: Any) -> None:
    assert len(single.run.events) == 1
    event = single.run.events[0]
    assert event["name"] == "daily_synthetic_raw"
    assert event["task"] == "generate"
    extra = dict(event["extra"])
    metrics = extra.pop("metrics")
    manifest = single.run.xcoms[("generate", -1)]
    assert extra == manifest
    # The run's figures, from the manifest and the operator's clock (never from logs).
    assert metrics["rows"] == ROWS
    assert metrics["bytes"] == manifest["bytes"]
    assert metrics["objects"] == len(manifest["keys"])
    assert metrics["container_seconds"] > 0
    # The asset-scheduled downstream DAG is now queued to run.
    queued = airflow_home.query(
        "SELECT a.name, q.target_dag_id FROM asset_dag_run_queue q JOIN asset a ON a.id = q.asset_id"
    )
    assert ("daily_synthetic_raw", "payment_features") in queued


def test_single_run_leaves_no_container(single: Landed, containers: Any) -> None:
    events = containers.events(single.run)
    assert events.get("create") == 2  # the job and the report
    assert events.get("destroy") == 2
    assert containers.leftovers(single.run) == []


def test_credentials_never_show(single: Landed, airflow_home: Any, credentials: list[str]) -> None:
    # The job could only write to S3 because the credentials reached its container (the
    # test's environment is the only place they exist), yet none of them may be visible.
    assert "credentials=['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']" in (
        single.run.output
    )
    visible = json.dumps(
        [list(single.run.rendered.values()), list(single.run.xcoms.values()), single.run.events],
        default=str,
    )
    for secret in credentials:
        assert secret not in single.run.output
        assert secret not in visible
        assert airflow_home.files_containing(secret) == []


# --- shards=3 on top of the same day ------------------------------------------------------


def test_sharded_run_is_green(sharded: Landed) -> None:
    _assert_green(sharded)
    assert sharded.run.tasks == {
        ("choose_path", -1): "success",
        ("generate", -1): "skipped",
        ("plan_shards", -1): "success",
        **{("shard", i): "success" for i in range(SHARDS)},
        ("finalize", -1): "success",
        ("reports_configured", -1): "success",
        ("report", -1): "success",
    }


def test_sharded_run_lands_the_same_rows_once(single: Landed, sharded: Landed) -> None:
    # Exactly one copy of the day: the shards=1 part is gone, the three slices replace it.
    assert sharded.keys == [
        f"{DAY_PREFIX}part-{i:05d}-of-{SHARDS:05d}.parquet" for i in range(SHARDS)
    ]
    assert sharded.table.num_rows == ROWS
    ids = sharded.table.column("transaction_id")
    assert ids.equals(single.table.column("transaction_id"))
    columns = single.table.column_names
    differing = [c for c in columns if not sharded.table.column(c).equals(single.table.column(c))]
    assert differing == []


def test_sharded_xcoms_and_single_asset_event(sharded: Landed) -> None:
    commands = sharded.run.xcoms[("plan_shards", -1)]
    assert [c[-1] for c in commands] == [f"{i}/{SHARDS}" for i in range(SHARDS)]
    shard_rows = [sharded.run.xcoms[("shard", i)]["rows"] for i in range(SHARDS)]
    assert sum(shard_rows) == ROWS
    day = sharded.run.xcoms[("finalize", -1)]
    assert day["rows"] == ROWS
    assert day["date"] == DAY
    assert _without_run_id(day["keys"]) == [k for k in sharded.keys if k.endswith(".parquet")]
    # One event per day, from finalize only; the shard containers emit none.
    extras = [(e["task"], dict(e["extra"])) for e in sharded.run.events]
    assert [(task, extra.pop("metrics")["rows"]) for task, extra in extras] == [("finalize", ROWS)]
    assert extras == [("finalize", day)]


def test_sharded_run_leaves_no_container(sharded: Landed, containers: Any) -> None:
    events = containers.events(sharded.run)
    assert events.get("create") == SHARDS + 2  # the shards, finalize and the report
    assert events.get("destroy") == SHARDS + 2
    assert containers.leftovers(sharded.run) == []


def test_dag_parse_time_reported(airflow_home: Any, timings: dict[str, float]) -> None:
    """`airflow dags report`: Airflow's own per-file parse duration (printed, not asserted)."""
    done = airflow_home.airflow("dags", "report", "-o", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("[{") :])  # warnings come first
    by_file = {row["file"].rsplit("/", 1)[-1]: row for row in report}
    assert "daily_synthetic.py" in by_file
    for name, row in sorted(by_file.items()):
        seconds = float(str(row["duration"]).rsplit(":", 1)[-1])
        timings[f"airflow dags report: parse {name}"] = seconds


# --- the confinement, as the engine applies it -------------------------------------------

PROBE = r"""
import json, os, sys
def read(*paths):  # cgroup v2, else v1
    for path in paths:
        if os.path.exists(path):
            return open(path).read().strip()
    return ""
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w") as f:
            f.write("x")
        os.remove(os.path.join(path, ".probe"))
        return True
    except OSError:
        return False
tmp = os.statvfs("/tmp")
print(json.dumps({
    "rows": 0, "uri": "probe", "date": sys.argv[2],
    "cap_eff": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "uid": os.getuid(), "root_writable": writable("/"), "tmp_writable": writable("/tmp"),
    "tmp_bytes": tmp.f_blocks * tmp.f_frsize,
    "pids_max": read("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"),
    "cpu_max": read("/sys/fs/cgroup/cpu.max")
    or read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + " " + read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
}))
"""


def test_job_container_is_confined_by_the_engine(
    job_image: str, docker_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The docker launcher's own operator, on the real engine, with a probe for an entrypoint:
    what the kernel says about the container it got."""
    from types import SimpleNamespace

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # Airflow writes its home on import
    monkeypatch.syspath_prepend(str(DAGS))  # as Airflow does for DAG files
    from daily_synthetic_job import docker, limits

    monkeypatch.setenv("DAILY_SYNTHETIC_IMAGE", job_image)
    monkeypatch.setenv("DAILY_SYNTHETIC_MEM_LIMIT", "1g")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    op = docker.DockerJobOperator(
        task_id="probe",
        command=["--date", DAY],
        **{**docker.CONTAINER, "entrypoint": ["python3", "-c", PROBE]},
    )
    ti = SimpleNamespace(dag_id="e2e", run_id="confinement-probe", task_id="probe", map_index=-1)
    context: Any = {"ti": ti, "ds": DAY, "params": {"rows": ROWS}}
    op.render_template_fields(context, op.get_template_env())
    context["outlet_events"] = {}
    got = op.execute(context)
    assert got["cap_eff"] == "0000000000000000"  # every capability dropped
    assert got["no_new_privs"] == "1"
    assert got["uid"] == 10001
    assert got["root_writable"] is False and got["tmp_writable"] is True
    assert got["tmp_bytes"] == limits.scratch_mib(ROWS) * 1024**2
    assert got["pids_max"] == str(limits.PIDS_LIMIT)
    quota, period = got["cpu_max"].split()
    assert int(quota) / int(period) == limits.JOB_CPUS
    assert (
        docker_client.containers.list(
            all=True, filters={"label": "io.daily-synthetic.run_id=confinement-probe"}
        )
        == []
    )
