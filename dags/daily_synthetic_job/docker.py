"""The docker launcher: a job container on the worker's Docker engine (DockerOperator).

Settings from the worker's environment, all template-field callables:
DAILY_SYNTHETIC_IMAGE (or the job's own image variable), DAILY_SYNTHETIC_NETWORK,
DAILY_SYNTHETIC_MEM_LIMIT, DOCKER_HOST, DAILY_SYNTHETIC_LOCAL_DATA (with
DAILY_SYNTHETIC_LOCAL_FEATURES), DAILY_SYNTHETIC_FEAST_VOLUME and the pass-through variables. AWS credentials set on the worker reach the container through
the provider's private_environment only (the local stack has no task role).

The container is confined like the ECS task and the pod: read-only root with a /tmp tmpfs
sized from `rows`, all capabilities dropped, no-new-privileges, a CPU cap and a pids limit.
The provider has parameters for the memory and the mounts only; the rest goes into the host
config it creates (`HardenedClient`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow.providers.docker.exceptions import DockerContainerFailedException
from airflow.providers.docker.operators.docker import DockerOperator

from daily_synthetic_job import limits
from daily_synthetic_job.policy import (
    DAILY_JOB,
    LOCAL_DATA_MOUNT,
    LOCAL_FEATURES_MOUNT,
    STOP_GRACE_SECONDS,
    Job,
    JobTask,
    WorkerCredentials,
    container_labels,
    day_of,
    explain,
    local_features_dir,
    memory_mib,
)

DEFAULT_DOCKER_HOST = "unix://var/run/docker.sock"
DEFAULT_FEAST_VOLUME = "daily-synthetic-feast"
FEAST_DATA_MOUNT = "/feature_repo/data"  # the Feast image's registry + online store folder
SCRATCH = "/tmp"  # noqa: S108 - the job's TMPDIR, a tmpfs under a read-only root
# What the host config gets besides the provider's own parameters.
CONFINED: dict[str, Any] = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "pids_limit": limits.PIDS_LIMIT,
    "nano_cpus": int(limits.JOB_CPUS * 1e9),
}


def docker_host_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    """The engine to run on: DOCKER_HOST, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def network_from_env(context: Mapping[str, Any], jinja_env: Any) -> str | None:
    """DAILY_SYNTHETIC_NETWORK (e.g. the stack's network, or host), else Docker's bridge."""
    return os.environ.get("DAILY_SYNTHETIC_NETWORK") or None


def docker_mem_limit(job: Job, context: Mapping[str, Any]) -> str:
    """The job's memory cap plus its /tmp: a tmpfs's pages count against the container's memory."""
    scratch = job.scratch_mib(context) if job.scratch_days else 0
    return f"{memory_mib(job.mem_limit(context, None)) + scratch}m"


def job_mounts(job: Job, context: Mapping[str, Any]) -> list[Any]:
    """The scratch dir as a tmpfs sized from rows; the local data and features folders (each a
    mount of its own) and Feast's volume."""
    from docker.types import Mount  # the provider imports docker anyway

    mounts = []
    if job.scratch_days:
        size = job.scratch_mib(context) * 1024**2
        mounts.append(
            Mount(target=SCRATCH, source="", type="tmpfs", tmpfs_size=size, tmpfs_mode=0o1777)
        )
    if local := os.environ.get("DAILY_SYNTHETIC_LOCAL_DATA"):
        mounts.append(Mount(target=LOCAL_DATA_MOUNT, source=local, type="bind"))
        if job.features:
            mounts.append(
                Mount(target=LOCAL_FEATURES_MOUNT, source=local_features_dir(), type="bind")
            )
    if job.feast:
        volume = os.environ.get("DAILY_SYNTHETIC_FEAST_VOLUME") or DEFAULT_FEAST_VOLUME
        mounts.append(Mount(target=FEAST_DATA_MOUNT, source=volume, type="volume"))
    return mounts


class HardenedClient:
    """The provider's API client, with the confinement it has no parameters for added to the
    host config it creates."""

    def __init__(self, client: Any, extra: Mapping[str, Any]) -> None:
        self._client = client
        self._extra = dict(extra)

    def create_host_config(self, **kwargs: Any) -> Any:
        return self._client.create_host_config(**kwargs, **self._extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class DockerJobOperator(JobTask, DockerOperator):
    """DockerOperator for a job container.

    * The container is kept until the task has read its state (exit code, OOMKilled), then
      stopped with STOP_GRACE_SECONDS of grace and removed, whatever happened: success,
      failure, execution_timeout or a kill of the task.
    * Exit codes come from the container's state, not from the exception's text.
    """

    template_fields = (
        *DockerOperator.template_fields,
        "docker_url",
        "network_mode",
        "mem_limit",
        "labels",
        "mounts",
    )

    def __init__(self, **kwargs: Any) -> None:
        credentials = WorkerCredentials()
        # Annotated as dict, used as a mapping only ({**private_environment}).
        super().__init__(private_environment=credentials, **kwargs)
        self.credentials = credentials

    def after_render(self, context: Any) -> None:
        # Once rows (a param) is known: /tmp and the memory grow with it.
        self.mem_limit = docker_mem_limit(self.job, context)
        self.mounts = job_mounts(self.job, context)

    @property
    def confinement(self) -> dict[str, Any]:
        return {**CONFINED, "read_only": self.job.read_only_root}

    @property
    def cli(self) -> Any:  # DockerOperator's client, confined
        return HardenedClient(super().cli, self.confinement)

    # Returns the parsed result instead of DockerOperator's raw line(s): the XCom is a dict.
    def execute(self, context: Any) -> dict[str, Any]:  # type: ignore[override]
        day_of(self.command or [])  # never start a container with an empty --date
        self.log.info(
            "job container: image=%s network=%s mem_limit=%s env=%s credentials=%s",
            self.image,
            self.network_mode or "default",
            self.mem_limit,
            sorted(self.environment),
            self.credentials.mask(),  # names only
        )
        self.start_clock()
        try:
            output = super().execute(context)
        except DockerContainerFailedException as exc:
            state = self._container_state()
            if state is None:
                raise
            raise explain(
                int(state["ExitCode"]), exc.logs, oom_killed=bool(state.get("OOMKilled"))
            ) from exc
        finally:
            self._stop_and_remove()
        return self.publish(context, output)

    def on_kill(self) -> None:
        self._stop_and_remove()

    def _container_state(self) -> dict[str, Any] | None:
        from docker.errors import APIError

        if self.container is None:
            return None
        try:
            state: dict[str, Any] = self.cli.inspect_container(self.container["Id"])["State"]
        except APIError:
            return None
        return state

    def _stop_and_remove(self) -> None:
        """SIGTERM, STOP_GRACE_SECONDS for the job to shut down, then remove; idempotent."""
        from docker.errors import APIError, NotFound

        if self.container is None:
            return
        container_id = self.container["Id"]
        try:
            self.cli.stop(container_id, timeout=STOP_GRACE_SECONDS)  # no-op once it exited
            self.cli.remove_container(container_id, force=True)
        except NotFound:
            pass  # removed already (on_kill after a timeout, or by hand)
        except APIError as exc:
            self.log.warning("could not remove job container %s: %s", container_id, exc)


def container(job: Job) -> dict[str, Any]:
    """The operator's arguments for every task that runs `job`."""
    return {
        "job": job.name,
        "image": job.image,
        "entrypoint": list(job.entrypoint) or None,
        "environment": job.environment,
        "docker_url": docker_host_from_env,
        "network_mode": network_from_env,
        "mem_limit": job.mem_limit,  # plus /tmp, once rows is known (render_template_fields)
        "labels": container_labels,
        **COMMON,
    }


COMMON: dict[str, Any] = {
    "auto_remove": "never",  # the operator removes it itself, after reading its exit state
    "mount_tmp_dir": False,  # no host folder: /tmp is a tmpfs of its own (job_mounts)
    "force_pull": False,  # the image is built locally or pre-pulled by the deployment
    "tty": False,  # keep stdout lines intact: the last one is the manifest
    "do_xcom_push": True,
    # Hand every output line to execute(), which keeps only the manifest as the XCom.
    "xcom_all": True,
    # The job's log is a few lines per run; bound the engine's copy anyway.
    "log_opts_max_size": "10m",
    "log_opts_max_file": "3",
}
# Shared by generate, shard and finalize.
CONTAINER = container(DAILY_JOB)

OPERATOR = DockerJobOperator
DESCRIPTION = "Docker on the worker"
