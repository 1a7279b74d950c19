"""The downstream DAG end to end: a raw day from `airflow dags test daily_synthetic`, then
`airflow dags test payment_features` (features in the job image, Feast materialize in the Feast
image, both through DockerOperator, over S3 on loopback), then an online lookup from the
volume the DAG's Feast container wrote.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

pytestmark = pytest.mark.e2e

BUCKET = "downstream-e2e"
FEATURES = "downstream-e2e-features"  # the features' own bucket, never inside the raw one
DAYS = ("2025-06-10", "2025-06-11", "2025-06-12")
WORLD = ["--customers", "2000", "--merchants", "200"]
DEFAULT_FEAST_IMAGE = "daily-synthetic-feast:dev"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def feast_image(docker_client: Any, timings: dict[str, float]) -> str:
    image = os.environ.get("FEAST_IMAGE") or DEFAULT_FEAST_IMAGE
    if os.environ.get("E2E_SKIP_IMAGE_BUILD") != "1":
        t0 = time.perf_counter()
        subprocess.run(["make", "-s", "feast-image", f"FEAST_IMAGE={image}"], cwd=ROOT, check=True)
        timings["make feast-image"] = time.perf_counter() - t0
    docker_client.images.get(image)
    return image


@pytest.fixture(scope="module")
def volume(docker_client: Any) -> Iterator[str]:
    name = f"feast-e2e-{uuid.uuid4().hex[:12]}"
    yield name
    for container in docker_client.containers.list(all=True, filters={"volume": name}):
        container.remove(force=True)
    docker_client.volumes.get(name).remove()


@pytest.fixture(scope="module")
def landed(
    airflow_home: Any, s3: Any, feast_image: str, volume: str, timings: dict[str, float]
) -> dict[str, Any]:
    s3.client().create_bucket(Bucket=BUCKET)
    s3.client().create_bucket(Bucket=FEATURES)
    env = {
        **airflow_home.env(BUCKET),
        "FEATURES_BUCKET": FEATURES,
        "DAILY_SYNTHETIC_FEAST_IMAGE": feast_image,
        "DAILY_SYNTHETIC_FEAST_VOLUME": volume,
        "DAILY_SYNTHETIC_MEM_LIMIT": "3g",
    }
    # History days straight from the job (quicker), the last day through its DAG.
    for day in DAYS[:-1]:
        cmd = [str(BIN / "daily-synthetic"), "--date", day, "--rows", "4000", *WORLD, "-q"]
        subprocess.run([*cmd, "--dest", f"s3://{BUCKET}"], env=env, check=True, timeout=300)
    raw = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "daily_synthetic", DAYS[-1], "-c",
         json.dumps({"rows": 4000})],
        env=env,
        cwd=airflow_home.path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert raw.returncode == 0, raw.stdout[-3000:] + raw.stderr[-3000:]
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "payment_features", DAYS[-1], "-c",
         json.dumps({"dates": list(DAYS)})],
        env=env, cwd=airflow_home.path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    timings["airflow dags test payment_features, 3 days"] = time.perf_counter() - t0
    states = airflow_home.query(
        "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = 'payment_features'"
    )
    return {"done": done, "states": states, "env": env}


def test_every_task_succeeds(landed: dict[str, Any]) -> None:
    done = landed["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    states = {(task, index): state for task, index, state in landed["states"]}
    assert states == {
        ("plan", -1): "success",
        ("commands", -1): "success",
        ("feast_command", -1): "success",
        ("features", 0): "success",
        ("features", 1): "success",
        ("features", 2): "success",
        ("materialize", -1): "success",
    }


def test_features_of_each_day_are_published(landed: dict[str, Any], s3: Any) -> None:
    keys = s3.keys(FEATURES, "")
    for day in DAYS:
        manifest_key = f"_manifests/{day}.json"
        assert manifest_key in keys
        manifest = json.loads(s3.read(FEATURES, manifest_key))
        assert manifest["rows"] == 4000
        assert manifest["source_days"] == [x for x in DAYS if x <= day]
        assert manifest["root"] == f"s3://{FEATURES}"
    # The raw bucket holds the raw feed only: its `**/*.parquet` are payments.
    assert not s3.keys(BUCKET, "features/")


def test_online_store_serves_a_card_as_of_its_last_payment(
    landed: dict[str, Any], s3: Any, feast_image: str, volume: str, docker_client: Any
) -> None:
    keys = [k for k in s3.keys(FEATURES, "year=") if k.endswith(".parquet")]
    features = pl.concat([pl.read_parquet(io.BytesIO(s3.read(FEATURES, k))) for k in keys])
    last = features.sort("event_timestamp").group_by("card_id").last()
    busiest = features.group_by("card_id").len().sort("len", "card_id", descending=True)[0, 0]
    want = last.filter(pl.col("card_id") == busiest).row(0, named=True)
    output = docker_client.containers.run(
        feast_image,
        ["lookup", "--card", busiest],
        mounts=[{"Target": "/feature_repo/data", "Source": volume, "Type": "volume"}],
        environment={
            "DAILY_SYNTHETIC_DATA": f"s3://{BUCKET}",
            "DAILY_SYNTHETIC_FEATURES": f"s3://{FEATURES}",
        },
        network_mode="none",
        remove=True,
        stderr=False,
    )
    got = json.loads(output.decode().strip().splitlines()[-1])
    assert got["card_id"] == busiest
    assert want["card_tx_count_30d"] > 0
    for name, value in got.items():
        if name != "card_id":
            assert value == pytest.approx(want[name]), name
