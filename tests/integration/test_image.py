"""The job image itself: entry point, metadata, size, and the hardened way it is run."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from typing import TYPE_CHECKING

import pytest
from docker.client import DockerClient

if TYPE_CHECKING:
    from tests.support.job import JobRunner
    from tests.support.s3 import Bucket

pytestmark = pytest.mark.integration

# One Arrow/Parquet engine ships: delta-rs (the table commits and the Parquet writer, about
# 130 MB). Fargate pulls the image for every task: this is the ceiling.
IMAGE_BUDGET_BYTES = 550_000_000
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def test_help_works_without_any_configuration(job: JobRunner) -> None:
    run = job.run(["--help"], isolated=True)
    run.assert_ok()
    assert "--date" in run.stdout and "--rows" in run.stdout and "--dest" in run.stdout


def test_image_metadata(docker_client: DockerClient, images: tuple[str, str]) -> None:
    image = docker_client.images.get(images[0])
    config = image.attrs["Config"]
    assert config["Entrypoint"] == ["daily-synthetic"]
    assert config["User"].split(":")[0] not in ("", "0", "root"), config["User"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env.get("PYTHONUNBUFFERED") == "1"
    # Credentials come from the run's environment or role, never from the image.
    assert not [name for name in env if name.startswith("AWS_")], env
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version("daily-synthetic")
    assert "org.opencontainers.image.source" in labels
    size = image.attrs["Size"]
    assert size <= IMAGE_BUDGET_BYTES, f"{size / 1e6:.0f} MB > {IMAGE_BUDGET_BYTES / 1e6:.0f} MB"


def test_no_build_certificate_in_the_image(
    docker_client: DockerClient, images: tuple[str, str], job: JobRunner
) -> None:
    """The build's CA secret is mounted over the bundle only while downloading: the image's
    bundle must still be the base image's own."""
    base = docker_client.images.get(images[0]).labels["org.opencontainers.image.base.name"]

    def bundle_digest(image: str) -> str:
        run = job.run(["-c", f"cat {CA_BUNDLE}"], entrypoint=["sh"], image=image, isolated=True)
        run.assert_ok()
        return hashlib.sha256(run.stdout.encode()).hexdigest()

    assert bundle_digest(images[0]) == bundle_digest(base)


def test_runs_read_only_without_capabilities_as_non_root(job: JobRunner, bucket: Bucket) -> None:
    # Inside the image, as the job runs it: not root, root filesystem read-only, /tmp writable.
    probe = job.run(
        [
            "-c",
            "import os, tempfile; print(os.geteuid(), os.access('/', os.W_OK), "
            "os.access(tempfile.gettempdir(), os.W_OK))",
        ],
        entrypoint=["python3"],
    )
    probe.assert_ok()
    euid, root_writable, tmp_writable = probe.stdout.split()
    assert (euid != "0", root_writable, tmp_writable) == (True, "False", "True"), probe.stdout

    container = job.start(["--date", "2025-06-12", "--rows", "20000", "--dest", bucket.uri])
    container.reload()
    host = container.attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"], host
    run = job.finish(container)
    run.assert_ok()
    assert run.manifest["rows"] == 20000
    assert bucket.frame(run.manifest["keys"]).height == 20000
