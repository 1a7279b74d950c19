"""Structure of the daily_synthetic DAG and the logic of its operator, without Docker or a DB."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

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
    """The docker launcher's module: its operator class and container settings."""
    return importlib.import_module("daily_synthetic_job.docker")


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    """What every launcher shares: settings, manifest, exit-code policy, timeouts."""
    return importlib.import_module("daily_synthetic_job.policy")


@pytest.fixture(scope="module")
def dag() -> Any:
    """The DAG as parsed with the default launcher (docker); conftest put dags/ on sys.path."""
    return importlib.import_module("daily_synthetic").dag


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
    assert set(tasks) == {
        "choose_path", "generate", "plan_shards", "shard", "finalize", "reports_configured",
        "report",
    }  # fmt: skip
    assert tasks["choose_path"].downstream_task_ids == {"generate", "plan_shards"}
    assert tasks["plan_shards"].downstream_task_ids == {"shard"}
    assert tasks["shard"].downstream_task_ids == {"finalize"}
    # The report page follows whichever path published the day, when a destination is set.
    assert tasks["generate"].downstream_task_ids == {"reports_configured"}
    assert tasks["finalize"].downstream_task_ids == {"reports_configured"}
    assert tasks["reports_configured"].trigger_rule == "none_failed_min_one_success"
    assert tasks["reports_configured"].downstream_task_ids == {"report"}
    assert tasks["report"].downstream_task_ids == set()


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


def _ti(task_id: str = "generate", map_index: int = -1) -> Any:
    return SimpleNamespace(
        dag_id="daily_synthetic", run_id="manual__x", task_id=task_id, map_index=map_index
    )


def _render(task: Any, ds: str | None, rows: int = 5000, shards: int = 1) -> Any:
    """Render a copy of the task the way the task runner does (dag's Jinja env, a context)."""
    rendered = copy.copy(task)
    context: dict[str, Any] = {"params": {"rows": rows, "shards": shards}, "ti": _ti()}
    if ds is not None:
        context["ds"] = ds
    rendered.render_template_fields(context, task.dag.get_template_env())
    return rendered


@pytest.mark.parametrize("task_id", ["generate", "finalize"])
def test_container_settings(dag: Any, mod: ModuleType, policy: ModuleType, task_id: str) -> None:
    task = dag.task_dict[task_id]
    assert isinstance(task, mod.DockerJobOperator)
    assert task.auto_remove == "never"  # the operator removes it after reading its state
    assert task.mount_tmp_dir is False
    assert task.do_xcom_push is True
    assert task.xcom_all is True  # execute() reduces the lines to the manifest
    assert task.tty is False
    assert task.log_opts_max_size == "10m"
    assert task.force_pull is False
    assert task.outlets == [policy.RAW_FEED]
    assert policy.RAW_FEED.name == "daily_synthetic_raw"
    # Credentials are a mapping read when the container starts, nothing held at parse time.
    assert isinstance(task.credentials, policy.WorkerCredentials)


def test_settings_are_template_fields_rendered_from_the_worker_env(
    dag: Any, monkeypatch: Any
) -> None:
    for name in ("DOCKER_HOST", "DAILY_SYNTHETIC_NETWORK", "DAILY_SYNTHETIC_MEM_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    task = dag.task_dict["generate"]
    for field in ("image", "environment", "docker_url", "network_mode", "mem_limit", "labels"):
        assert field in task.template_fields
        assert callable(getattr(task, field)), field  # nothing read at parse time
    rendered = _render(task, "2025-06-12")
    scratch = importlib.import_module("daily_synthetic_job.limits").scratch_mib(5000)
    assert rendered.docker_url == "unix://var/run/docker.sock"
    assert rendered.network_mode is None
    # The job's cap plus its /tmp tmpfs (whose pages count as the container's memory).
    assert rendered.mem_limit == f"{4096 + scratch}m"
    assert rendered.labels["io.daily-synthetic.run_id"] == "manual__x"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    monkeypatch.setenv("DAILY_SYNTHETIC_NETWORK", "host")
    monkeypatch.setenv("DAILY_SYNTHETIC_MEM_LIMIT", "1g")
    rendered = _render(task, "2025-06-12")
    assert rendered.docker_url == "tcp://127.0.0.1:2375"
    assert rendered.network_mode == "host"
    assert rendered.mem_limit == f"{1024 + scratch}m"


@pytest.mark.parametrize(
    ("rows", "timeout_min"), [(1, 11), (1_000_000, 11), (1_000_001, 12), (50_000_000, 60)]
)
def test_execution_timeout_and_deadline_grow_with_rows(
    dag: Any, rows: int, timeout_min: int
) -> None:
    rendered = _render(dag.task_dict["generate"], "2025-06-12", rows=rows)
    assert rendered.execution_timeout == dt.timedelta(minutes=timeout_min)
    # The job's own deadline is a minute shorter: it stops cleanly (exit 8) first.
    assert rendered.environment["DAILY_SYNTHETIC_DEADLINE"] == str((timeout_min - 1) * 60)


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
    assert shard.operator_class is mod.DockerJobOperator
    assert set(shard.expand_input.value) == {"command"}
    assert shard.partial_kwargs["auto_remove"] == "never"
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
        "DAILY_SYNTHETIC_DEADLINE": "600",
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
    assert set(rendered.environment) == {"DAILY_SYNTHETIC_DEADLINE"}


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


# --- the operator at run time (the Docker engine replaced by a fake API client) ----------


class _OutletEvents(dict):
    def __missing__(self, key: Any) -> Any:
        self[key] = SimpleNamespace(extra={})
        return self[key]


def _context(task_id: str = "generate") -> dict[str, Any]:
    return {
        "ti": _ti(task_id),
        "outlet_events": _OutletEvents(),
        "ds": "2025-06-12",
        "params": {"rows": 5000, "shards": 1},
    }


class FakeDockerAPI:
    """The docker APIClient calls DockerOperator makes, recorded; the container's end scripted."""

    def __init__(self) -> None:
        self.output: list[str] = []
        self.exit_code = 0
        self.oom_killed = False
        self.created: dict[str, Any] | None = None
        self.calls: list[str] = []
        self.stop_timeout: int | None = None

    def images(self, name: str) -> list[str]:
        return [name]

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(self, **kwargs: Any) -> dict[str, str]:
        self.created = kwargs
        self.calls.append("create")
        return {"Id": "c0ffee"}

    def attach(self, **kwargs: Any) -> Any:
        return iter([f"{line}\n".encode() for line in self.output])

    def start(self, container_id: str) -> None:
        self.calls.append("start")

    def wait(self, container_id: str) -> dict[str, Any]:
        return {"Error": None, "StatusCode": self.exit_code}

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return {"State": {"ExitCode": self.exit_code, "OOMKilled": self.oom_killed}}

    def stop(self, container_id: str, timeout: int) -> None:
        self.calls.append("stop")
        self.stop_timeout = timeout

    def remove_container(self, container_id: str, force: bool = False) -> None:
        self.calls.append("remove")


@pytest.fixture
def docker_api(monkeypatch: Any) -> FakeDockerAPI:
    from airflow.providers.docker.operators.docker import DockerOperator

    api = FakeDockerAPI()
    monkeypatch.setattr(DockerOperator, "cli", property(lambda self: api))
    return api


def _operator(mod: ModuleType, policy: ModuleType, date: str = "2025-06-12", **kw: Any) -> Any:
    kw.setdefault("task_id", "generate")
    kw.setdefault("command", ["--date", date, "--rows", "5000"])
    op = mod.DockerJobOperator(**kw, **mod.CONTAINER)
    if "{{" not in date:
        op.render_template_fields(_context(), op.get_template_env())
    return op


def test_execute_returns_parsed_manifest_and_fills_asset_event(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DAILY_SYNTHETIC_NETWORK", "host")
    monkeypatch.setenv("DAILY_SYNTHETIC_MEM_LIMIT", "1g")
    monkeypatch.setenv("RAW_BUCKET", "raw")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    docker_api.output = ["info: generating", json.dumps(MANIFEST)]
    context = _context()
    result = _operator(mod, policy, outlets=[policy.RAW_FEED]).execute(context)
    assert result == MANIFEST
    extra = dict(context["outlet_events"][policy.RAW_FEED].extra)
    assert extra.pop("metrics")["bytes"] == MANIFEST["bytes"]
    assert extra == MANIFEST
    created = docker_api.created
    assert created is not None
    assert created["host_config"]["network_mode"] == "host"
    scratch = importlib.import_module("daily_synthetic_job.limits").scratch_mib(5000)
    assert created["host_config"]["mem_limit"] == f"{1024 + scratch}m"
    # Public settings and the credentials meet only in the container's environment.
    assert created["environment"] == {
        "RAW_BUCKET": "raw",
        "DAILY_SYNTHETIC_DEADLINE": "600",
        "AWS_ACCESS_KEY_ID": "AKIAUNITTEST",
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    assert created["labels"]["io.daily-synthetic.run_id"] == "manual__x"
    assert docker_api.calls == ["create", "start", "stop", "remove"]
    assert docker_api.stop_timeout == policy.STOP_GRACE_SECONDS


def test_execute_without_outlet_emits_no_event(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI
) -> None:
    docker_api.output = [json.dumps(MANIFEST)]
    op = _operator(mod, policy, task_id="shard", command=["--date", "2025-06-12", "--shard", "0/2"])
    context = _context("shard")
    assert op.execute(context) == MANIFEST
    assert context["outlet_events"] == {}


@pytest.mark.parametrize("date", ["", "{{ ds }}", "12/06/2025", "2025-13-40"])
def test_execute_refuses_a_missing_or_bad_date(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI, date: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException):
        _operator(mod, policy, date).execute(_context())
    assert docker_api.created is None  # no container was started


def test_empty_date_message_names_the_cause(policy: ModuleType) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="no logical date"):
        policy.day_of(["--date", "", "--rows", "5"])


@pytest.mark.parametrize("code", [2, 4, 9])
def test_deterministic_failures_are_not_retried(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI, code: int
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    docker_api.exit_code = code
    docker_api.output = ["2026-01-01 INFO starting", "daily-synthetic: error: something"]
    with pytest.raises(
        AirflowFailException, match=f"exited with {code}: daily-synthetic: error: something"
    ) as info:
        _operator(mod, policy).execute(_context())
    assert "not retried" in str(info.value)
    assert docker_api.calls[-2:] == ["stop", "remove"]  # removed after a failure too


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (1, ""),
        (3, "destination error"),
        (5, "disk full"),
        (6, "incomplete day"),
        (7, "another run holds the day's lease"),
        (8, "deadline passed"),
        (143, "SIGTERM"),
    ],
)
def test_runtime_errors_stay_retryable(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI, code: int, says: str
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    docker_api.exit_code = code
    docker_api.output = ["daily-synthetic: error: cannot reach S3 at http://127.0.0.1:1", "x"]
    with pytest.raises(AirflowException, match=f"exited with {code}: .*cannot reach S3") as info:
        _operator(mod, policy).execute(_context())
    assert not isinstance(info.value, AirflowFailException)
    assert says in str(info.value)


def test_exit_code_comes_from_the_container_state_not_the_message(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI, monkeypatch: Any
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    docker_api.exit_code = 3
    # The engine's own record says 2: that is what counts, whatever the wait() text says.
    monkeypatch.setattr(
        docker_api,
        "inspect_container",
        lambda container_id: {"State": {"ExitCode": 2, "OOMKilled": False}},
    )
    with pytest.raises(AirflowFailException, match="exited with 2"):
        _operator(mod, policy).execute(_context())


def test_oom_kill_is_named_and_not_retried(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    docker_api.exit_code, docker_api.oom_killed = 137, True
    docker_api.output = ["INFO generating"]
    with pytest.raises(AirflowFailException, match=r"out of memory.*DAILY_SYNTHETIC_MEM_LIMIT"):
        _operator(mod, policy).execute(_context())


def test_on_kill_stops_with_grace_and_removes(
    mod: ModuleType, policy: ModuleType, docker_api: FakeDockerAPI
) -> None:
    op = _operator(mod, policy)
    op.on_kill()  # before any container: nothing to do
    assert docker_api.calls == []
    docker_api.output = [json.dumps(MANIFEST)]
    op.execute(_context())
    op.on_kill()  # after: stopping an exited container again is harmless
    assert docker_api.stop_timeout == policy.STOP_GRACE_SECONDS > 2  # the job needs <= 2 s


def test_credentials_mapping_reads_the_env_when_used(policy: ModuleType, monkeypatch: Any) -> None:
    creds = policy.WorkerCredentials()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    assert dict(creds) == {}
    assert bool(creds)  # DockerOperator replaces a falsy private_environment with {}
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "")
    assert dict(creds) == {"AWS_SECRET_ACCESS_KEY": SECRET}


# --- the manifest ------------------------------------------------------------------------


def test_parse_manifest_last_line(policy: ModuleType) -> None:
    assert policy.parse_manifest(["log", json.dumps(MANIFEST)]) == MANIFEST
    assert policy.parse_manifest(json.dumps(MANIFEST)) == MANIFEST


def test_parse_manifest_tolerates_a_late_log_line(policy: ModuleType) -> None:
    assert policy.parse_manifest([json.dumps(MANIFEST), "INFO done in 3.2 s"]) == MANIFEST


@pytest.mark.parametrize(
    "output",
    [None, [], ["no json here"], [json.dumps({"rows": 1})], [json.dumps([1, 2, 3])]],
)
def test_parse_manifest_rejects(policy: ModuleType, output: Any) -> None:
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="no JSON manifest"):
        policy.parse_manifest(output)
