"""Headless Chromium (Debian's package) for page tests: the DOM after load, console lines, a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip
# `--enable-logging=stderr --v=0` prints each console message (and uncaught error) as a line.
CONSOLE = re.compile(r":CONSOLE(?::|\()\d*\)?\] (.*)")


def chromium() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("chromium is missing: run `make chromium` (Debian's package)")
    return path


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]  # every console message and uncaught error of the page


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip


def load(path: Path) -> Page:
    """The page's DOM once its load handlers ran, and its console lines."""
    proc = _run(
        path.resolve().as_uri(),
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
    )  # fmt: skip
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return Page(proc.stdout, console)


def screenshot(path: Path, png: Path, size: str = "1400,2600") -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(path.resolve().as_uri(), f"--window-size={size}", f"--screenshot={png}")
    assert png.is_file() and png.stat().st_size > 0
