"""The ecs launcher: the job container as an ECS task on Fargate (EcsRunTaskOperator).

The task definition (deploy/ecs/task-definition.json) fixes the image, the non-root user, the
read-only root filesystem, the stop grace, the log configuration and the task role: the job
gets its S3 access from that role, never from keys. Per run the operator overrides the
command, the environment and the memory, like the other launchers. ECS cannot override an
entrypoint: a job with one of its own (payment-features, the Feast image) has a task
definition of its own, named after the job (`DAILY_SYNTHETIC_ECS_TASK_DEFINITION_FEATURES`,
`..._FEAST` override the family), whose container has the job's name.

Settings from the worker's environment (template-field callables):
DAILY_SYNTHETIC_ECS_CLUSTER, DAILY_SYNTHETIC_ECS_TASK_DEFINITION (family or family:revision),
DAILY_SYNTHETIC_ECS_SUBNETS and DAILY_SYNTHETIC_ECS_SECURITY_GROUPS (comma-separated),
DAILY_SYNTHETIC_ECS_LOG_GROUP, plus DAILY_SYNTHETIC_MEM_LIMIT and the pass-through variables.
The image is the task definition's: a new image is a new task-definition revision.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
from airflow.sdk.exceptions import AirflowException

from daily_synthetic_job.policy import (
    DAILY_JOB,
    Job,
    JobTask,
    container_labels,
    day_of,
    explain,
    memory_mib,
)

CONTAINER_NAME = DAILY_JOB.name  # the container's name in the task definition
DEFAULT_CLUSTER = "daily-synthetic"
DEFAULT_TASK_DEFINITION = DAILY_JOB.name
DEFAULT_LOG_GROUP = "/ecs/daily-synthetic-job"
LOG_STREAM_PREFIX = "daily-synthetic"  # awslogs-stream-prefix of the task definition
LOG_TAIL = 50  # CloudWatch lines read back for the manifest and the error line


def _listed(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def cluster_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    return os.environ.get("DAILY_SYNTHETIC_ECS_CLUSTER") or DEFAULT_CLUSTER


def task_definition_variable(job: Job) -> str:
    suffix = "" if job == DAILY_JOB else "_" + job.name.rsplit("-", 1)[-1].upper()
    return f"DAILY_SYNTHETIC_ECS_TASK_DEFINITION{suffix}"


class TaskDefinition:
    """A job's task definition (family or family:revision): its variable, else the job's name."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, context: Mapping[str, Any], jinja_env: Any) -> str:
        return os.environ.get(task_definition_variable(self.job)) or self.job.name


task_definition_from_env = TaskDefinition(DAILY_JOB)


def log_group_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    return os.environ.get("DAILY_SYNTHETIC_ECS_LOG_GROUP") or DEFAULT_LOG_GROUP


def network_from_env(context: Mapping[str, Any], jinja_env: Any) -> dict[str, Any]:
    """Fargate's awsvpc network: private subnets, no public IP (S3 through a VPC endpoint/NAT)."""
    return {
        "awsvpcConfiguration": {
            "subnets": _listed("DAILY_SYNTHETIC_ECS_SUBNETS"),
            "securityGroups": _listed("DAILY_SYNTHETIC_ECS_SECURITY_GROUPS"),
            "assignPublicIp": "DISABLED",
        }
    }


def overrides(
    command: list[str],
    environment: Mapping[str, str],
    mem_limit: str,
    container_name: str = CONTAINER_NAME,
) -> dict[str, Any]:
    """The per-run part of the task: the same command, environment and memory as docker's.

    Memory is set for the task and its one container; on Fargate it must fit the task's CPU
    (1 vCPU: 2 to 8 GiB).
    """
    memory = memory_mib(mem_limit)
    return {
        "memory": str(memory),
        "containerOverrides": [
            {
                "name": container_name,
                "command": [str(arg) for arg in command],
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "memory": memory,
            }
        ],
    }


class EcsJobOperator(JobTask, EcsRunTaskOperator):
    """EcsRunTaskOperator for the job's task definition, with the shared job policy.

    `overrides` is composed from the rendered command, environment and memory, so Rendered
    Templates shows exactly what ECS receives. Exit codes come from DescribeTasks.
    """

    template_fields = ("command", "environment", "mem_limit", *EcsRunTaskOperator.template_fields)

    def __init__(
        self, *, command: list[str], environment: Any, mem_limit: Any, **kwargs: Any
    ) -> None:
        super().__init__(overrides={}, **kwargs)
        self.command = command
        self.environment = environment
        self.mem_limit = mem_limit

    def after_render(self, context: Any) -> None:
        self.overrides = overrides(
            self.command, self.environment, self.mem_limit, self.container_name or CONTAINER_NAME
        )

    def execute(self, context: Any) -> dict[str, Any]:
        day_of(self.command)
        self.start_clock()
        try:
            super().execute(context)
        except AirflowException as exc:
            container = self._job_container()
            if container is None or container.get("exitCode") is None:
                raise
            oom = "OutOfMemory" in str(container.get("reason", ""))
            raise explain(int(container["exitCode"]), self._log_tail(), oom_killed=oom) from exc
        return self.publish(context, self._log_tail())

    def _job_container(self) -> dict[str, Any] | None:
        """The job container's final state as ECS reports it (exitCode, reason)."""
        if not self.arn:
            return None
        client: Any = self.client  # boto3's ECS client
        tasks = client.describe_tasks(cluster=self.cluster, tasks=[self.arn]).get("tasks", [])
        for task in tasks:
            for container in task.get("containers", []):
                if container.get("name") == self.container_name:
                    found: dict[str, Any] = container
                    return found
        return None

    def _log_tail(self) -> list[str]:
        if self.task_log_fetcher is None:
            return []
        return list(self.task_log_fetcher.get_last_log_messages(LOG_TAIL))


def container(job: Job) -> dict[str, Any]:
    """The operator's arguments for every task that runs `job`."""
    return {
        "job": job.name,
        "environment": job.environment,
        "mem_limit": job.mem_limit,
        "task_definition": TaskDefinition(job),
        "container_name": job.name,
        **COMMON,
    }


COMMON: dict[str, Any] = {
    "cluster": cluster_from_env,
    "network_configuration": network_from_env,
    "awslogs_group": log_group_from_env,
    "awslogs_stream_prefix": LOG_STREAM_PREFIX,
    "awslogs_fetch_interval": dt.timedelta(seconds=10),
    "launch_type": "FARGATE",
    "platform_version": "LATEST",
    "tags": container_labels,
    "propagate_tags": "TASK_DEFINITION",
    # A retry after a worker died finds the task still running instead of starting another.
    "reattach": True,
    "do_xcom_push": True,
    "number_logs_exception": LOG_TAIL,
}
CONTAINER = container(DAILY_JOB)

OPERATOR = EcsJobOperator
DESCRIPTION = "ECS (Fargate)"
