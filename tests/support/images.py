"""The container images the tests run, built once per session by one call of the Makefile.

`make images` builds the job image and moto's S3 image with the project's own recipe (base
image, CA secret, labels); BuildKit's cache makes a rebuild of an unchanged tree take seconds.
JOB_IMAGE / MOTO_IMAGE name the tags (helpers tag theirs); SKIP_IMAGE_BUILD=1 (or the older
E2E_SKIP_IMAGE_BUILD=1) uses the images as they are.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JOB_IMAGE = "daily-synthetic-job:dev"
DEFAULT_MOTO_IMAGE = "daily-synthetic-moto:dev"


@dataclass(frozen=True)
class Images:
    job: str
    moto: str
    build_seconds: float | None  # None: not built by this session


def _skip_build() -> bool:
    return "1" in (os.environ.get("SKIP_IMAGE_BUILD"), os.environ.get("E2E_SKIP_IMAGE_BUILD"))


@functools.cache
def ensure_images() -> Images:
    """The images, built once per process (`make -s images`) unless building is skipped."""
    job = os.environ.get("JOB_IMAGE") or DEFAULT_JOB_IMAGE
    moto = os.environ.get("MOTO_IMAGE") or DEFAULT_MOTO_IMAGE
    if _skip_build():
        return Images(job, moto, None)
    started = time.perf_counter()
    done = subprocess.run(
        ["make", "-s", "images", f"JOB_IMAGE={job}", f"MOTO_IMAGE={moto}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"make images failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return Images(job, moto, time.perf_counter() - started)
