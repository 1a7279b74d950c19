"""The stack's Docker API filter in front of the real engine.

The proxy image (`make docker-proxy-image`) runs with the engine's socket, listening on a
loopback port; docker-py talks to it the way DockerOperator does. The job image's normal
container goes through create, attach, start, wait, inspect, stop and remove; a privileged
container, a host bind mount, exec and containers the proxy did not make are refused.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.client import DockerClient
from docker.types import Mount

from tests.support.images import ensure_images
from tests.support.session import LABELS, SESSION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def proxy_image() -> str:
    image = os.environ.get("DOCKER_PROXY_IMAGE") or "daily-synthetic-docker-proxy:dev"
    done = subprocess.run(
        ["make", "-s", "docker-proxy-image", f"DOCKER_PROXY_IMAGE={image}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return image


@pytest.fixture(scope="module")
def api(docker_client: DockerClient, proxy_image: str) -> Iterator[Any]:
    """docker-py's low-level client (DockerOperator's) connected through the proxy."""
    socket = "/var/run/docker.sock"
    container = docker_client.containers.run(
        proxy_image,
        detach=True,
        name=f"ds-docker-proxy-{SESSION}",
        labels=LABELS,
        environment={"DOCKER_PROXY_LISTEN": "tcp://0.0.0.0:2375"},
        group_add=[str(Path(socket).stat().st_gid)],
        volumes={socket: {"bind": socket, "mode": "rw"}},
        ports={"2375/tcp": ("127.0.0.1", None)},
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["2375/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 30
        while True:
            try:  # the client asks the engine's API version at once, through the proxy
                client = docker.APIClient(base_url=f"tcp://127.0.0.1:{port}", timeout=60)
                break
            except docker.errors.DockerException:
                if time.monotonic() > deadline:
                    raise AssertionError(container.logs().decode()) from None
                time.sleep(0.2)
        client.proxy_container = container.name
        yield client
        client.close()
    finally:
        container.remove(force=True)


def create(api: Any, **host: Any) -> dict[str, Any]:
    job = ensure_images().job
    container: dict[str, Any] = api.create_container(
        job,
        command=["--help"],
        labels=LABELS,
        host_config=api.create_host_config(mem_limit="512m", **host),
    )
    return container


def refused(api: Any, **host: Any) -> str:
    with pytest.raises(docker.errors.APIError) as caught:
        create(api, **host)
    assert caught.value.status_code == 403
    return str(caught.value.explanation)


def test_the_jobs_container_runs_through_the_proxy(api: Any) -> None:
    # DockerOperator's sequence: image check, create, attach, start, wait; the launcher then
    # inspects the state, stops and removes. With issue 19's limits on the container.
    assert api.images(name=ensure_images().job)
    container = create(
        api,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": "size=64m"},
        pids_limit=64,
    )
    try:
        stream = api.attach(container["Id"], stdout=True, stderr=True, stream=True)
        api.start(container["Id"])
        output = b"".join(stream)
        assert api.wait(container["Id"])["StatusCode"] == 0
        assert b"--date" in output
        assert api.inspect_container(container["Id"])["State"]["ExitCode"] == 0
        api.stop(container["Id"], timeout=5)
    finally:
        api.remove_container(container["Id"], force=True)


def test_a_privileged_container_is_refused(api: Any) -> None:
    assert "privileged" in refused(api, privileged=True)


def test_a_host_bind_mount_is_refused(api: Any) -> None:
    assert "host bind mounts (/etc)" in refused(api, binds=["/etc:/host-etc:ro"])
    assert "host bind mounts (/)" in refused(api, mounts=[Mount("/host", "/", type="bind")])


def test_host_namespaces_and_capabilities_are_refused(api: Any) -> None:
    assert "network mode host" in refused(api, network_mode="host")
    assert "PidMode host" in refused(api, pid_mode="host")
    assert "added capabilities" in refused(api, cap_add=["SYS_ADMIN"])


def test_other_containers_and_exec_are_out_of_reach(api: Any, docker_client: DockerClient) -> None:
    with pytest.raises(docker.errors.APIError) as caught:
        api.inspect_container(api.proxy_container)
    assert caught.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as caught:
        api.exec_create(api.proxy_container, ["true"])
    assert caught.value.status_code == 403
    # Nothing refused was created.
    assert not docker_client.containers.list(
        all=True,
        filters={
            "ancestor": ensure_images().job,
            "label": f"daily-synthetic.test.session={SESSION}",
        },
    )
