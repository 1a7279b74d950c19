"""Bad input ends in one line on stderr, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraud_detection.cli import MAX_ROWS, main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own exit
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


BAD_ARGS = [
    (["--date", "2025-06-12", "--rows", "0"], "--rows must be between 1"),
    (["--date", "2025-06-12", "--rows", "-5"], "--rows must be between 1"),
    (["--date", "2025-06-12", "--rows", "many"], "--rows must be a whole number"),
    (["--date", "2025-06-12", "--rows", str(MAX_ROWS + 1)], "--rows must be between"),
    (["--date", "", "--rows", "10"], "--date is empty"),
    (["--date", "2025-02-30"], "is not a real day"),
    (["--date", "12/06/2025"], "is not a real day"),
    (["--rows", "10"], "the following arguments are required: --date"),
    (["--date", "2025-06-12", "--fraud-rate", "0"], "--fraud-rate must be in"),
    (["--date", "2025-06-12", "--fraud-rate", "0.5"], "--fraud-rate must be in"),
    (["--date", "2025-06-12", "--shard", "3/3"], "need 0 <= I < K"),
    (["--date", "2025-06-12", "--shard", "x"], "--shard must look like I/K"),
    (["--date", "2025-06-12", "--seed", "-1"], "--seed must be between"),
    (["--date", "2025-06-12", "--finalize"], "--finalize needs --shards K"),
    (["--date", "2025-06-12", "--shards", "3"], "--shards goes with --finalize"),
    (["--date", "2025-06-12", "--dest", "s3://"], "has no bucket name"),
    (["--date", "2025-06-12", "--dest", "s3:///prefix"], "has no bucket name"),
    (["--date", "2025-06-12", "--dest", "s3://Bad_Bucket"], "is not a valid S3 bucket name"),
    (["--date", "2025-06-12", "--dest", "gs://bucket"], "only local paths and s3://"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGS)
def test_bad_arguments(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("RAW_BUCKET", "raw")  # so only the argument under test is wrong
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("daily-synthetic: error:")
    assert message in err
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp dir


def test_missing_destination_names_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAW_BUCKET", raising=False)
    code, _, err = run_cli(capsys, "--date", "2025-06-12", "--rows", "10")
    assert code == 2
    assert "set RAW_BUCKET" in err and "--dest" in err


def test_destination_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    code, _, err = run_cli(capsys, "--date", "2025-06-12", "--rows", "10", "--dest", str(target))
    assert code == 2
    assert "is a file, not a directory" in err
    assert target.read_text() == "x"


def test_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAW_BUCKET"}
    proc = subprocess.run(
        [sys.executable, "-m", "fraud_detection", "--date", "2025-13-01", "--dest", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == []


def test_help_documents_environment_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for word in ("RAW_BUCKET", "AWS_ENDPOINT_URL", "--shard", "Exit codes", "max 50,000,000"):
        assert word in " ".join(out.split()), word
