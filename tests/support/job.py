"""The job image run as a container, and what a finished run looks like."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docker.client import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container

from tests.support.session import AWS_ENV, LABELS

JOB_IMAGE = os.environ.get("JOB_IMAGE", "daily-synthetic-job:dev")
MOTO_IMAGE = os.environ.get("MOTO_IMAGE", "daily-synthetic-moto:dev")
# How the job is meant to run in production (and by the DAG): nothing writable but /tmp.
HARDENED: dict[str, Any] = {
    "read_only": True,
    "tmpfs": {"/tmp": ""},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}
JOB_TIMEOUT_S = 300
# The contract's `error: ...`; the job prefixes it with its name, as argparse does.
ERROR_LINE = re.compile(r"^(daily-synthetic: )?error: \S")


@dataclass(frozen=True)
class JobRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def manifest(self) -> dict[str, Any]:
        """The contract: the last stdout line is the run's manifest as one JSON object."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no stdout; stderr:\n{self.stderr}"
        manifest = json.loads(lines[-1])
        assert isinstance(manifest, dict), lines[-1]
        return manifest

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def assert_ok(self) -> None:
        assert self.exit_code == 0, f"exit {self.exit_code}\nstderr:\n{self.stderr}"

    def assert_one_line_error(self) -> str:
        """Non-zero, exactly one `error:` line, last on stderr, and no traceback anywhere."""
        assert self.exit_code != 0, f"expected a failure; stdout:\n{self.stdout}"
        assert "Traceback" not in self.stderr, self.stderr
        errors = [line for line in self.stderr_lines if ERROR_LINE.match(line)]
        assert len(errors) == 1, f"want one 'error:' line, got:\n{self.stderr}"
        assert self.stderr_lines[-1] == errors[0], f"the error is not the last line:\n{self.stderr}"
        return errors[0]


@dataclass
class JobRunner:
    """Runs the job image to completion, on the host network, hardened unless told otherwise."""

    client: DockerClient
    image: str
    endpoint: str
    started: list[str] = field(default_factory=list)

    def start(
        self,
        args: Sequence[str],
        *,
        endpoint: str | None = None,
        env: Mapping[str, str] | None = None,
        hardened: bool = True,
        entrypoint: Sequence[str] | None = None,
        image: str | None = None,
        isolated: bool = False,
        overrides: Mapping[str, Any] | None = None,
    ) -> Container:
        """`isolated`: no network and no AWS settings at all, as a bare `docker run`."""
        environment = {} if isolated else {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint or self.endpoint}
        container = self.client.containers.run(
            image or self.image,
            list(args),
            entrypoint=list(entrypoint) if entrypoint else None,
            environment={**environment, **(env or {})},
            network_mode="none" if isolated else "host",
            labels=LABELS,
            detach=True,
            **{**(HARDENED if hardened else {}), **(overrides or {})},
        )
        self.started.append(container.id)
        return container

    def finish(self, container: Container, *, remove: bool = True) -> JobRun:
        try:
            status = container.wait(timeout=JOB_TIMEOUT_S)
        except Exception:
            container.kill()
            raise
        run = JobRun(
            exit_code=int(status["StatusCode"]),
            stdout=container.logs(stdout=True, stderr=False).decode(),
            stderr=container.logs(stdout=False, stderr=True).decode(),
        )
        if remove:
            container.remove(v=True, force=True)
        return run

    def run(self, args: Sequence[str], **kwargs: Any) -> JobRun:
        return self.finish(self.start(args, **kwargs))

    def remove_all(self) -> None:
        for cid in self.started:
            with contextlib.suppress(NotFound):
                self.client.containers.get(cid).remove(v=True, force=True)
