"""S3 for tests: a client, a bucket view, and moto's server in a container."""

from __future__ import annotations

import io
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import polars as pl
from botocore.config import Config
from mypy_boto3_s3 import S3Client
from testcontainers.core.container import DockerContainer

from tests.support.session import AWS_ENV, LABELS


@contextmanager
def threaded_moto() -> Iterator[str]:
    """moto's S3 server on a free loopback port, in a thread of this process: its endpoint."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
    wait_for_s3(container, moto.endpoint, "moto")
    return moto


def wait_for_s3(container: DockerContainer, endpoint: str, what: str) -> None:
    """Until the S3 server in `container` answers at `endpoint` (60 s at most); if it dies
    or never answers, the container is stopped and its log is in the error."""
    s3 = s3_client(endpoint)
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.list_buckets()
            return
        except Exception:
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status != "running" or time.monotonic() > deadline:
                logs = wrapped.logs().decode(errors="replace")
                container.stop()
                raise RuntimeError(f"{what} did not come up on {endpoint}:\n{logs}") from None
            time.sleep(0.2)
