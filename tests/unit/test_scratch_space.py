"""The scratch-space check: a TMPDIR too small for the slice is refused before any work."""

from __future__ import annotations

import re
from collections import namedtuple
from pathlib import Path

import pytest

from fraud_detection import tempfiles
from fraud_detection.errors import DiskFull

ROOT = Path(__file__).resolve().parents[2]
Usage = namedtuple("Usage", "total used free")


def test_a_slice_that_does_not_fit_is_refused_with_the_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfiles.shutil, "disk_usage", lambda _: Usage(10**9, 10**9, 2_000_000))
    with pytest.raises(DiskFull) as caught:
        tempfiles.check_scratch_space(tmp_path, 200_000)
    message = str(caught.value)
    assert message.startswith("no space left on device for 200,000 rows")
    assert "2.0 MB free" in message and "TMPDIR" in message


def test_a_slice_that_fits_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 1_000_000
    free = rows * tempfiles.SCRATCH_BYTES_PER_ROW
    monkeypatch.setattr(tempfiles.shutil, "disk_usage", lambda _: Usage(free, 0, free))
    tempfiles.check_scratch_space(tmp_path, rows)


def test_the_estimate_covers_the_measured_bytes_per_row() -> None:
    text = (ROOT / "docs" / "performance.md").read_text()
    measured = [float(v) for v in re.findall(r"\| bytes per row, [\d,]+ rows \| ([\d.]+) \|", text)]
    assert measured, "docs/performance.md has no 'bytes per row' figure"
    # Headroom over the measurement, but not so much that a day that fits is refused.
    assert max(measured) * 1.1 <= tempfiles.SCRATCH_BYTES_PER_ROW <= max(measured) * 1.5
