"""The docker launcher: the job container on the worker's Docker engine (DockerOperator).

Settings from the worker's environment, all template-field callables:
DAILY_SYNTHETIC_IMAGE, DAILY_SYNTHETIC_NETWORK, DAILY_SYNTHETIC_MEM_LIMIT, DOCKER_HOST and the
pass-through variables. AWS credentials set on the worker reach the container through the
provider's private_environment only (the local stack has no task role).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow.providers.docker.exceptions import DockerContainerFailedException
from airflow.providers.docker.operators.docker import DockerOperator

from daily_synthetic_job.policy import (
    STOP_GRACE_SECONDS,
    JobTask,
    WorkerCredentials,
    container_labels,
    day_of,
    explain,
    image_from_env,
    job_env,
    mem_limit_from_env,
)

DEFAULT_DOCKER_HOST = "unix://var/run/docker.sock"


def docker_host_from_env(context: Mapping[str, Any], jinja_env: Any) -> str:
    """The engine to run on: DOCKER_HOST, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def network_from_env(context: Mapping[str, Any], jinja_env: Any) -> str | None:
    """DAILY_SYNTHETIC_NETWORK (e.g. the stack's network, or host), else Docker's bridge."""
    return os.environ.get("DAILY_SYNTHETIC_NETWORK") or None


class DockerJobOperator(JobTask, DockerOperator):
    """DockerOperator for the job image.

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
    )

    def __init__(self, **kwargs: Any) -> None:
        credentials = WorkerCredentials()
        # Annotated as dict, used as a mapping only ({**private_environment}).
        super().__init__(private_environment=credentials, **kwargs)  # type: ignore[arg-type]
        self.credentials = credentials

    # Returns the parsed manifest instead of DockerOperator's raw line(s): the XCom is a dict.
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


# Shared by generate, shard and finalize.
CONTAINER: dict[str, Any] = {
    "image": image_from_env,
    "environment": job_env,
    "docker_url": docker_host_from_env,
    "network_mode": network_from_env,
    "mem_limit": mem_limit_from_env,
    "labels": container_labels,
    "auto_remove": "never",  # the operator removes it itself, after reading its exit state
    "mount_tmp_dir": False,  # the job writes straight to S3; no host scratch dir needed
    "force_pull": False,  # the image is built locally or pre-pulled by the deployment
    "tty": False,  # keep stdout lines intact: the last one is the manifest
    "do_xcom_push": True,
    # Hand every output line to execute(), which keeps only the manifest as the XCom.
    "xcom_all": True,
    # The job's log is a few lines per run; bound the engine's copy anyway.
    "log_opts_max_size": "10m",
    "log_opts_max_file": "3",
}

OPERATOR = DockerJobOperator
DESCRIPTION = "Docker on the worker"
