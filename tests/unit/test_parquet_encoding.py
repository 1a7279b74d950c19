"""The Parquet file: its types, its row groups, the same bytes, and what a failure leaves."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from fraud_detection.errors import ValidationFailed
from fraud_detection.schema import FILE_SCHEMA, SCHEMA
from fraud_detection.simulator import DaySpec, Shard, iter_blocks
from fraud_detection.sinks.parquet import arrow_type_names, write_parquet

from .conftest import DAY, SMALL

ROWS = 12_000  # 8 blocks of 1,500 rows


@pytest.fixture(scope="module")
def blocks() -> list[pl.DataFrame]:
    return list(iter_blocks(DaySpec(DAY, ROWS, seed=7, population=SMALL), Shard()))


def written(blocks: list[pl.DataFrame], path: Path, row_group_rows: int = 5_000) -> Path:
    write_parquet(iter(blocks), SCHEMA, path, row_group_rows=row_group_rows)
    return path


def test_each_column_has_its_declared_types(blocks: list[pl.DataFrame], tmp_path: Path) -> None:
    path = written(blocks, tmp_path / "day.parquet")
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == ROWS
    # The embedded Arrow schema is the manifest's: text is `string`, whatever polars held.
    assert {f.name: str(f.type) for f in pq.read_schema(path)} == arrow_type_names(SCHEMA)
    physical = {meta.schema.column(i).name: meta.schema.column(i).physical_type
                for i in range(meta.num_columns)}  # fmt: skip
    assert physical["latitude"] == physical["longitude"] == "FLOAT"  # float32
    assert physical["event_timestamp"] == "INT64"
    assert physical["channel"] == "BYTE_ARRAY"  # an Enum in memory, text in the file


def test_row_groups_fill_up_to_the_limit(blocks: list[pl.DataFrame], tmp_path: Path) -> None:
    meta = pq.ParquetFile(written(blocks, tmp_path / "day.parquet", 5_000)).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert [b.height for b in blocks] == [1_500] * 8
    # Row groups span blocks: full groups of the limit, then the rest.
    assert sizes == [5_000, 5_000, ROWS - 10_000]


def test_readers_read_back_the_generated_rows(blocks: list[pl.DataFrame], tmp_path: Path) -> None:
    path = written(blocks, tmp_path / "day.parquet")
    generated = pl.concat(blocks).cast(FILE_SCHEMA)  # Enums come back as strings
    by_polars = pl.read_parquet(path)
    by_pyarrow = pl.from_arrow(pq.read_table(path))
    # A connection of its own: the module-level default one is shared with other tests.
    by_duckdb = (
        duckdb.connect()
        .read_parquet(str(path))
        .pl()  # DuckDB names its session zone Etc/UTC: the same instants
        .with_columns(pl.col("event_timestamp").dt.convert_time_zone("UTC"))
    )
    for name, frame in [("polars", by_polars), ("pyarrow", by_pyarrow), ("duckdb", by_duckdb)]:
        assert isinstance(frame, pl.DataFrame)
        assert frame.schema == FILE_SCHEMA, name
        assert frame.equals(generated), name
    stored = pq.read_schema(path)
    assert stored.field("latitude").type == "float"
    assert stored.field("transaction_id").type == "string"  # not large_string (Feast: Json)
    assert stored.field("channel").type == "string"  # an Enum in memory
    assert str(stored.field("event_timestamp").type) == "timestamp[us, tz=UTC]"


def test_same_frames_same_bytes(blocks: list[pl.DataFrame], tmp_path: Path) -> None:
    a = write_parquet(iter(blocks), SCHEMA, tmp_path / "a.parquet")
    b = write_parquet(iter(blocks), SCHEMA, tmp_path / "b.parquet")
    assert a.sha256 == b.sha256


def test_a_failing_frame_comes_out_as_itself_and_leaves_no_file(
    blocks: list[pl.DataFrame], tmp_path: Path
) -> None:
    def failing() -> Iterator[pl.DataFrame]:
        yield from blocks[:3]
        raise ValidationFailed("data check failed before upload (a rule: 1 rows)")

    path = tmp_path / "x.parquet"
    with pytest.raises(ValidationFailed, match="a rule: 1 rows"):
        write_parquet(failing(), SCHEMA, path)
    assert list(tmp_path.iterdir()) == []


def test_a_signal_while_writing_stops_the_frames_and_removes_the_file(
    blocks: list[pl.DataFrame], tmp_path: Path
) -> None:
    """The frames are pulled on polars' thread; the caller's thread handles the signal."""

    class Stop(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Stop

    pulled: list[float] = []

    def endless() -> Iterator[pl.DataFrame]:  # 3 s of frames, if nothing stops them
        for _ in range(150):
            pulled.append(time.monotonic())
            time.sleep(0.02)
            yield blocks[len(pulled) % len(blocks)]

    assert threading.current_thread() is threading.main_thread()
    path = tmp_path / "x.parquet"
    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(Stop):
            write_parquet(endless(), SCHEMA, path, row_group_rows=1_000)
        assert time.monotonic() - started < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert pulled and not path.exists()
    settled = len(pulled)
    time.sleep(0.2)
    assert len(pulled) <= settled + 1  # the writer stopped pulling frames


def test_coded_text_of_any_kind_is_stored_as_strings(tmp_path: Path) -> None:
    """Enums and Categoricals reach the writer as dictionaries: nulls, several chunks."""
    dtypes: dict[str, pl.DataType] = {
        "enum": pl.Enum(["a", "b"]), "cat": pl.Categorical(), "text": pl.String(),
    }  # fmt: skip
    schema = pl.Schema(dtypes)
    part = pl.DataFrame(
        {"enum": ["a", None], "cat": ["x", None], "text": ["1", None]}, schema=schema
    )
    frame = pl.concat([part, part.reverse()], rechunk=False)
    assert frame.n_chunks() == 2
    path = write_parquet([frame, part], schema, tmp_path / "coded.parquet").path
    assert {f.name: str(f.type) for f in pq.read_schema(path)} == dict.fromkeys(schema, "string")
    expected = pl.concat([frame, part]).cast(dict.fromkeys(schema, pl.String))
    assert pl.read_parquet(path).equals(expected)
