"""Fixtures for the container tests: the images, moto's S3 server, the job runner, a relay.

Everything runs on the host network and talks over 127.0.0.1 only: moto listens on a free
loopback port, the job container reaches it there, and so does boto3 in the test process.
Ryuk is off (its image cannot be pulled here), so every fixture removes what it started,
and the session ends by checking that nothing labelled by this session is left.
"""

from __future__ import annotations

import os

# testcontainers reads this once, at import time: it has to be set before the import below.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

import contextlib
import io
import json
import re
import select
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest
from botocore.config import Config
from docker.client import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container
from mypy_boto3_s3 import S3Client
from testcontainers.core.container import DockerContainer

REPO = Path(__file__).resolve().parents[2]
JOB_IMAGE = os.environ.get("JOB_IMAGE", "daily-synthetic-job:dev")
MOTO_IMAGE = os.environ.get("MOTO_IMAGE", "daily-synthetic-moto:dev")
# One label per pytest session: teardown and the final check find exactly our containers.
SESSION = uuid.uuid4().hex[:12]
LABELS = {"daily-synthetic.test": "integration", "daily-synthetic.test.session": SESSION}
# moto accepts any keys; real-looking values keep botocore from searching further (no IMDS).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
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
# SO_LINGER on, 0 s: close() sends a RST instead of a FIN.
LINGER_RESET = struct.pack("ii", 1, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def s3_client(endpoint: str) -> S3Client:
    # One attempt, short timeouts: the tests inspect state, they should not mask a dead server.
    config = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1})
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        config=config,
    )


@dataclass(frozen=True)
class Bucket:
    """A bucket on the test's S3 server, seen from the test process."""

    s3: S3Client
    name: str

    @property
    def uri(self) -> str:
        return f"s3://{self.name}"

    def listing(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.name, Key=key, Body=body)

    def frame(self, keys: Sequence[str]) -> pl.DataFrame:
        """All Parquet objects among `keys`, read back as one frame."""
        frames = [pl.read_parquet(io.BytesIO(self.get(k))) for k in keys if k.endswith(".parquet")]
        assert frames, f"no Parquet among {keys}"
        return pl.concat(frames)

    def pending_uploads(self) -> list[str]:
        """Keys of multipart uploads that were started and neither completed nor aborted."""
        return [
            u["Key"] for u in self.s3.list_multipart_uploads(Bucket=self.name).get("Uploads", [])
        ]


# --- the job ------------------------------------------------------------------------------


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


# --- moto ---------------------------------------------------------------------------------


@dataclass
class Moto:
    container: DockerContainer
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> S3Client:
        return s3_client(self.endpoint)

    def new_bucket(self) -> Bucket:
        bucket = Bucket(self.client(), f"it-{uuid.uuid4().hex[:16]}")
        bucket.s3.create_bucket(Bucket=bucket.name)
        return bucket


def start_moto(image: str) -> Moto:
    port = free_port()
    container = (
        DockerContainer(image)
        .with_command(["-H", "127.0.0.1", "-p", str(port)])
        .with_kwargs(network_mode="host", labels=LABELS)
    )
    container.start()
    moto = Moto(container, port)
    s3 = moto.client()
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.list_buckets()
            return moto
        except Exception:
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status != "running" or time.monotonic() > deadline:
                logs = wrapped.logs().decode(errors="replace")
                container.stop()
                raise RuntimeError(f"moto did not come up on {moto.endpoint}:\n{logs}") from None
            time.sleep(0.2)


# --- a relay that loses the server mid-upload -----------------------------------------------


class Relay:
    """A TCP relay 127.0.0.1:port → 127.0.0.1:upstream that counts request bytes.

    Once `threshold` bytes went upstream it holds all request traffic, calls
    `on_threshold(relay)` once (in its own thread), then lets traffic flow again: whatever the
    action takes (a `docker pause` can take a while), it lands at that point of the upload.
    Until `cut()` it relays faithfully, with no timeouts of its own (a frozen upstream stays
    frozen for the client). `cut()` makes the server vanish for the client: open connections
    are reset and the port stops listening, while the upstream keeps its state for the test.
    """

    def __init__(
        self, upstream: int, threshold: int, on_threshold: Callable[[Relay], None]
    ) -> None:
        self.upstream = upstream
        self.threshold = threshold
        self.on_threshold = on_threshold
        self.sent = 0
        self._fired = threading.Event()
        self.acted = threading.Event()
        self.action_error: Exception | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._spawn(self._accept)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        with self._listener:
            while not self._cut.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                try:
                    server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                except OSError:
                    client.close()
                    continue
                pair = (client, server)
                for sock in pair:
                    sock.settimeout(None)
                with self._lock:
                    self._sockets += pair
                ends = threading.Semaphore(0)  # released by each direction when it is done
                self._spawn(self._pump, client, server, True, ends)
                self._spawn(self._pump, server, client, False, ends)

    def _pump(
        self, src: socket.socket, dst: socket.socket, upstream: bool, ends: threading.Semaphore
    ) -> None:
        try:
            while not self._cut.is_set():
                # select, not a socket timeout: a timeout would also bound dst.sendall().
                if not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    break
                if upstream:
                    self._flowing.wait()
                    if self._cut.is_set():
                        break
                dst.sendall(data)
                if upstream:
                    self._count(len(data))
        except OSError:
            pass
        ends.release()
        if upstream:  # the client-side pump closes the pair once both directions are done
            ends.acquire()
            ends.acquire()
            src.close()
            dst.close()

    def _count(self, n: int) -> None:
        with self._lock:
            self.sent += n
            fire = self.sent >= self.threshold and not self._fired.is_set()
            if fire:
                self._fired.set()
        if fire:
            self._flowing.clear()
            self._spawn(self._act)

    def _act(self) -> None:
        try:
            self.on_threshold(self)
        except Exception as exc:  # reported by the test, not lost in a thread
            self.action_error = exc
        finally:
            self.acted.set()
            self._flowing.set()

    def cut(self) -> None:
        self._cut.set()
        self._flowing.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                # Linger 0: the close that follows sends RST, as a crashed server's kernel would;
                # shutdown wakes a pump blocked in sendall.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cut()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)


# --- fixtures -----------------------------------------------------------------------------


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
    """Build (or find cached) both images through the Makefile, as CI and developers do."""
    started = time.monotonic()
    result = subprocess.run(
        [
            "make",
            "-s",
            "job-image",
            "moto-image",
            f"JOB_IMAGE={JOB_IMAGE}",
            f"MOTO_IMAGE={MOTO_IMAGE}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"make job-image moto-image failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    print(f"images ready in {time.monotonic() - started:.1f} s")
    return JOB_IMAGE, MOTO_IMAGE


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
