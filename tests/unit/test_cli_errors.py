"""Bad input ends in one line on stderr, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraud_detection.cli import main
from fraud_detection.settings import MAX_ROWS
from tests.support.cli import assert_usage_error, run_main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_main(main, capsys, *argv)


BAD_ARGS = [
    (["--date", "2025-06-12", "--rows", "0"], "--rows must be between 1"),
    (["--date", "2025-06-12", "--rows", "-5"], "--rows must be between 1"),
    (["--date", "2025-06-12", "--rows", "many"], "--rows must be a whole number"),
    (["--date", "2025-06-12", "--rows", str(MAX_ROWS + 1)], "--rows must be between"),
    (["--date", "", "--rows", "10"], "--date is empty"),
    (["--date", "2025-02-30"], "is not a real day"),
    (["--date", "12/06/2025"], "is not in YYYY-MM-DD form"),
    (["--date", "20250612"], "is not in YYYY-MM-DD form"),
    (["--date", "2025-W24-4"], "is not in YYYY-MM-DD form"),
    (["--date", "0001-01-01"], "--date must be between 1970-01-01 and 2999-12-31"),
    (["--date", "9999-12-31"], "--date must be between 1970-01-01 and 2999-12-31"),
    (["--rows", "10"], "the following arguments are required: --date"),
    (["--date", "2025-06-12", "--fraud-rate", "-0.1"], "--fraud-rate must be in"),
    (["--date", "2025-06-12", "--fraud-rate", "0.5"], "--fraud-rate must be in"),
    (["--date", "2025-06-12", "--shard", "3/3"], "need 0 <= I < K"),
    (["--date", "2025-06-12", "--shard", "x"], "--shard must be I/K"),
    (["--date", "2025-06-12", "--shard", "-1/2"], "--shard must be I/K with whole numbers"),
    (["--date", "2025-06-12", "--deadline", "0"], "--deadline must be more than 0"),
    (["--date", "2025-06-12", "--deadline", "soon"], "--deadline must be a number"),
    (["--date", "2025-06-12", "--seed", "-1"], "--seed must be between"),
    (["--date", "2025-06-12", "--finalize"], "--finalize needs --shards K"),
    (["--date", "2025-06-12", "--shards", "3"], "--shards goes with --finalize"),
    (["--date", "2025-06-12", "--dest", "s3://"], "has no bucket name"),
    (["--date", "2025-06-12", "--dest", "s3:///prefix"], "has no bucket name"),
    (["--date", "2025-06-12", "--dest", "s3://Bad_Bucket"], "is not a valid S3 bucket name"),
    (["--date", "2025-06-12", "--dest", "gs://bucket"], "only local paths and s3://"),
    (["--date", "2025-06-12", "--dest", "s3://bucket/../x"], "may not contain '.', '..'"),
    (["--date", "2025-06-12", "--dest", "s3://bucket/a//b"], "may not contain '.', '..'"),
    (["--date", "2025-06-12", "--dest", "s3://bucket/" + "p" * 1000], "too long for S3 keys"),
    (["--date", "2025-06-12", "--dest", "raw/" + "x" * 256], "longer than 255 bytes"),
]

# Each is one setting read from the environment; the run goes to s3://$RAW_BUCKET.
BAD_ENV = [
    ({"AWS_ENDPOINT_URL": "garbage"}, "AWS_ENDPOINT_URL='garbage' is not an http(s)://HOST"),
    ({"AWS_ENDPOINT_URL": "http://[::1"}, "AWS_ENDPOINT_URL='http://[::1' is not a URL"),
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}, "is not a URL"),
    ({"AWS_MAX_ATTEMPTS": "abc"}, "AWS_MAX_ATTEMPTS='abc': must be a whole number"),
    ({"AWS_RETRY_MODE": "eager"}, "AWS_RETRY_MODE='eager'"),
    ({"DAILY_SYNTHETIC_S3_READ_TIMEOUT": "-1"}, "DAILY_SYNTHETIC_S3_READ_TIMEOUT='-1': must be"),
    ({"DAILY_SYNTHETIC_S3_CONNECT_TIMEOUT": "0"}, "CONNECT_TIMEOUT='0': must be more than 0"),
    ({"DAILY_SYNTHETIC_S3_READ_TIMEOUT": "soon"}, "is not a number of seconds"),
    ({"DAILY_SYNTHETIC_DEADLINE": "-5"}, "--deadline must be more than 0"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGS)
@pytest.mark.usefixtures("in_tmp")
def test_bad_arguments(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAW_BUCKET", "raw")  # so only the argument under test is wrong
    assert_usage_error(run_cli(capsys, *argv), "daily-synthetic", message, tmp_path)


@pytest.mark.parametrize(("env", "message"), BAD_ENV)
@pytest.mark.usefixtures("in_tmp")
def test_bad_environment(
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAW_BUCKET", "raw")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_cli(capsys, "--date", "2025-06-12", "--rows", "1000")
    assert_usage_error(result, "daily-synthetic", message, tmp_path)


def test_a_day_without_fraud_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        capsys, "--date", "2025-06-12", "--rows", "2000", "--fraud-rate", "0",
        "--customers", "2000", "--merchants", "200", "--dest", str(tmp_path / "raw"),
    )  # fmt: skip
    assert code == 0, err
    assert '"fraud_rows":0' in out


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


def test_an_address_space_limit_too_small_is_exit_9_before_anything(tmp_path: Path) -> None:
    import resource

    def limit() -> None:  # what `ulimit -v 2000000` does
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, resource.RLIM_INFINITY))

    proc = subprocess.run(
        [sys.executable, "-m", "fraud_detection", "--date", "2025-06-12", "--rows", "1000",
         "--dest", str(tmp_path / "raw")],
        capture_output=True, text=True, timeout=120, preexec_fn=limit,
    )  # fmt: skip
    assert proc.returncode == 9, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "daily-synthetic: error: the address-space limit (ulimit -v) is 2,048 MB"
    )
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "raw").exists()


def test_a_signal_that_native_code_turned_into_a_panic_is_still_the_signal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The handler's exception, raised inside Python code that polars or arrow-rs called,
    comes out of the native call as a Rust panic; the run still ends as interrupted."""
    import signal

    from fraud_detection import pipeline
    from fraud_detection.arguments import on_signal
    from fraud_detection.errors import Interrupted

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def generate_slice(*_: object, **__: object) -> None:
        try:
            on_signal(signal.SIGTERM, None)
        except Interrupted as exc:
            raise PanicException("called `Result::unwrap()` on an `Err` value") from exc

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(pipeline, "generate_slice", generate_slice)
    code, _, err = run_cli(
        capsys, "--date", "2025-06-12", "--rows", "1000", "--dest", str(tmp_path / "raw")
    )
    assert code == 128 + signal.SIGTERM
    last = err.strip().splitlines()[-1]
    assert last.startswith("daily-synthetic: error: interrupted by SIGTERM; ")
    assert "left untouched" in last
    # The next run in this process starts afresh.
    monkeypatch.undo()
    assert (
        run_cli(capsys, "--date", "2025-06-12", "--rows", "1000", "--dest", str(tmp_path / "b"))[0]
        == 0
    )
