"""The local stack's secrets (scripts/stack-lib.sh, ensure_secrets): generated, private, refused
when published. Runs the shell library itself against a temporary .env; no Docker needed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "generated-by-make-airflow-up"


def example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


SECRETS = sorted(key for key, value in example().items() if value == PLACEHOLDER)


def stack_lib(script: str, env_file: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    # DOCKER_GID set: the library needs no Docker socket to find it.
    env.update(STACK_ENV_FILE=str(env_file), DOCKER_GID="0", **extra)
    return subprocess.run(
        ["bash", "-c", f"source scripts/stack-lib.sh && {script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def read(env_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines())


def test_the_example_names_every_secret_the_library_generates(tmp_path: Path) -> None:
    done = stack_lib('echo "${SECRET_KEYS[*]}"', tmp_path / ".env")
    assert sorted(done.stdout.split()) == SECRETS
    assert {"AIRFLOW_FERNET_KEY", "REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY"} <= set(SECRETS)


def test_the_first_start_generates_every_secret_privately(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    done = stack_lib("ensure_secrets", env_file)
    assert done.returncode == 0, done.stderr
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = read(env_file)
    assert sorted(values) == SECRETS
    assert len(set(values.values())) == len(values)  # all different, none a placeholder
    assert PLACEHOLDER not in values.values()
    Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # a valid key
    # The next start keeps them.
    again = stack_lib("ensure_secrets", env_file)
    assert again.returncode == 0, again.stderr
    assert read(env_file) == values


def test_the_other_settings_still_come_from_the_example(tmp_path: Path) -> None:
    done = stack_lib('echo "$RAW_BUCKET ${AIRFLOW_FERNET_KEY:-unset}"', tmp_path / ".env")
    assert done.stdout.split() == [example()["RAW_BUCKET"], "unset"]


@pytest.mark.parametrize(
    "line",
    [
        f"POSTGRES_PASSWORD={PLACEHOLDER}",  # copied from .env.example
        "AIRFLOW_ADMIN_PASSWORD=admin-change-me",  # an older .env.example's default
    ],
)
def test_a_published_value_is_refused(tmp_path: Path, line: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(line + "\n")
    done = stack_lib("ensure_secrets", env_file)
    assert done.returncode != 0
    (message,) = done.stderr.strip().splitlines()
    key = line.split("=")[0]
    assert f"{key} is a value published in the repository" in message
    assert "delete its line" in message


def test_an_empty_line_is_replaced_not_shadowing(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_PASSWORD=\n")
    assert stack_lib("ensure_secrets", env_file).returncode == 0
    assert env_file.read_text().count("REDIS_PASSWORD=") == 1
    assert read(env_file)["REDIS_PASSWORD"]


def test_a_secret_from_the_shell_wins_and_is_not_written(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    done = stack_lib("ensure_secrets", env_file, REDIS_PASSWORD="from-the-shell-0123456789")
    assert done.returncode == 0, done.stderr
    assert "REDIS_PASSWORD" not in read(env_file)
