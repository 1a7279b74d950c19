"""Two DAGs, three launchers: docker, ecs and kubernetes give each job container the same run.

Every job task of both DAGs (daily_synthetic's generate, payment_features' features and
materialize) goes through the same tests on each launcher. Each launcher's operator is
rendered against a fake context; ECS and IAM calls go to moto in-process (mock_aws); no
cluster, no Docker engine. deploy/ is checked against the code.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.unit.dags.conftest import DAGS

ROOT = DAGS.parent
DEPLOY = ROOT / "deploy"
LAUNCHERS = ("docker", "ecs", "kubernetes")
SECRET = "launcher-test-secret-9d1e"
DAY = "2025-06-12"
ROWS = 2_500_000
MANIFEST = {"rows": ROWS, "uri": "s3://raw/year=2025/month=06/day=12/", "date": DAY}
PLACEHOLDERS = {
    "ACCOUNT_ID": "123456789012",
    "AWS_REGION": "us-east-1",
    "JOB_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/daily-synthetic-job:0.1.0",
    "RAW_BUCKET": "raw-bucket",
    "RAW_PREFIX": "card_payments_raw/",
    "LABELS_BUCKET": "raw-bucket",
    "LABELS_PREFIX": "fraud_reports/",
    "OIDC_PROVIDER": "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
    "DAY": DAY,
}


def _load_dag(launcher: str, monkeypatch: Any, dag_id: str = "daily_synthetic") -> Any:
    """dags/<dag_id>.py parsed with DAILY_SYNTHETIC_LAUNCHER=launcher (a fresh module)."""
    monkeypatch.setenv("DAILY_SYNTHETIC_LAUNCHER", launcher)
    spec = importlib.util.spec_from_file_location(f"{dag_id}_{launcher}", DAGS / f"{dag_id}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


# Every task of both DAGs that runs a container: (dag, task, the command it runs, its env
# besides the pass-through variables, the asset it feeds, timeout scale).
@dataclass(frozen=True)
class Case:
    dag_id: str
    task_id: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    outlet: str | None
    job: str

    def __str__(self) -> str:
        return f"{self.dag_id}.{self.task_id}"


CASES = [
    Case(
        "daily_synthetic",
        "generate",
        ("--date", DAY, "--rows", str(ROWS)),
        (("DAILY_SYNTHETIC_DEADLINE", str(12 * 60)),),  # 10 + 3 minutes, less one
        "daily_synthetic_raw",
        "daily-synthetic-job",
    ),
    Case(
        "payment_features",
        "features",
        ("--date", DAY, "-q", "--dest", "s3://features-bucket"),
        (),
        None,
        "daily-synthetic-features",
    ),
    Case(
        "payment_features",
        "materialize",
        ("materialize", "--date", DAY, "--days", "3"),
        (
            ("DAILY_SYNTHETIC_DATA", "s3://raw-bucket"),
            # The same root the features step writes to (its --dest), never a default.
            ("DAILY_SYNTHETIC_FEATURES", "s3://features-bucket"),
        ),
        "daily_synthetic_features",
        "daily-synthetic-feast",
    ),
]


def _task(launcher: str, case: Case, monkeypatch: Any) -> Any:
    """The DAG's task for `case`, as one run of it (a mapped task expanded with its command)."""
    task = _load_dag(launcher, monkeypatch, case.dag_id).task_dict[case.task_id]
    if case.dag_id == "daily_synthetic":
        return task
    command = list(case.command)
    if hasattr(task, "partial_kwargs"):  # mapped: what one expanded instance gets
        return task.unmap({"command": command})
    task = copy.copy(task)  # its command is an XComArg until upstream has run
    if launcher == "kubernetes":
        task.arguments = command
    else:
        task.command = command
    return task


def _rendered_case(launcher: str, case: Case, monkeypatch: Any) -> Any:
    task = _task(launcher, case, monkeypatch)
    task.render_template_fields(_context(case.task_id, case.dag_id), task.dag.get_template_env())
    return task


@pytest.fixture
def worker_env(monkeypatch: Any) -> None:
    """A worker's environment, credentials included: only docker may pass them on."""
    monkeypatch.setenv("DAILY_SYNTHETIC_IMAGE", PLACEHOLDERS["JOB_IMAGE"])
    monkeypatch.setenv("DAILY_SYNTHETIC_MEM_LIMIT", "3g")
    monkeypatch.setenv("RAW_BUCKET", "raw-bucket")
    monkeypatch.setenv("FEATURES_BUCKET", "features-bucket")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALAUNCHERTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("DAILY_SYNTHETIC_ECS_CLUSTER", "feeds")
    monkeypatch.setenv("DAILY_SYNTHETIC_ECS_SUBNETS", "subnet-a, subnet-b")
    monkeypatch.setenv("DAILY_SYNTHETIC_ECS_SECURITY_GROUPS", "sg-1")
    monkeypatch.setenv("DAILY_SYNTHETIC_K8S_NAMESPACE", "feeds")


def _context(task_id: str = "generate", dag_id: str = "daily_synthetic") -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id=dag_id,
        run_id="scheduled__2025-06-12T02:00:00+00:00",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        xcom_push=lambda **kw: None,
    )

    class OutletEvents(dict):
        def __missing__(self, key: Any) -> Any:
            self[key] = SimpleNamespace(extra={})
            return self[key]

    return {
        "ds": DAY,
        "run_id": ti.run_id,
        "dag": SimpleNamespace(dag_id=dag_id),
        "params": {"rows": ROWS, "shards": 1},
        "ti": ti,
        "outlet_events": OutletEvents(),
    }


def _rendered(dag: Any, task_id: str = "generate") -> Any:
    task = dag.task_dict[task_id]
    task.render_template_fields(_context(task_id), dag.get_template_env())
    return task


def _run_spec(launcher: str, task: Any) -> dict[str, Any]:
    """What each launcher hands the platform, reduced to one shape: args, env, memory."""
    from daily_synthetic_job import limits

    if launcher == "docker":
        # Docker's cap also holds the /tmp tmpfs (its pages count as the container's memory).
        days = task.job.scratch_days
        scratch = limits.scratch_mib(ROWS, days) if days else 0
        return {
            "args": list(task.command),
            "env": dict(task.environment),
            "memory_mib": int(task.mem_limit.removesuffix("m")) - scratch,
        }
    if launcher == "ecs":
        (container,) = task.overrides["containerOverrides"]
        return {
            "args": container["command"],
            "env": {e["name"]: e["value"] for e in container["environment"]},
            "memory_mib": container["memory"],
        }
    pod = task.build_pod_request_obj(_context(), dry_run=True)
    (container,) = pod.spec.containers
    return {
        "args": container.args,
        "env": {e.name: e.value for e in container.env},
        "memory_mib": int(container.resources.limits["memory"].removesuffix("Mi")),
    }


# --- the same run, whatever the launcher ---------------------------------------------------


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_each_launcher_builds_the_same_dag(launcher: str, monkeypatch: Any) -> None:
    dag = _load_dag(launcher, monkeypatch)
    assert set(dag.task_dict) == {
        "choose_path", "generate", "plan_shards", "shard", "finalize", "reports_configured",
        "report",
    }  # fmt: skip
    operator = {"docker": "DockerJobOperator", "ecs": "EcsJobOperator"}.get(
        launcher, "PodJobOperator"
    )
    assert type(dag.task_dict["generate"]).__name__ == operator
    assert dag.task_dict["shard"].operator_class.__name__ == operator
    assert type(dag.task_dict["report"]).__name__ == operator
    assert [o.name for o in dag.task_dict["generate"].outlets] == ["daily_synthetic_raw"]


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize("case", CASES, ids=str)
def test_same_command_environment_and_memory_for_all_launchers(
    case: Case, monkeypatch: Any
) -> None:
    specs = {
        launcher: _run_spec(launcher, _rendered_case(launcher, case, monkeypatch))
        for launcher in LAUNCHERS
    }
    expected_env = {
        "RAW_BUCKET": "raw-bucket",
        "FEATURES_BUCKET": "features-bucket",
        "AWS_DEFAULT_REGION": "us-east-1",
        **dict(case.env),
    }
    assert specs["docker"] == {
        "args": list(case.command),
        "env": expected_env,
        "memory_mib": 3072,
    }
    assert specs["ecs"] == specs["docker"]
    assert specs["kubernetes"] == specs["docker"]


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize("case", CASES, ids=str)
def test_same_image_and_entrypoint_for_all_launchers(case: Case, monkeypatch: Any) -> None:
    from daily_synthetic_job import ecs
    from daily_synthetic_job.policy import JOBS

    job = JOBS[case.job]
    docker = _rendered_case("docker", case, monkeypatch)
    pod_op = _rendered_case("kubernetes", case, monkeypatch)
    (pod,) = pod_op.build_pod_request_obj(_context(), dry_run=True).spec.containers
    ecs_op = _rendered_case("ecs", case, monkeypatch)
    assert docker.image == pod.image == job.image({}, None)
    assert (docker.entrypoint or None) == (pod.command or None) == (list(job.entrypoint) or None)
    # ECS cannot override an entrypoint: each job has a task definition (and container) of its own.
    assert ecs_op.task_definition == ecs_op.container_name == job.name
    assert ecs.task_definition_variable(job).startswith("DAILY_SYNTHETIC_ECS_TASK_DEFINITION")


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_timeout_and_no_keys_in_anything_rendered(
    launcher: str, case: Case, monkeypatch: Any
) -> None:
    import datetime as dt

    from daily_synthetic_job.policy import JOBS

    task = _rendered_case(launcher, case, monkeypatch)
    assert task.execution_timeout == dt.timedelta(minutes=13) * JOBS[case.job].timeout_scale
    rendered = {field: repr(getattr(task, field)) for field in task.template_fields}
    if launcher == "kubernetes":
        rendered["pod"] = repr(task.build_pod_request_obj(_context(), dry_run=True).to_dict())
    text = json.dumps(rendered)
    assert SECRET not in text
    assert "AKIALAUNCHERTEST" not in text
    assert task.on_failure_callback  # the webhook alert, whatever the launcher


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_parsing_imports_only_the_chosen_provider(launcher: str, tmp_path: Path) -> None:
    """The Airflow image for one launcher needs only that launcher's provider."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import daily_synthetic; "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "DAILY_SYNTHETIC_LAUNCHER": launcher,
    }
    done = subprocess.run(
        [sys.executable, "-c", probe, str(DAGS)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = set(done.stdout.split())
    loaded = {
        "docker": "airflow.providers.docker.operators.docker" in modules,
        "ecs": "airflow.providers.amazon.aws.operators.ecs" in modules,
        "kubernetes": "kubernetes.client" in modules,
    }
    assert loaded == {name: name == launcher for name in LAUNCHERS}


def test_unknown_launcher_is_refused(monkeypatch: Any) -> None:
    with pytest.raises(ValueError, match="docker, ecs, kubernetes"):
        _load_dag("nomad", monkeypatch)


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize(
    ("dag_id", "task_id", "command"),
    [
        ("daily_synthetic", "shard", ["--date", DAY, "--rows", str(ROWS), "--shard", "1/3"]),
        ("payment_features", "features", ["--date", DAY, "-q"]),
    ],
)
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_a_mapped_task_gets_the_same_run_as_an_unmapped_one(
    launcher: str, dag_id: str, task_id: str, command: list[str], monkeypatch: Any
) -> None:
    """The task runner renders a mapped task's expanded copy without calling that copy's
    render_template_fields: sizes, timeout and ECS overrides must be made all the same."""
    import datetime as dt

    from daily_synthetic_job import limits

    dag = _load_dag(launcher, monkeypatch, dag_id)
    mapped = dag.task_dict[task_id]
    context = _context(task_id, dag_id)
    context["ti"].map_index = 0
    context["ti"].xcom_pull = lambda **kw: [command]
    context["dag"], context["dag_run"] = dag, SimpleNamespace(conf={"rows": ROWS})
    mapped.render_template_fields(context, dag.get_template_env())
    task = context["task"]  # the expanded, rendered copy the runner executes
    job = task.job
    assert task.execution_timeout == job.timeout(ROWS) > dt.timedelta(0)
    if launcher == "docker":
        assert task.command == command
        (tmp,) = task.mounts
        assert tmp["TmpfsOptions"]["SizeBytes"] == limits.scratch_mib(ROWS, job.scratch_days) << 20
    elif launcher == "ecs":
        (container,) = task.overrides["containerOverrides"]
        assert container["command"] == command
        assert container["name"] == job.name
    else:
        pod = task.build_pod_request_obj(context, dry_run=True)
        assert pod.spec.containers[0].args == command


# --- limits ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker_env")
def test_docker_container_is_confined_with_tmp_sized_from_rows(
    case: Case, monkeypatch: Any
) -> None:
    from airflow.providers.docker.operators.docker import DockerOperator

    from daily_synthetic_job import limits
    from daily_synthetic_job.policy import JOBS
    from tests.unit.dags.test_dag_daily_synthetic import FakeDockerAPI

    job = JOBS[case.job]
    api = FakeDockerAPI()
    api.output = [json.dumps(MANIFEST)]
    monkeypatch.setattr(DockerOperator, "cli", property(lambda self: api))
    task = _rendered_case("docker", case, monkeypatch)
    task.execute(_context(case.task_id, case.dag_id))
    assert api.created is not None
    host = api.created["host_config"]
    assert host["cap_drop"] == ["ALL"]
    assert host["security_opt"] == ["no-new-privileges:true"]
    assert host["pids_limit"] == limits.PIDS_LIMIT
    assert host["nano_cpus"] == limits.JOB_CPUS * 1e9
    assert host["privileged"] is False
    assert host["read_only"] is job.read_only_root
    tmp = [m for m in host["mounts"] if m["Target"] == "/tmp"]
    if not job.scratch_days:  # the Feast image: its /tmp is not sized (yet)
        assert tmp == [] and host["read_only"] is False
        assert host["mem_limit"] == "3072m"
        return
    scratch = limits.scratch_mib(ROWS, job.scratch_days)
    assert [(m["Type"], m["TmpfsOptions"]["SizeBytes"]) for m in tmp] == [
        ("tmpfs", scratch * 1024**2)
    ]
    assert host["mem_limit"] == f"{3072 + scratch}m"  # the tmpfs counts as memory
    assert not [m for m in host["mounts"] if m["Type"] == "bind"]  # no host folder unless asked


def test_confinement_is_a_host_config_the_docker_api_accepts() -> None:
    """docker-py's own HostConfig (API 1.41, Docker 20.10) takes every added key."""
    import docker

    from daily_synthetic_job.docker import CONFINED, HardenedClient

    client = HardenedClient(docker.APIClient(version="1.41"), {**CONFINED, "read_only": True})
    config = client.create_host_config(mem_limit="1g", auto_remove=False)
    assert config["CapDrop"] == ["ALL"]
    assert config["SecurityOpt"] == ["no-new-privileges:true"]
    assert config["PidsLimit"] == CONFINED["pids_limit"]
    assert config["NanoCpus"] == CONFINED["nano_cpus"]
    assert config["ReadonlyRootfs"] is True


@pytest.mark.usefixtures("worker_env")
@pytest.mark.parametrize("rows", [1_000, 50_000_000])
def test_pod_storage_grows_with_rows_and_mounts_no_api_token(
    case: Case, rows: int, monkeypatch: Any
) -> None:
    from daily_synthetic_job import limits
    from daily_synthetic_job.policy import JOBS

    days = JOBS[case.job].scratch_days
    if not days:
        pytest.skip(f"{case}: no sized scratch (the Feast image's temporary use is not measured)")
    task = _task("kubernetes", case, monkeypatch)
    context = _context(case.task_id, case.dag_id)
    context["params"]["rows"] = rows
    task.render_template_fields(context, task.dag.get_template_env())
    pod = task.build_pod_request_obj(context, dry_run=True)
    assert pod.spec.automount_service_account_token is False  # IRSA projects its own token
    (volume,) = pod.spec.volumes
    assert volume.empty_dir.size_limit == f"{limits.scratch_mib(rows, days)}Mi"
    (container,) = pod.spec.containers
    storage = limits.ephemeral_storage_mib(rows, days)
    assert container.resources.limits["ephemeral-storage"] == f"{storage}Mi"
    # The largest day's Parquet (measured bytes per row) fits, with its log beside it.
    assert (storage - limits.LOG_ALLOWANCE_MIB) * 1024**2 > rows * days * 39.5


# --- ECS -----------------------------------------------------------------------------------


@pytest.fixture
def ecs_task(worker_env: None, monkeypatch: Any) -> Any:
    return _rendered(_load_dag("ecs", monkeypatch))


def test_ecs_settings_from_the_worker_env(ecs_task: Any) -> None:
    assert ecs_task.cluster == "feeds"
    assert ecs_task.task_definition == "daily-synthetic-job"
    assert ecs_task.launch_type == "FARGATE"
    assert ecs_task.network_configuration == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "DISABLED",
        }
    }
    assert ecs_task.awslogs_group == "/ecs/daily-synthetic-job"
    assert ecs_task.overrides["memory"] == "3072"
    assert ecs_task.tags["io.daily-synthetic.run_id"] == "scheduled__2025-06-12T02:00:00+00:00"
    assert ecs_task.reattach is True


@pytest.fixture(params=CASES, ids=str)
def case(request: Any) -> Case:
    return request.param


@pytest.fixture
def ecs_job_task(worker_env: None, case: Case, monkeypatch: Any) -> Any:
    return _rendered_case("ecs", case, monkeypatch)


def _check_result(case: Case, result: Any, context: dict[str, Any]) -> None:
    """The result is the XCom; with the run's metrics it is the extra of the task's asset."""
    assert result == MANIFEST
    if case.outlet is None:
        assert context["outlet_events"] == {}
        return
    ((asset, event),) = context["outlet_events"].items()
    assert asset.name == case.outlet
    metrics = event.extra.pop("metrics")
    assert event.extra == MANIFEST
    assert metrics["rows"] == ROWS
    assert metrics["container_seconds"] >= 0


class _FakeEcs:
    def __init__(self, container: dict[str, Any], name: str = "daily-synthetic-job") -> None:
        self.container = {"name": name, **container}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {"tasks": [{"containers": [self.container]}]}


def _ecs_outcome(
    task: Any, monkeypatch: Any, container: dict[str, Any], logs: list[str], fails: bool
) -> Any:
    """Run the operator with ECS replaced: the task ends with `container`, CloudWatch has logs."""
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
    from airflow.sdk.exceptions import AirflowException

    def fake_execute(self: Any, context: Any) -> None:
        self.arn = "arn:aws:ecs:us-east-1:123456789012:task/feeds/abc"
        self.task_log_fetcher = SimpleNamespace(get_last_log_messages=lambda n: logs[-n:])
        if fails:
            raise AirflowException("This task is not in success state - last 50 logs ...")

    fake = _FakeEcs(container, task.container_name)
    monkeypatch.setattr(EcsRunTaskOperator, "execute", fake_execute)
    monkeypatch.setattr(EcsRunTaskOperator, "client", fake, raising=False)
    context = _context(task.task_id, task.dag_id)
    return task.execute(context), context


def test_ecs_manifest_from_cloudwatch_is_the_xcom_and_the_event(
    ecs_job_task: Any, case: Case, monkeypatch: Any
) -> None:
    logs = ["INFO generating", json.dumps(MANIFEST), "INFO done"]
    result, context = _ecs_outcome(ecs_job_task, monkeypatch, {"exitCode": 0}, logs, fails=False)
    _check_result(case, result, context)


@pytest.mark.parametrize(
    ("container", "retried", "says"),
    [
        ({"exitCode": 7}, True, "another run holds the day's lease"),
        ({"exitCode": 8}, True, "deadline passed"),
        ({"exitCode": 9}, False, "out of memory"),
        ({"exitCode": 137, "reason": "OutOfMemoryError: Container killed"}, False, "memory"),
        ({"exitCode": 2}, False, "bad arguments"),
    ],
)
def test_ecs_exit_codes_follow_the_shared_policy(
    ecs_job_task: Any, monkeypatch: Any, container: dict[str, Any], retried: bool, says: str
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    logs = ["daily-synthetic: error: the reason"]
    with pytest.raises(AirflowException, match=f"exited with {container['exitCode']}") as info:
        _ecs_outcome(ecs_job_task, monkeypatch, container, logs, fails=True)
    assert isinstance(info.value, AirflowFailException) is not retried
    assert says in str(info.value)
    assert "the reason" in str(info.value)


def _deploy(path: str) -> str:
    return string.Template((DEPLOY / path).read_text()).substitute(PLACEHOLDERS)


def _image_user() -> int:
    match = re.search(r"^USER (\d+):(\d+)$", (ROOT / "job.Dockerfile").read_text(), re.M)
    assert match and match.group(1) == match.group(2)
    return int(match.group(1))


def test_ecs_task_definition_matches_the_image_and_the_launcher() -> None:
    from daily_synthetic_job import ecs, policy

    task_def = json.loads(_deploy("ecs/task-definition.json"))
    (container,) = task_def["containerDefinitions"]
    assert task_def["family"] == ecs.DEFAULT_TASK_DEFINITION
    assert task_def["requiresCompatibilities"] == ["FARGATE"]
    assert container["name"] == ecs.CONTAINER_NAME
    assert container["user"] == f"{_image_user()}:{_image_user()}"
    assert container["readonlyRootFilesystem"] is True
    assert {m["containerPath"] for m in container["mountPoints"]} == {"/tmp"}  # TMPDIR
    assert container["stopTimeout"] == policy.STOP_GRACE_SECONDS
    logs = container["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == ecs.DEFAULT_LOG_GROUP
    assert logs["options"]["awslogs-stream-prefix"] == ecs.LOG_STREAM_PREFIX
    names = {e["name"] for e in container["environment"]}
    assert not names & set(policy.SECRET_ENV)  # the task role, never keys


@pytest.fixture
def aws(monkeypatch: Any) -> Any:
    from moto import mock_aws
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # moto gap: an ENI made for an awsvpc task lacks private_dns_name unless ec2 set it.
    if not hasattr(NetworkInterface, "private_dns_name"):
        monkeypatch.setattr(
            NetworkInterface,
            "private_dns_name",
            property(lambda self: "ip.ec2.internal"),
            raising=False,
        )
    with mock_aws():
        yield


@pytest.mark.usefixtures("aws")
def test_deploy_registers_and_runs_with_the_operators_overrides(
    worker_env: None, monkeypatch: Any
) -> None:
    """Register the task definition, create the role and policy, and let the provider's
    operator start the task with what the DAG rendered (moto does not run containers)."""
    import boto3
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(
        RoleName="daily-synthetic-job-task",
        AssumeRolePolicyDocument=_deploy("iam/task-role-trust.json"),
    )
    policy_arn = iam.create_policy(
        PolicyName="daily-synthetic-job-s3", PolicyDocument=_deploy("iam/task-role-policy.json")
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="daily-synthetic-job-task", PolicyArn=policy_arn)
    iam.create_role(
        RoleName="daily-synthetic-job-irsa", AssumeRolePolicyDocument=_deploy("iam/irsa-trust.json")
    )

    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="job", Description="job", VpcId=vpc)["GroupId"]
    monkeypatch.setenv("DAILY_SYNTHETIC_ECS_SUBNETS", subnet)
    monkeypatch.setenv("DAILY_SYNTHETIC_ECS_SECURITY_GROUPS", group)

    ecs_client = boto3.client("ecs", region_name="us-east-1")
    ecs_client.create_cluster(clusterName="feeds")
    registered = ecs_client.register_task_definition(
        **json.loads(_deploy("ecs/task-definition.json"))
    )["taskDefinition"]
    assert registered["taskRoleArn"].endswith(":role/daily-synthetic-job-task")

    task = _rendered(_load_dag("ecs", monkeypatch))
    task.aws_conn_id = None  # boto3's default chain: moto here, the worker's role in AWS
    task.region_name = "us-east-1"
    task.wait_for_completion = False
    # The provider's own run path: RunTask with the rendered overrides, network and tags.
    EcsRunTaskOperator.execute(task, _context())
    (started,) = ecs_client.describe_tasks(cluster="feeds", tasks=[task.arn])["tasks"]
    assert started["taskDefinitionArn"] == registered["taskDefinitionArn"]
    assert started["overrides"]["containerOverrides"] == task.overrides["containerOverrides"]
    assert started["launchType"] == "FARGATE"


# --- Kubernetes ----------------------------------------------------------------------------


@pytest.fixture
def pod_task(worker_env: None, monkeypatch: Any) -> Any:
    return _rendered(_load_dag("kubernetes", monkeypatch))


@pytest.fixture
def pod_job_task(worker_env: None, case: Case, monkeypatch: Any) -> Any:
    return _rendered_case("kubernetes", case, monkeypatch)


def test_pod_matches_the_image_and_uses_its_service_account(pod_task: Any) -> None:
    from daily_synthetic_job import policy

    pod = pod_task.build_pod_request_obj(_context(), dry_run=True)
    (container,) = pod.spec.containers
    assert pod.metadata.namespace == "feeds"
    assert pod.spec.service_account_name == "daily-synthetic-job"
    assert container.image == PLACEHOLDERS["JOB_IMAGE"]
    assert pod.spec.security_context.run_as_user == _image_user()
    assert pod.spec.security_context.run_as_non_root is True
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.capabilities.drop == ["ALL"]
    assert [m.mount_path for m in container.volume_mounts] == ["/tmp"]
    assert pod.spec.termination_grace_period_seconds == policy.STOP_GRACE_SECONDS
    assert pod.metadata.annotations["io.daily-synthetic.task_id"] == "generate"


def test_kubernetes_job_manifest_matches_the_launcher() -> None:
    import yaml  # type: ignore[import-untyped]

    from daily_synthetic_job import kubernetes, policy

    job = yaml.safe_load(_deploy("kubernetes/job.yaml"))
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    # The manifest's day: the rows in its args, the launcher's pod for that many rows.
    rows = int(container["args"][container["args"].index("--rows") + 1])
    context = {"params": {"rows": rows}}
    template = kubernetes.pod_template(context, None)["spec"]
    assert spec["securityContext"] == kubernetes.POD_SECURITY == template["securityContext"]
    assert container["securityContext"] == kubernetes.CONTAINER_SECURITY
    assert spec["securityContext"]["runAsUser"] == _image_user()
    assert spec["terminationGracePeriodSeconds"] == policy.STOP_GRACE_SECONDS
    assert container["volumeMounts"] == template["containers"][0]["volumeMounts"]
    assert spec["volumes"] == template["volumes"]  # /tmp sized from rows
    # Memory (DAILY_SYNTHETIC_MEM_LIMIT's default) and ephemeral storage for that many rows.
    assert container["resources"] == template["containers"][0]["resources"]
    assert spec["automountServiceAccountToken"] is False is template["automountServiceAccountToken"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["DAILY_SYNTHETIC_DEADLINE"] == str(policy.deadline_seconds(rows))
    assert job["spec"]["activeDeadlineSeconds"] == policy.job_timeout(rows).total_seconds()
    assert spec["serviceAccountName"] == kubernetes.DEFAULT_SERVICE_ACCOUNT
    account = yaml.safe_load(_deploy("kubernetes/service-account.yaml"))
    assert account["metadata"]["name"] == kubernetes.DEFAULT_SERVICE_ACCOUNT
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    assert account["automountServiceAccountToken"] is False
    assert not {e["name"] for e in container["env"]} & set(policy.SECRET_ENV)


def _pod(exit_code: int, reason: str = "Error") -> Any:
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

    terminated = k8s.V1ContainerStateTerminated(exit_code=exit_code, reason=reason)
    status = k8s.V1ContainerStatus(
        name="base",
        image="x",
        image_id="x",
        ready=False,
        restart_count=0,
        state=k8s.V1ContainerState(terminated=terminated),
    )
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="daily-synthetic-job-x", namespace="feeds"),
        status=k8s.V1PodStatus(
            phase="Succeeded" if exit_code == 0 else "Failed", container_statuses=[status]
        ),
    )


def _pod_outcome(task: Any, monkeypatch: Any, pod: Any, log: str) -> Any:
    """Run the operator with the cluster replaced: the pod ends as `pod`, its log is `log`."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.exceptions import AirflowException

    def fake_execute(self: Any, context: Any) -> None:
        self.cleanup(pod, pod, context=context)

    def fake_cleanup(self: Any, pod: Any, remote_pod: Any, *args: Any, **kwargs: Any) -> None:
        if remote_pod.status.phase != "Succeeded":
            raise AirflowException(f"Pod {pod.metadata.name} returned a failure.")

    client = SimpleNamespace(read_namespaced_pod_log=lambda **kw: log)
    monkeypatch.setattr(KubernetesPodOperator, "execute", fake_execute)
    monkeypatch.setattr(KubernetesPodOperator, "cleanup", fake_cleanup)
    monkeypatch.setattr(KubernetesPodOperator, "client", client, raising=False)
    context = _context(task.task_id, task.dag_id)
    return task.execute(context), context


def test_pod_manifest_from_its_log_is_the_xcom_and_the_event(
    pod_job_task: Any, case: Case, monkeypatch: Any
) -> None:
    log = f"INFO generating\n{json.dumps(MANIFEST)}\n"
    result, context = _pod_outcome(pod_job_task, monkeypatch, _pod(0, "Completed"), log)
    _check_result(case, result, context)


@pytest.mark.parametrize(
    ("code", "reason", "retried", "says"),
    [
        (7, "Error", True, "lease"),
        (8, "Error", True, "deadline"),
        (9, "Error", False, "out of memory"),
        (137, "OOMKilled", False, "memory"),
        (4, "Error", False, "data check failed"),
    ],
)
def test_pod_exit_codes_follow_the_shared_policy(
    pod_job_task: Any, monkeypatch: Any, code: int, reason: str, retried: bool, says: str
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    log = "INFO x\ndaily-synthetic: error: the reason\n"
    with pytest.raises(AirflowException, match=f"exited with {code}: .*the reason") as info:
        _pod_outcome(pod_job_task, monkeypatch, _pod(code, reason), log)
    assert isinstance(info.value, AirflowFailException) is not retried
    assert says in str(info.value)


def test_modules_are_loaded_once(monkeypatch: Any) -> None:
    # Loading the DAG for several launchers must not leave one launcher's module half-built.
    for launcher in LAUNCHERS:
        _load_dag(launcher, monkeypatch)
    module: ModuleType = sys.modules["daily_synthetic_job.launchers"]
    assert module.LAUNCHERS == LAUNCHERS
