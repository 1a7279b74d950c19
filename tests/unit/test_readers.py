"""Each reader's ordinary call, as docs/contract.md gives it, over a few published days.

The same calls on a local root and on S3 (moto's server over HTTP, reached through the
standard AWS variables only), after the table has a checkpoint: delta-rs writes one into
`_delta_log/` every 100 commits, and it is a Parquet file, which a `**/*.parquet` glob
would read as data. The Parquet glob readers therefore get the partition glob
(`layout.PARTITION_GLOB`), which reaches the day folders only.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable

from fraud_detection.cli import main
from fraud_detection.manifest import PARTITION_COLUMNS
from fraud_detection.sinks.layout import PARTITION_GLOB
from tests.support.s3 import threaded_moto

from .conftest import SMALL

POP = ["--customers", str(SMALL.customers), "--merchants", str(SMALL.merchants)]
DAYS = {"2025-06-09": 2_000, "2025-06-10": 3_000, "2025-06-12": 1_000}  # day 9: one digit
AS_INT = {"int32": pa.int32()}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").disabled = True
    with threaded_moto() as url:
        yield url


def publish(root: str, capsys: pytest.CaptureFixture[str]) -> str:
    """DAYS published to `root` by the job, one commit each, then a checkpoint."""
    for day, rows in DAYS.items():
        argv = ["--date", day, "--rows", str(rows), "--seed", "3", "--dest", root, *POP]
        assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    DeltaTable(root).create_checkpoint()  # what the 100th commit does by itself
    return root


@pytest.fixture
def local_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    return publish(str(tmp_path / "raw"), capsys)


@pytest.fixture
def s3_root(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    # What any S3 client reads; AWS_ALLOW_HTTP only because moto speaks plain HTTP.
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    bucket = f"readers-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return publish(f"s3://{bucket}/raw", capsys)


@pytest.fixture(params=["local_root", "s3_root"])
def root(request: pytest.FixtureRequest) -> str:
    """The same days on a local root and on S3."""
    return str(request.getfixturevalue(request.param))


def by_day(frame: pl.DataFrame) -> dict[str, int]:
    counts = frame.group_by("year", "month", "day").len()
    return {f"{y}-{m:02d}-{d:02d}": n for y, m, d, n in counts.iter_rows()}


def test_table_readers_read_every_day_and_travel_to_the_previous_version(root: str) -> None:
    table = DeltaTable(root)
    assert by_day(pl.from_arrow(table.to_pyarrow_table())) == DAYS  # type: ignore[arg-type]
    delta = pl.scan_delta(root)
    assert by_day(delta.collect()) == DAYS
    schema = delta.collect_schema()
    assert {schema[c] for c in PARTITION_COLUMNS} == {pl.Int32}
    # Yesterday's table: the version before the last day's commit.
    before = pl.scan_delta(root, version=table.version() - 1).collect()
    assert by_day(before) == dict(list(DAYS.items())[:-1])
    assert DeltaTable(root, version=table.version() - 1).to_pyarrow_table().num_rows == len(before)


def test_pyarrow_reads_the_root_as_a_hive_dataset(root: str) -> None:
    dataset = pads.dataset(root, partitioning="hive")  # skips _delta_log/, _manifests/ itself
    assert by_day(pl.from_arrow(dataset.to_table())) == DAYS  # type: ignore[arg-type]
    for name, kind in PARTITION_COLUMNS.items():
        assert dataset.schema.field(name).type == AS_INT[kind]


def test_polars_reads_the_partition_glob_with_one_type_per_partition_column(root: str) -> None:
    lazy = pl.scan_parquet(f"{root}/{PARTITION_GLOB}", hive_partitioning=True)
    assert by_day(lazy.collect()) == DAYS
    schema = lazy.collect_schema()
    assert {schema[c] for c in PARTITION_COLUMNS} == {pl.Int64}


def duckdb_for(root: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that reads `root`: on S3, httpfs with the environment's credentials
    and endpoint as a secret (DuckDB reads no AWS variables by itself)."""
    con = duckdb.connect()
    if root.startswith("s3://"):
        endpoint = urlsplit(os.environ["AWS_ENDPOINT_URL"])
        con.execute("LOAD httpfs")
        con.execute(
            "CREATE SECRET feed (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
            "URL_STYLE 'path', USE_SSL ?)",
            [os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
             os.environ["AWS_REGION"], endpoint.netloc, endpoint.scheme == "https"],
        )  # fmt: skip
    return con


def test_duckdb_reads_the_partition_glob_with_one_type_per_partition_column(root: str) -> None:
    query = "select year, month, day, typeof(year), typeof(month), typeof(day) from read_parquet(?)"
    rows = duckdb_for(root).execute(query, [f"{root}/{PARTITION_GLOB}"]).fetchall()
    assert {r[3:] for r in rows} == {("BIGINT", "BIGINT", "BIGINT")}
    counts: dict[str, int] = {}
    for y, m, d, *_ in rows:
        counts[f"{y}-{m:02d}-{d:02d}"] = counts.get(f"{y}-{m:02d}-{d:02d}", 0) + 1
    assert counts == DAYS


def test_duckdb_reads_the_table_with_delta_scan(root: str) -> None:
    con = duckdb_for(root)
    con.execute("LOAD delta")
    rows = con.execute(
        "select year, month, day, count(*), count(distinct transaction_id) "
        "from delta_scan(?) group by all",
        [root],
    ).fetchall()
    assert {f"{y}-{m:02d}-{d:02d}": n for y, m, d, n, _ in rows} == DAYS
    assert all(n == unique for *_, n, unique in rows)


def test_a_glob_over_the_whole_root_meets_the_log(local_root: str) -> None:
    """Why the contract gives the partition glob: `**/*.parquet` reaches the log's checkpoint,
    and the root itself holds the log's and the manifests' JSON."""
    root = local_root
    found = duckdb.execute("select file from glob(?)", [f"{root}/**/*.parquet"]).fetchall()
    matched = [str(row[0]) for row in found]
    assert any("/_delta_log/" in f and f.endswith(".checkpoint.parquet") for f in matched)
    with pytest.raises(pl.exceptions.PolarsError):
        pl.scan_parquet(root).collect()
