"""The encoder process writes the same bytes as encoding in the job's process, and fails cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from fraud_detection.errors import JobError
from fraud_detection.schema import ENCODINGS, SCHEMA
from fraud_detection.simulator import DaySpec, Shard, iter_blocks
from fraud_detection.sinks import parquet
from fraud_detection.sinks.parquet import write_parquet

from .conftest import DAY, SMALL

ROWS = 12_000  # 8 blocks


@pytest.fixture(scope="module")
def blocks() -> list[pl.DataFrame]:
    return list(iter_blocks(DaySpec(DAY, ROWS, seed=11, population=SMALL), Shard()))


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("row_group_rows", [1 << 20, 5_000])
def test_the_encoder_process_writes_the_same_bytes(
    blocks: list[pl.DataFrame], tmp_path: Path, row_group_rows: int
) -> None:
    here = write_parquet(
        iter(blocks), SCHEMA, tmp_path / "here.parquet", encodings=ENCODINGS,
        row_group_rows=row_group_rows, encoder="here",
    )  # fmt: skip
    there = write_parquet(
        iter(blocks), SCHEMA, tmp_path / "there.parquet", encodings=ENCODINGS,
        row_group_rows=row_group_rows, encoder="process",
    )  # fmt: skip
    assert there.sha256 == here.sha256
    assert there.bytes == here.bytes
    assert _left_in(tmp_path) == ["here.parquet", "there.parquet"]  # no block files


def test_no_frames_still_make_a_file_with_the_schema(tmp_path: Path) -> None:
    there = write_parquet(iter([]), SCHEMA, tmp_path / "empty.parquet", encoder="process")
    assert pl.read_parquet(there.path).columns == list(SCHEMA)


def test_the_callers_exception_comes_out_and_nothing_is_left(
    blocks: list[pl.DataFrame], tmp_path: Path
) -> None:
    class Stop(Exception):
        pass

    def frames() -> Iterator[pl.DataFrame]:
        yield from blocks[:5]
        raise Stop("deadline")

    with pytest.raises(Stop, match="deadline"):
        write_parquet(frames(), SCHEMA, tmp_path / "x.parquet", encoder="process")
    assert _left_in(tmp_path) == []


def test_an_encoder_failure_is_one_line_and_leaves_nothing(
    blocks: list[pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = parquet.writer_options

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        return {**real(*args, **kwargs), "compression": "no-such-codec"}  # type: ignore[arg-type]

    monkeypatch.setattr(parquet, "writer_options", broken)
    with pytest.raises(JobError) as caught:
        write_parquet(iter(blocks), SCHEMA, tmp_path / "x.parquet", encoder="process")
    message = str(caught.value)
    assert "encoder process failed" in message and "\n" not in message
    assert "panicked" not in message
    assert _left_in(tmp_path) == []


def test_a_killed_encoder_is_reported(
    blocks: list[pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[str]] = []
    real_popen = subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[str]:
        child: subprocess.Popen[str] = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(child)
        return child

    def frames() -> Iterator[pl.DataFrame]:
        yield blocks[0]
        os.kill(started[0].pid, signal.SIGKILL)
        yield from blocks[1:]

    monkeypatch.setattr(parquet.subprocess, "Popen", popen)
    with pytest.raises(JobError, match="killed by signal 9"):
        write_parquet(frames(), SCHEMA, tmp_path / "x.parquet", encoder="process")
    assert _left_in(tmp_path) == []


def test_the_encoder_cleans_up_when_the_job_is_gone(tmp_path: Path) -> None:
    blocks = tmp_path / "out.parquet.blocks"
    blocks.mkdir()
    schema_file = blocks / "00000.arrow"
    pl.DataFrame(schema=SCHEMA).write_ipc(schema_file, compat_level=pl.CompatLevel.oldest())
    request = (
        f'{{"path": "{tmp_path / "out.parquet"}", "blocks": "{blocks}", '
        '"options": {"compression": "zstd(1)"}}'
    )
    # The job sends the schema file, then dies: stdin ends without the end line.
    done = subprocess.run(
        [sys.executable, "-m", "fraud_detection.sinks.encoder", request],
        input=f"{schema_file}\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["the job stopped sending blocks; no file written"]
    assert _left_in(tmp_path) == []


def test_a_cpu_quota_caps_the_usable_cpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parquet.usable_cpus() >= 1
    monkeypatch.setattr(parquet.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    real_path = parquet.Path

    def fake_path(name: str) -> Path:
        return tmp_path / "cpu.max" if name == "/sys/fs/cgroup/cpu.max" else real_path(name)

    monkeypatch.setattr(parquet, "Path", fake_path)
    for text, want in (("max 100000", 4), ("100000 100000", 1), ("150000 100000", 2)):
        (tmp_path / "cpu.max").write_text(text)
        assert parquet.usable_cpus() == want


@pytest.mark.parametrize(
    ("cpus", "free_mb", "want"),
    [(2, 10_000, "process"), (1, 10_000, "here"), (2, 100, "here"), (4, 200, "process")],
)
def test_the_run_encodes_apart_only_with_a_second_cpu_and_room_for_block_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpus: int, free_mb: int, want: str
) -> None:
    from collections import namedtuple

    from fraud_detection import pipeline, tempfiles

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(pipeline, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(tempfiles.shutil, "disk_usage", lambda _: usage(0, 0, free_mb * 10**6))
    # 1 M rows in blocks of 125,000: the file (~55 MB) and three block files (~128 MB).
    assert pipeline._encoder_for(tmp_path, 1_000_000, 125_000) == want
