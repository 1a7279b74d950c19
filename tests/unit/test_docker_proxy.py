"""The stack's Docker API filter (containers/docker-proxy/docker_proxy.py): its decisions.

Create bodies are built by docker-py itself (HostConfig, ContainerConfig), with the arguments
DockerOperator passes, so the test sees the JSON the engine would see.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from docker.types import ContainerConfig, HostConfig, LogConfig, Mount

ROOT = Path(__file__).resolve().parents[2]
API = "1.41"
IMAGE = "daily-synthetic-job:dev"


def _load() -> Any:
    path = ROOT / "containers" / "docker-proxy" / "docker_proxy.py"
    spec = importlib.util.spec_from_file_location("docker_proxy", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


proxy = _load()


def create_body(image: str = IMAGE, **host: Any) -> bytes:
    """A container create as DockerOperator sends it, with the host config changed by host."""
    base: dict[str, Any] = {
        "mounts": [],
        "network_mode": "daily-synthetic-net",
        "mem_limit": "4g",
        "cap_add": None,
        "privileged": False,
        "log_config": LogConfig(config={"max-size": "10m", "max-file": "3"}),
        "cpu_shares": 1024,
    }
    base.update(host)
    config = ContainerConfig(
        API,
        image,
        ["--date", "2025-06-12"],
        environment={"RAW_BUCKET": "b"},
        labels={"io.daily-synthetic.run_id": "r"},
        host_config=HostConfig(API, **base),
    )
    return json.dumps(config).encode()


def create(body: bytes, images: tuple[str, ...] = ()) -> Any:
    return proxy.decide("POST", f"/v{API}/containers/create?name=job", body, images)


def test_the_jobs_create_passes() -> None:
    assert create(create_body()).allowed


def test_the_hardened_job_create_passes() -> None:
    """What the launcher adds for issue 19's limits: all of it stays inside the container."""
    body = create_body(
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": "size=512m"},
        pids_limit=256,
        nano_cpus=2_000_000_000,
        mounts=[Mount("/tmp/x", None, type="tmpfs"), Mount("/feature_repo/data", "feast")],
    )
    assert create(body).allowed


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ({"privileged": True}, "privileged"),
        ({"binds": ["/:/host"]}, "host bind mounts (/)"),
        ({"mounts": [Mount("/host", "/etc", type="bind")]}, "host bind mounts (/etc)"),
        ({"network_mode": "host"}, "network mode host"),
        ({"network_mode": "container:postgres"}, "network mode container:postgres"),
        ({"pid_mode": "host"}, "PidMode host"),
        ({"ipc_mode": "host"}, "IpcMode host"),
        ({"userns_mode": "host"}, "UsernsMode host"),
        ({"cap_add": ["SYS_ADMIN"]}, "added capabilities"),
        ({"devices": ["/dev/sda:/dev/sda:rwm"]}, "device mappings"),
        ({"security_opt": ["seccomp=unconfined"]}, "security option seccomp=unconfined"),
        ({"security_opt": ["apparmor=unconfined"]}, "security option apparmor=unconfined"),
        ({"volumes_from": ["postgres"]}, "volumes of other containers"),
        ({"port_bindings": {8080: 8080}}, "ports published on the host"),
        ({"cgroup_parent": "/"}, "a cgroup parent"),
        (
            {"mounts": [Mount("/x", "v", driver_config={"Name": "local"})]},
            "volumes with driver options",
        ),
    ],
)
def test_a_create_that_reaches_the_host_is_refused(host: dict[str, Any], reason: str) -> None:
    decision = create(create_body(**host))
    assert not decision.allowed
    assert reason in decision.reason


def test_every_problem_is_named() -> None:
    decision = create(create_body(privileged=True, binds=["/var/run/docker.sock:/s"]))
    assert "privileged" in decision.reason and "/var/run/docker.sock" in decision.reason


def test_images_outside_the_allowed_patterns_are_refused() -> None:
    images = ("daily-synthetic-job:*", "daily-synthetic-feast:*")
    assert create(create_body(), images).allowed
    decision = create(create_body(image="alpine"), images)
    assert not decision.allowed and "image 'alpine'" in decision.reason


@pytest.mark.parametrize("body", [b"not json", b"[1]", json.dumps({"HostConfig": []}).encode()])
def test_a_malformed_create_is_refused(body: bytes) -> None:
    assert not create(body).allowed


@pytest.mark.parametrize(
    ("method", "target", "container"),
    [
        ("GET", "/_ping", None),
        ("HEAD", "/_ping", None),
        ("GET", "/version", None),
        ("GET", "/v1.41/images/json?only_ids=0&all=0&filters=%7B%7D", None),
        ("GET", "/v1.41/images/daily-synthetic/python-base:3.13/json", None),
        ("POST", "/v1.41/images/create?fromImage=daily-synthetic-job&tag=dev", None),
        ("POST", "/v1.41/containers/abc123/attach?stdout=1&stderr=1&stream=1", "abc123"),
        ("POST", "/v1.41/containers/abc123/start", "abc123"),
        ("POST", "/v1.41/containers/abc123/wait", "abc123"),
        ("GET", "/v1.41/containers/abc123/json", "abc123"),
        ("GET", "/v1.41/containers/abc123/logs?stdout=1", "abc123"),
        ("POST", "/v1.41/containers/abc123/stop?t=30", "abc123"),
        ("POST", "/v1.41/containers/abc123/kill", "abc123"),
        ("DELETE", "/v1.41/containers/abc123?v=False&link=False&force=True", "abc123"),
    ],
)
def test_the_operators_calls_pass(method: str, target: str, container: str | None) -> None:
    decision = proxy.decide(method, target, b"")
    assert decision.allowed, decision.reason
    # Calls on a container are checked once more: it must be one this proxy created.
    assert decision.container == container


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1.41/containers/abc/exec"),
        ("POST", "/v1.41/exec/abc/start"),
        ("GET", "/v1.41/containers/json"),
        ("POST", "/v1.41/build"),
        ("POST", "/v1.41/volumes/create"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/plugins/pull"),
        ("GET", "/v1.41/containers/abc/archive?path=/etc"),
        ("PUT", "/v1.41/containers/abc/archive?path=/"),
        ("POST", "/v1.41/images/create?fromSrc=http://x/rootfs.tar"),
        ("DELETE", "/v1.41/images/daily-synthetic-job:dev"),
        ("POST", "/v1.41/containers/abc/../../exec/abc/start"),
        ("POST", "/v1.41/containers/abc%2F..%2Fexec/start"),
        ("GET", "/v1.41/info"),
        ("POST", "/v1.41/swarm/init"),
    ],
)
def test_everything_else_is_refused(method: str, target: str) -> None:
    assert not proxy.decide(method, target, b"").allowed


def test_creates_are_stamped_with_the_proxy_label() -> None:
    stamped = json.loads(proxy.stamp(create_body()))
    assert stamped["Labels"] == {"io.daily-synthetic.run_id": "r", proxy.PROXY_LABEL: "1"}


def test_settings_from_the_environment() -> None:
    settings = proxy.Settings.from_env(
        {"DOCKER_PROXY_IMAGES": "a:*, b:dev", "DOCKER_PROXY_LISTEN": "tcp://0.0.0.0:2375"}
    )
    assert settings.images == ("a:*", "b:dev")
    assert settings.listen == "tcp://0.0.0.0:2375"
    assert settings.upstream == "/var/run/docker.sock"
