"""The file stores each column the way the schema's encoding policy says, and reads back equal."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from fraud_detection.schema import ENCODINGS, FILE_SCHEMA, SCHEMA
from fraud_detection.simulator import DaySpec, Shard, iter_blocks
from fraud_detection.sinks.parquet import write_parquet

from .conftest import DAY, SMALL

ROWS = 12_000  # 8 blocks of 1,500 rows


@pytest.fixture(scope="module")
def blocks() -> list[pl.DataFrame]:
    return list(iter_blocks(DaySpec(DAY, ROWS, seed=7, population=SMALL), Shard()))


def written(blocks: list[pl.DataFrame], path: Path, row_group_rows: int = 5_000) -> Path:
    write_parquet(iter(blocks), SCHEMA, path, row_group_rows=row_group_rows, encodings=ENCODINGS)
    return path


def test_the_policy_names_real_columns() -> None:
    assert set(ENCODINGS) <= set(SCHEMA)


def test_each_column_is_stored_as_the_policy_says(
    blocks: list[pl.DataFrame], tmp_path: Path
) -> None:
    meta = pq.ParquetFile(written(blocks, tmp_path / "day.parquet")).metadata
    assert meta.num_rows == ROWS
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            name = column.path_in_schema
            if name in ENCODINGS:
                assert ENCODINGS[name] in column.encodings, name
                assert "RLE_DICTIONARY" not in column.encodings, name
                assert not column.has_dictionary_page, name
            elif column.physical_type != "BOOLEAN":  # Parquet has no dictionary for booleans
                # A dictionary throughout: no fallback to PLAIN data pages.
                assert column.has_dictionary_page, name
                assert column.encodings == ("PLAIN", "RLE", "RLE_DICTIONARY"), name
    physical = {meta.schema.column(i).name: meta.schema.column(i).physical_type
                for i in range(meta.num_columns)}  # fmt: skip
    assert physical["latitude"] == physical["longitude"] == "FLOAT"  # float32
    assert physical["event_timestamp"] == "INT64"


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
    a = write_parquet(iter(blocks), SCHEMA, tmp_path / "a.parquet", encodings=ENCODINGS)
    b = write_parquet(iter(blocks), SCHEMA, tmp_path / "b.parquet", encodings=ENCODINGS)
    assert a.sha256 == b.sha256


def test_an_encoding_for_an_unknown_column_is_refused(
    blocks: list[pl.DataFrame], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="nope"):
        write_parquet(iter(blocks), SCHEMA, tmp_path / "x.parquet", encodings={"nope": "PLAIN"})
    assert not (tmp_path / "x.parquet").exists()


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
