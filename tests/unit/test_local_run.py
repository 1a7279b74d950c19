"""The whole job against a local destination: layout, manifest, re-runs, shards, faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable

from fraud_detection import GENERATOR_VERSION, pipeline
from fraud_detection.cli import main
from fraud_detection.sinks.layout import PARTITION_GLOB as PAYMENTS_GLOB
from fraud_detection.tempfiles import TEMP_PREFIX

from .conftest import SMALL

DAY_DIR = "year=2025/month=6/day=12"
MANIFEST = "_manifests/2025-06-12.json"
POP = ["--customers", str(SMALL.customers), "--merchants", str(SMALL.merchants)]


def job(
    capsys: pytest.CaptureFixture[str], dest: Path, *extra: str, rows: int = 20_000
) -> tuple[int, dict[str, Any], str]:
    code = main(
        [
            "--date",
            "2025-06-12",
            "--rows",
            str(rows),
            "--dest",
            str(dest),
            "--seed",
            "7",
            *POP,
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (json.loads(lines[-1]) if code == 0 else {}), err


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    return tmp


def parts(dest: Path) -> list[str]:
    """The day folder's Parquet files, without the run id in their names."""
    return sorted(re.sub(r"^part-[0-9a-f]{12}-", "part-", p.name) for p in files(dest))


def files(dest: Path) -> list[Path]:
    return sorted((dest / DAY_DIR).glob("*.parquet"))


def test_run_publishes_the_day_with_a_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, private_tmp: Path
) -> None:
    dest = tmp_path / "raw"
    code, manifest, err = job(capsys, dest)
    assert code == 0, err
    assert parts(dest) == ["part-00000-of-00001.parquet"]
    (part,) = files(dest)
    df = pl.read_parquet(part)
    assert df.height == 20_000
    assert manifest["rows"] == 20_000
    assert manifest["date"] == "2025-06-12" and manifest["seed"] == 7
    assert manifest["keys"] == [f"{DAY_DIR}/{part.name}"]
    assert manifest["uri"] == f"file://{(dest / DAY_DIR).resolve()}/"
    assert manifest["bytes"] == part.stat().st_size
    assert manifest["table_format"] == "delta" and manifest["table_version"] == 0
    assert [Path(u).name for u in DeltaTable(str(dest)).file_uris()] == [part.name]
    assert manifest["fraud_rate"] == pytest.approx(df["is_fraud"].mean(), abs=1e-6)
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["complete"] is True
    assert len(manifest["sha256"]) == 64
    assert json.loads((dest / MANIFEST).read_text()) == manifest
    assert "generated 20,000/20,000 rows (100%), block 8/8 validated" in err and "published" in err
    assert list(private_tmp.iterdir()) == []  # the temp file is gone


def test_readers_read_the_table_and_the_root_with_one_type_per_partition_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each reader's ordinary call over two days (docs/contract.md, per reader)."""
    dest = tmp_path / "raw"
    assert job(capsys, dest, "--date", "2025-06-09", rows=2_000)[0] == 0  # day 9: one digit
    assert job(capsys, dest, rows=3_000)[0] == 0
    days = {9: 2_000, 12: 3_000}
    # Through the Delta log: deltalake and polars, and time travel to yesterday's version.
    table = DeltaTable(str(dest)).to_pyarrow_table()
    assert sorted(pl.DataFrame(table)["day"].value_counts().rows()) == sorted(days.items())
    delta = pl.scan_delta(str(dest)).group_by("day").len().sort("day").collect()
    assert delta.rows() == list(days.items()) and delta.schema["day"] == pl.Int32
    yesterday = pl.scan_delta(str(dest), version=0).select(pl.len()).collect().item()
    assert yesterday == 2_000
    # The root as a Hive dataset: pyarrow skips _delta_log/_manifests/_staging/_leases itself.
    dataset = pads.dataset(dest, format="parquet", partitioning="hive")
    assert dataset.count_rows() == 5_000
    assert {dataset.schema.field(c).type for c in ("year", "month", "day")} == {pa.int32()}
    # The Parquet glob: one integer type per partition column in DuckDB and polars.
    query = (
        "select distinct typeof(year), typeof(month), typeof(day) "
        "from read_parquet(?, hive_partitioning=true)"
    )
    glob = f"{dest}/{PAYMENTS_GLOB}"  # not **/*.parquet: the log's checkpoints are Parquet
    assert duckdb.execute(query, [glob]).fetchall() == [("BIGINT", "BIGINT", "BIGINT")]
    lazy = pl.scan_parquet(glob, hive_partitioning=True)
    got = lazy.group_by("year", "month", "day").len().sort("day").collect()
    assert got.rows() == [(2025, 6, d, n) for d, n in days.items()]
    assert got.schema["day"] == got.schema["month"] == pl.Int64


def test_rerun_replaces_the_day_even_with_fewer_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    first = job(capsys, dest, rows=20_000)[1]
    again = job(capsys, dest, rows=20_000)[1]
    assert again["sha256"] == first["sha256"]  # byte-identical re-run
    assert again["keys"] != first["keys"]  # under a new key: no file is overwritten
    fewer = job(capsys, dest, rows=5_000)[1]
    assert parts(dest) == ["part-00000-of-00001.parquet"]
    assert [f"{DAY_DIR}/{f.name}" for f in files(dest)] == fewer["keys"]
    assert fewer["table_version"] == 2
    assert DeltaTable(str(dest)).to_pyarrow_table().num_rows == 5_000
    assert pl.scan_parquet(dest / DAY_DIR / "*.parquet").select(pl.len()).collect().item() == 5_000
    assert fewer["rows"] == 5_000


def test_sharded_day_equals_the_unsharded_day_and_replaces_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    whole = job(capsys, dest)[1]
    shard_manifests = []
    for i in range(3):
        code, m, err = job(capsys, dest, "--shard", f"{i}/3")
        assert code == 0, err
        assert m["complete"] is False and m["shard"] == f"{i}/3"
        shard_manifests.append(m)
    code, final, err = job(capsys, dest, "--finalize", "--shards", "3")
    assert code == 0, err
    assert parts(dest) == [
        f"part-0000{i}-of-00003.parquet" for i in range(3)
    ]  # the 1-part copy is gone
    assert final["rows"] == whole["rows"] == sum(m["rows"] for m in shard_manifests)
    assert final["fingerprint"] == whole["fingerprint"]  # the very same rows
    assert final["fraud_rows"] == whole["fraud_rows"]
    sharded = pl.read_parquet(dest / DAY_DIR / "*.parquet")
    assert sharded.height == 20_000 and sharded["transaction_id"].n_unique() == 20_000
    # ...and going back to one shard replaces the three.
    job(capsys, dest)
    assert parts(dest) == ["part-00000-of-00001.parquet"]


def test_finalize_refuses_an_incomplete_day(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    job(capsys, dest, "--shard", "0/3")
    job(capsys, dest, "--shard", "2/3")
    code, _, err = job(capsys, dest, "--finalize", "--shards", "3")
    assert code == 6
    assert "slice 1/3 was never staged (part-00001-of-00003.parquet.staged missing)" in err
    assert err.rstrip().endswith("day 2025-06-12 left untouched (as it was before this run)")
    assert not (dest / DAY_DIR).exists()
    code, _, err = job(capsys, dest, "--finalize", "--shards", "3", "--seed", "8")
    assert code == 6 and "slice 0/3 was made with seed=7 (expected 8)" in err


def test_finalize_names_every_setting_a_slice_differs_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    assert job(capsys, dest, "--shard", "0/2")[0] == 0
    other = ["--compression", "snappy", "--fraud-rate", "0.0075"]
    assert job(capsys, dest, "--shard", "1/2", *other)[0] == 0
    code, _, err = job(capsys, dest, "--finalize", "--shards", "2")
    assert code == 6
    assert (
        "slice 1/2 was made with fraud_rate=0.0075 (expected 0.005), compression=snappy (expected zstd)"
        in err
    )
    assert not (dest / DAY_DIR).exists()


def test_partition_folders_hold_only_parquet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    for i in range(2):
        assert job(capsys, dest, "--shard", f"{i}/2")[0] == 0
    assert job(capsys, dest, "--finalize", "--shards", "2")[0] == 0
    assert parts(dest) == ["part-00000-of-00002.parquet", "part-00001-of-00002.parquet"]
    assert len(list((dest / DAY_DIR).iterdir())) == 2  # nothing but the day's Parquet
    # Nothing is left staged, and polars and DuckDB take the folder as it is.
    assert list((dest / "_staging").rglob("*.staged")) == []
    assert pl.scan_parquet(dest / DAY_DIR / "*.parquet").select(pl.len()).collect().item() == 20_000
    query = "select count(*) from read_parquet(?)"  # the staging area does not match the glob
    assert duckdb.execute(query, [f"{dest}/{PAYMENTS_GLOB}"]).fetchone() == (20_000,)
    assert list(dest.glob("**/*.staged")) == []


def test_the_manifest_describes_the_dataset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    dest = tmp_path / "raw"
    code, manifest, err = job(capsys, dest, rows=2_000)
    assert code == 0, err
    root = f"file://{dest.resolve()}"
    assert manifest["root"] == root
    assert manifest["glob"] == f"{root}/year=*/month=*/day=*/*.parquet"
    assert manifest["timestamp_field"] == "event_timestamp"
    assert manifest["partition_columns"] == {"year": "int32", "month": "int32", "day": "int32"}
    written = pq.read_schema(files(dest)[0])
    assert manifest["schema"] == {f.name: str(f.type) for f in written}
    assert written.field("customer_id").type == "string"  # not large_string
    assert manifest["settings"]["seed"] == "7" and len(manifest["settings_digest"]) == 16


def _lease(dest: Path, renewed_ago: float, text: str | None = None) -> Path:
    """Another run's lease (with a field a newer version might add), last written `renewed_ago` s ago."""
    path = dest / "_leases" / "2025-06-12.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {"run_id": "feedfacefeedface", "host": "elsewhere", "pid": 1,
              "started": "2025-06-12T00:00:00+00:00", "ttl_seconds": 30, "new_field": 1}  # fmt: skip
    path.write_text(json.dumps(holder) if text is None else text)
    then = time.time() - renewed_ago
    os.utime(path, (then, then))
    return path


def test_a_held_lease_keeps_a_second_run_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    lease = _lease(dest, renewed_ago=5)
    code, _, err = job(capsys, dest, rows=2_000)
    assert code == 7
    last = err.strip().splitlines()[-1]
    assert last.startswith("daily-synthetic: error: day 2025-06-12 at ")
    assert "is being written by run feedfacefeedface on elsewhere (pid 1)" in last
    assert last.endswith("day 2025-06-12 left untouched (as it was before this run)")
    assert not (dest / DAY_DIR).exists() and lease.exists()


def test_an_unreadable_lease_is_never_taken_over(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    lease = _lease(dest, renewed_ago=3600, text='{"holder": "a format this version cannot read"}')
    code, _, err = job(capsys, dest, rows=2_000)
    assert code == 7 and "cannot be read" in err.strip().splitlines()[-1]
    assert lease.exists() and not (dest / DAY_DIR).exists()


def test_an_expired_lease_is_taken_over(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    lease = _lease(dest, renewed_ago=31)  # not renewed for longer than its time to live
    code, _, err = job(capsys, dest, rows=2_000)
    assert code == 0, err
    assert "took over the expired lease" in err
    assert not lease.exists()  # released at the end
    assert parts(dest) == ["part-00000-of-00001.parquet"]


def test_deadline_ends_the_run_with_exit_8(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, private_tmp: Path
) -> None:
    dest = tmp_path / "raw"
    code, _, err = job(capsys, dest, "--deadline", "0.05", rows=200_000)
    assert code == 8
    last = err.strip().splitlines()[-1]
    assert "the run's deadline of 0.05 s passed" in last and last.endswith(
        "left untouched (as it was before this run)"
    )
    assert not (dest / DAY_DIR).exists() and list(private_tmp.iterdir()) == []


def test_stale_temp_dirs_of_killed_runs_are_swept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, private_tmp: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = private_tmp / f"{TEMP_PREFIX}{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "part-00000-of-00001.parquet").write_bytes(b"half a file")
    assert job(capsys, tmp_path / "raw", rows=2_000)[0] == 0
    assert list(private_tmp.iterdir()) == []


def test_disk_full_is_one_clear_line_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    private_tmp: Path,
) -> None:
    work = private_tmp / "work"

    @contextmanager
    def full_disk() -> Iterator[Path]:
        # /dev/full fails every write with ENOSPC, like a full volume.
        work.mkdir()
        (work / "slice.parquet").symlink_to("/dev/full")  # the pipeline's scratch file
        try:
            yield work
        finally:
            for p in work.iterdir():
                p.unlink()
            work.rmdir()

    monkeypatch.setattr(pipeline, "work_dir", full_disk)
    dest = tmp_path / "raw"
    code, _, err = job(capsys, dest)
    assert code == 5
    assert (
        err.strip().splitlines()[-1].startswith("daily-synthetic: error: no space left on device")
    )
    assert "Traceback" not in err
    assert parts(dest) == [] and list(private_tmp.iterdir()) == []


def test_sigterm_mid_run_leaves_no_partial_file(tmp_path: Path, private_tmp: Path) -> None:
    dest = tmp_path / "raw"
    env = dict(os.environ, TMPDIR=str(private_tmp))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraud_detection", "--date", "2025-06-12", "--rows", "3000000",
         "--dest", str(dest), *POP],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # wait until it is mid-generation
        if "generated" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert rest.strip().splitlines()[-1] == (
        "daily-synthetic: error: interrupted by SIGTERM; "
        "day 2025-06-12 left untouched (as it was before this run)"
    )
    assert "Traceback" not in rest
    assert out == ""
    assert parts(dest) == []
    assert list(private_tmp.iterdir()) == []
