"""Fixtures for the container tests: the images, moto's S3 server, the job runner, a relay.

Everything runs on the host network and talks over 127.0.0.1 only: moto listens on a free
loopback port, the job container reaches it there, and so does boto3 in the test process.
Ryuk is off (its image cannot be pulled here), so every fixture removes what it started,
and the session ends by checking that nothing labelled by this session is left. The helper
classes live in `tests/support/`.
"""

from __future__ import annotations

import os

# testcontainers reads this once, at import time: it has to be set before the import below.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from collections.abc import Callable, Iterator

import pytest
from docker.client import DockerClient
from mypy_boto3_s3 import S3Client

from tests.support.images import ensure_images
from tests.support.job import JobRunner
from tests.support.relay import Relay
from tests.support.s3 import Bucket, Moto, start_moto
from tests.support.session import SESSION


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
    client = DockerClient.from_env()
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(docker_client: DockerClient) -> Iterator[None]:
    """The final check: after every other fixture's teardown, no container of ours exists.

    Autouse and session-scoped, so it is set up first and torn down last. Networks and volumes
    are checked by label too (the tests use the host network and create none: any that shows
    up was leaked by a change to these fixtures).
    """
    yield
    label = f"daily-synthetic.test.session={SESSION}"
    containers = docker_client.containers.list(all=True, filters={"label": label})
    networks = docker_client.networks.list(filters={"label": label})
    volumes = docker_client.volumes.list(filters={"label": label})
    left = {
        "containers": [c.name for c in containers],
        "networks": [n.name for n in networks],
        "volumes": [v.name for v in volumes],
    }
    # Report the leak, but do not leave it on the machine either.
    for container in containers:
        container.remove(v=True, force=True)
    for resource in [*networks, *volumes]:
        resource.remove()
    assert left == {"containers": [], "networks": [], "volumes": []}, left


@pytest.fixture(scope="session")
def images() -> tuple[str, str]:
    """Both images, built once per session through the Makefile (tests/support/images.py)."""
    try:
        built = ensure_images()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    if built.build_seconds is not None:
        print(f"images ready in {built.build_seconds:.1f} s")
    return built.job, built.moto


@pytest.fixture(scope="session")
def moto(images: tuple[str, str], nothing_left_behind: None) -> Iterator[Moto]:
    server = start_moto(images[1])
    yield server
    server.container.stop()


@pytest.fixture(scope="session")
def s3(moto: Moto) -> S3Client:
    return moto.client()


@pytest.fixture
def bucket(moto: Moto) -> Bucket:
    """A fresh bucket per test on the shared server: tests never see each other's objects."""
    return moto.new_bucket()


@pytest.fixture
def job(docker_client: DockerClient, images: tuple[str, str], moto: Moto) -> Iterator[JobRunner]:
    runner = JobRunner(docker_client, images[0], moto.endpoint)
    yield runner
    runner.remove_all()


@pytest.fixture
def moto_factory(images: tuple[str, str]) -> Iterator[Callable[[], Moto]]:
    """Private S3 servers, for tests that pause or lose theirs."""
    servers: list[Moto] = []

    def make() -> Moto:
        servers.append(start_moto(images[1]))
        return servers[-1]

    yield make
    for server in servers:
        server.container.stop()


@pytest.fixture
def relay_factory() -> Iterator[Callable[[int, int, Callable[[Relay], None]], Relay]]:
    relays: list[Relay] = []

    def make(upstream: int, threshold: int, on_threshold: Callable[[Relay], None]) -> Relay:
        relays.append(Relay(upstream, threshold, on_threshold))
        return relays[-1]

    yield make
    for relay in relays:
        relay.close()
