"""Structure of the daily_synthetic DAG and the logic of its operator, without Docker or a DB."""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import importlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"

# Airflow writes its home on import: keep it out of the repo (before the first airflow import).
_HOME = tempfile.mkdtemp(prefix="airflow-unit-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ["AIRFLOW_HOME"] = _HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

UTC = dt.UTC
SECRET = "unit-test-secret-value-7f3a9c"
MANIFEST = {
    "rows": 5000,
    "uri": "s3://raw/year=2025/month=06/day=12/",
    "date": "2025-06-12",
    "seed": 42,
    "keys": ["year=2025/month=06/day=12/part-00000-of-00001.parquet"],
    "bytes": 123456,
    "sha256": "0" * 64,
    "fraud_rate": 0.01,
    "generator_version": "0.1.0",
}


@pytest.fixture(scope="module")
def mod() -> ModuleType:
    """The DAG file as a module, to reach its helpers and operator class."""
    sys.path.insert(0, str(DAGS))
    try:
        return importlib.import_module("daily_synthetic")
    finally:
        sys.path.remove(str(DAGS))


@pytest.fixture(scope="module")
def dag(mod: ModuleType) -> Any:
    return mod.dag


# --- the DAG ---------------------------------------------------------------------------


def test_dag_attributes(dag: Any) -> None:
    assert dag.dag_id == "daily_synthetic"
    assert dag.catchup is True
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"data-gen"}
    assert dag.start_date.tzinfo is not None


def test_schedule_is_cron_data_interval_at_02_utc(dag: Any) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "UTC"


def test_default_args(dag: Any) -> None:
    args = dag.default_args
    assert args["retries"] == 2
    assert args["retry_delay"] == dt.timedelta(minutes=5)
    assert args["email_on_failure"] is False
    for task in dag.tasks:
        assert task.retries == 2
        assert task.retry_delay == dt.timedelta(minutes=5)
        assert not task.email_on_failure


def test_params(dag: Any) -> None:
    rows = dag.params.get_param("rows")
    assert rows.value == 1_000_000
    assert rows.schema["type"] == "integer"
    assert rows.schema["minimum"] == 1
    assert rows.schema["maximum"] == 50_000_000
    shards = dag.params.get_param("shards")
    assert shards.value == 1
    assert shards.schema["type"] == "integer"
    assert shards.schema["minimum"] == 1


@pytest.mark.parametrize("bad", [0, -5, 50_000_001, "many", 1.5])
def test_rows_param_rejects(dag: Any, bad: Any) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        copy.deepcopy(dag.params.get_param("rows")).resolve(value=bad)


@pytest.mark.parametrize("good", [1, 5000, 50_000_000])
def test_rows_param_accepts(dag: Any, good: int) -> None:
    assert copy.deepcopy(dag.params.get_param("rows")).resolve(value=good) == good


def test_task_graph(dag: Any) -> None:
    tasks = dag.task_dict
    assert set(tasks) == {"choose_path", "generate", "plan_shards", "shard", "finalize"}
    assert tasks["choose_path"].downstream_task_ids == {"generate", "plan_shards"}
    assert tasks["plan_shards"].downstream_task_ids == {"shard"}
    assert tasks["shard"].downstream_task_ids == {"finalize"}
    assert tasks["generate"].downstream_task_ids == set()
    assert tasks["finalize"].downstream_task_ids == set()


# --- which day a run stands for --------------------------------------------------------


def _core_timetable(dag: Any) -> Any:
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(dag.timetable)


def test_run_at_0200_on_d_plus_1_covers_day_d(dag: Any) -> None:
    """The scheduled run starting 2025-06-13 02:00 UTC has logical date (ds) 2025-06-12."""
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction

    previous = DataInterval(
        pendulum.datetime(2025, 6, 11, 2, tz="UTC"), pendulum.datetime(2025, 6, 12, 2, tz="UTC")
    )
    info = _core_timetable(dag).next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert info.run_after == dt.datetime(2025, 6, 13, 2, tzinfo=UTC)
    assert info.data_interval.start == dt.datetime(2025, 6, 12, 2, tzinfo=UTC)
    # The task runner derives ds from the logical date this way (task_runner.py).
    assert info.logical_date.strftime("%Y-%m-%d") == "2025-06-12"


def test_catchup_starts_with_the_start_date(dag: Any) -> None:
    from airflow.timetables.base import TimeRestriction

    info = _core_timetable(dag).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert info.logical_date.date() == dag.start_date.date()
    # The first day (start_date's) is generated at 02:00 UTC the morning after.
    assert info.run_after == dag.start_date + dt.timedelta(days=1, hours=2)


# --- the job containers ------------------------------------------------------------------


def _render(task: Any, ds: str | None, rows: int = 5000, shards: int = 1) -> Any:
    """Render a copy of the task the way the task runner does (dag's Jinja env, a context)."""
    rendered = copy.copy(task)
    context: dict[str, Any] = {"params": {"rows": rows, "shards": shards}}
    if ds is not None:
        context["ds"] = ds
    rendered.render_template_fields(context, task.dag.get_template_env())
    return rendered


@pytest.mark.parametrize("task_id", ["generate", "finalize"])
def test_container_settings(dag: Any, mod: ModuleType, task_id: str) -> None:
    task = dag.task_dict[task_id]
    assert isinstance(task, mod.DailySyntheticJobOperator)
    assert task.auto_remove == "force"
    assert task.mount_tmp_dir is False
    assert task.do_xcom_push is True
    assert task.xcom_all is True  # execute() reduces the lines to the manifest
    assert task.tty is False
    assert task.mem_limit == "4g"
    assert task.log_opts_max_size == "10m"
    assert task.force_pull is False
    assert task.outlets == [mod.RAW_FEED]
    assert mod.RAW_FEED.name == "daily_synthetic_raw"
    assert task._private_environment == {}  # credentials only appear at run time


def test_docker_url_defaults_to_docker_host_then_socket(mod: ModuleType, monkeypatch: Any) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    op = mod.DailySyntheticJobOperator(
        task_id="x", command=["--date", "2025-06-12"], **mod.JOB_CONTAINER
    )
    assert op.docker_url == "unix://var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    op = mod.DailySyntheticJobOperator(
        task_id="y", command=["--date", "2025-06-12"], **mod.JOB_CONTAINER
    )
    assert op.docker_url == "tcp://127.0.0.1:2375"


def test_generate_command_template(dag: Any) -> None:
    task = dag.task_dict["generate"]
    assert task.command == ["--date", "{{ ds }}", "--rows", "{{ params.rows }}"]
    assert _render(task, "2025-06-12", rows=5000).command == [
        "--date",
        "2025-06-12",
        "--rows",
        "5000",
    ]


def test_finalize_command_template(dag: Any) -> None:
    task = dag.task_dict["finalize"]
    rendered = _render(task, "2025-06-12", rows=9000, shards=3).command
    assert rendered == ["--date", "2025-06-12", "--rows", "9000", "--finalize", "--shards", "3"]


@pytest.mark.parametrize("task_id", ["generate", "finalize"])
def test_rendering_without_logical_date_fails_clearly(dag: Any, task_id: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="no logical date"):
        _render(dag.task_dict[task_id], None)


def test_shard_is_mapped_over_plan_shards(dag: Any, mod: ModuleType) -> None:
    shard = dag.task_dict["shard"]
    assert shard.operator_class is mod.DailySyntheticJobOperator
    assert set(shard.expand_input.value) == {"command"}
    assert shard.partial_kwargs["auto_remove"] == "force"
    assert shard.partial_kwargs["mount_tmp_dir"] is False
    assert shard.upstream_task_ids == {"plan_shards"}


def test_rendering_reads_worker_env_but_never_credentials(dag: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DAILY_SYNTHETIC_IMAGE", "registry.example/daily-synthetic-job:1.2.3")
    monkeypatch.setenv("RAW_BUCKET", "raw-bucket")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET + "-token")
    rendered = _render(dag.task_dict["generate"], "2025-06-12")
    assert rendered.image == "registry.example/daily-synthetic-job:1.2.3"
    assert rendered.environment == {
        "RAW_BUCKET": "raw-bucket",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    every_rendered_field = json.dumps(
        {f: str(getattr(rendered, f)) for f in rendered.template_fields}
    )
    assert SECRET not in every_rendered_field
    assert "AKIAUNITTEST" not in every_rendered_field


def test_unset_or_empty_env_is_not_passed(dag: Any, monkeypatch: Any) -> None:
    for name in ("DAILY_SYNTHETIC_IMAGE", "RAW_BUCKET", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    rendered = _render(dag.task_dict["generate"], "2025-06-12")
    assert rendered.image == "daily-synthetic-job:dev"
    assert rendered.environment == {}


# --- branching and sharding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("shards", "expected"), [(1, "generate"), (2, "plan_shards"), (8, "plan_shards")]
)
def test_choose_path(dag: Any, shards: int, expected: str) -> None:
    choose = dag.task_dict["choose_path"].python_callable
    assert choose(params={"rows": 10, "shards": shards}) == expected


def test_plan_shards(dag: Any) -> None:
    plan = dag.task_dict["plan_shards"].python_callable
    commands = plan(ds="2025-06-12", params={"rows": 9000, "shards": 3})
    assert commands == [
        ["--date", "2025-06-12", "--rows", "9000", "--shard", f"{i}/3"] for i in range(3)
    ]


def test_plan_shards_without_logical_date_fails_clearly(dag: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    plan = dag.task_dict["plan_shards"].python_callable
    with pytest.raises(AirflowFailException, match="no logical date"):
        plan(ds=None, params={"rows": 9000, "shards": 3})


# --- the operator at run time (Docker replaced by a stub) -----------------------------


class _OutletEvents(dict):
    def __missing__(self, key: Any) -> Any:
        self[key] = SimpleNamespace(extra={})
        return self[key]


def _context() -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="daily_synthetic", run_id="manual__x", task_id="generate", map_index=-1
    )
    return {"ti": ti, "outlet_events": _OutletEvents()}


@pytest.fixture
def stub_docker(mod: ModuleType, monkeypatch: Any) -> dict[str, Any]:
    """Replace DockerOperator.execute; record the operator state it would have used."""
    seen: dict[str, Any] = {"output": [], "error": None}

    def fake_execute(self: Any, context: Any) -> Any:
        seen.update(
            network=self.network_mode,
            mem_limit=self.mem_limit,
            docker_url=self.docker_url,
            private=dict(self._private_environment),
            labels=dict(self.labels),
        )
        if seen["error"] is not None:
            raise seen["error"]
        return seen["output"][-1] if not self.xcom_all else seen["output"]

    from airflow.providers.docker.operators.docker import DockerOperator

    monkeypatch.setattr(DockerOperator, "execute", fake_execute)
    return seen


def _rendered(op: Any) -> Any:
    context = {"ds": "2025-06-12", "params": {"rows": 5000, "shards": 1}}
    op.render_template_fields(context, op.get_template_env())
    return op


def _generate(mod: ModuleType, date: str = "2025-06-12") -> Any:
    op = mod.DailySyntheticJobOperator(
        task_id="generate",
        command=["--date", date, "--rows", "5000"],
        outlets=[mod.RAW_FEED],
        **mod.JOB_CONTAINER,
    )
    return op if "{{" in date else _rendered(op)


def test_execute_returns_parsed_manifest_and_fills_asset_event(
    mod: ModuleType, stub_docker: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("DAILY_SYNTHETIC_NETWORK", "host")
    monkeypatch.setenv("DAILY_SYNTHETIC_MEM_LIMIT", "1g")
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other.sock")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    stub_docker["output"] = ["info: generating", json.dumps(MANIFEST)]
    context = _context()
    result = _generate(mod).execute(context)
    assert result == MANIFEST
    assert context["outlet_events"][mod.RAW_FEED].extra == MANIFEST
    assert stub_docker["network"] == "host"
    assert stub_docker["mem_limit"] == "1g"
    assert stub_docker["docker_url"] == "unix:///tmp/other.sock"
    assert stub_docker["private"] == {
        "AWS_ACCESS_KEY_ID": "AKIAUNITTEST",
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    assert stub_docker["labels"]["io.daily-synthetic.run_id"] == "manual__x"


def test_execute_without_outlet_emits_no_event(
    mod: ModuleType, stub_docker: dict[str, Any]
) -> None:
    stub_docker["output"] = [json.dumps(MANIFEST)]
    op = _rendered(
        mod.DailySyntheticJobOperator(
            task_id="shard", command=["--date", "2025-06-12", "--shard", "0/2"], **mod.JOB_CONTAINER
        )
    )
    context = _context()
    assert op.execute(context) == MANIFEST
    assert context["outlet_events"] == {}


@pytest.mark.parametrize("date", ["", "{{ ds }}", "12/06/2025", "2025-13-40"])
def test_execute_refuses_a_missing_or_bad_date(
    mod: ModuleType, stub_docker: dict[str, Any], date: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException):
        _generate(mod, date).execute(_context())
    assert "network" not in stub_docker  # no container was started


def test_empty_date_message_names_the_cause(mod: ModuleType) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="no logical date"):
        mod.day_of(["--date", "", "--rows", "5"])


@pytest.mark.parametrize("code", [2, 4])
def test_bad_arguments_and_failed_checks_are_not_retried(
    mod: ModuleType, stub_docker: dict[str, Any], code: int
) -> None:
    from airflow.providers.docker.exceptions import DockerContainerFailedException
    from airflow.sdk.exceptions import AirflowFailException

    stub_docker["error"] = DockerContainerFailedException(
        f"Docker container failed: {{'Error': None, 'StatusCode': {code}}}",
        logs=["2026-01-01 INFO starting", "daily-synthetic: error: something deterministic"],
    )
    with pytest.raises(
        AirflowFailException, match=f"exited with {code}: daily-synthetic: error: something"
    ):
        _generate(mod).execute(_context())


@pytest.mark.parametrize("code", [1, 3, 5, 6, 143])
def test_runtime_errors_stay_retryable(
    mod: ModuleType, stub_docker: dict[str, Any], code: int
) -> None:
    from airflow.providers.docker.exceptions import DockerContainerFailedException
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    stub_docker["error"] = DockerContainerFailedException(
        f"Docker container failed: {{'Error': None, 'StatusCode': {code}}}",
        logs=["daily-synthetic: error: cannot reach S3 at http://127.0.0.1:1", "trailing"],
    )
    with pytest.raises(AirflowException, match=f"exited with {code}: .*cannot reach S3") as info:
        _generate(mod).execute(_context())
    assert not isinstance(info.value, AirflowFailException)


def test_oom_kill_gets_a_hint(mod: ModuleType, stub_docker: dict[str, Any]) -> None:
    from airflow.providers.docker.exceptions import DockerContainerFailedException

    stub_docker["error"] = DockerContainerFailedException(
        "Docker container failed: {'Error': None, 'StatusCode': 137}", logs=["INFO generating"]
    )
    with pytest.raises(Exception, match="DAILY_SYNTHETIC_MEM_LIMIT"):
        _generate(mod).execute(_context())


# --- the manifest ------------------------------------------------------------------------


def test_parse_manifest_last_line(mod: ModuleType) -> None:
    assert mod.parse_manifest(["log", json.dumps(MANIFEST)]) == MANIFEST
    assert mod.parse_manifest(json.dumps(MANIFEST)) == MANIFEST


def test_parse_manifest_tolerates_a_late_log_line(mod: ModuleType) -> None:
    assert mod.parse_manifest([json.dumps(MANIFEST), "INFO done in 3.2 s"]) == MANIFEST


@pytest.mark.parametrize(
    "output",
    [None, [], ["no json here"], [json.dumps({"rows": 1})], [json.dumps([1, 2, 3])]],
)
def test_parse_manifest_rejects(mod: ModuleType, output: Any) -> None:
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="no JSON manifest"):
        mod.parse_manifest(output)
