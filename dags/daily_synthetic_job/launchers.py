"""DAILY_SYNTHETIC_LAUNCHER=docker|ecs|kubernetes: which operator runs the job container.

Read when the DAG file is parsed (it decides the operator class, i.e. the DAG's shape), so
the DAG processor and the workers must agree on it. Only the chosen launcher's provider is
imported: an Airflow image for ECS needs no Kubernetes client, and the other way round.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daily_synthetic_job.policy import Job

LAUNCHERS = ("docker", "ecs", "kubernetes")
DEFAULT_LAUNCHER = "docker"


@dataclass(frozen=True)
class Launcher:
    """An operator class and the keyword arguments every task running a given Job gets."""

    name: str
    operator: type[Any]
    container: dict[str, Any]  # daily_synthetic's job (DAILY_JOB)
    description: str
    arguments: Callable[[Job], dict[str, Any]]

    def run(self, job: Job) -> dict[str, Any]:
        """The operator's arguments for a task that runs `job` (another image or entrypoint)."""
        return self.arguments(job)


def launcher_name() -> str:
    name = (os.environ.get("DAILY_SYNTHETIC_LAUNCHER") or DEFAULT_LAUNCHER).strip().lower()
    if name not in LAUNCHERS:
        raise ValueError(
            f"DAILY_SYNTHETIC_LAUNCHER must be one of {', '.join(LAUNCHERS)}, got {name!r}"
        )
    return name


def load_launcher(name: str | None = None) -> Launcher:
    """The launcher `name` (default: DAILY_SYNTHETIC_LAUNCHER), importing only its provider."""
    name = name or launcher_name()
    module = importlib.import_module(f"daily_synthetic_job.{name}")
    return Launcher(
        name=name,
        operator=module.OPERATOR,
        container=dict(module.CONTAINER),
        description=module.DESCRIPTION,
        arguments=module.container,
    )
