"""The Parquet encoder as a process of its own (`python -m fraud_detection.sinks.encoder`).

arrow-rs's writer (through arro3) keeps the GIL while it encodes, so in the job's own
process encoding and generating take turns. In this process it encodes block k while the
job makes block k+1 on the other core. `sinks.parquet` starts it, writes each block as an
Arrow IPC file into the scratch folder (polars does that without the GIL) and names the
files on stdin, one per line: first a file with no rows that gives the schema, then the
blocks in order, then an empty line for the end. This process reads each block, deletes
its file and answers with a line on stdout, so the job keeps only a few files ahead.

Input that ends without the empty line means the job is gone: the partial file and the
block files are removed.
Exit 0: the file is complete. Otherwise one line on stderr says why; exit 5: disk full.
Standard library and arro3 only, so the process starts in a few tens of milliseconds.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import arro3.core as a3
from arro3.io import read_ipc, write_parquet

from fraud_detection.errors import DiskFull, is_disk_full


class Truncated(Exception):
    """The input ended before the end line: the job is gone."""


def _names(lines: IO[str]) -> Iterator[str]:
    """The files named on `lines`, up to the end line."""
    for line in lines:
        name = line.rstrip("\n")
        if not name:
            return
        yield name
    raise Truncated


def encode(lines: IO[str], acks: IO[str], path: Path, options: dict[str, Any]) -> None:
    """Write the blocks named on `lines` into `path`, acknowledging each on `acks`."""
    names = _names(lines)
    first = next(names, None)
    if first is None:
        raise Truncated
    schema = read_ipc(first).schema
    Path(first).unlink()

    truncated: list[Truncated] = []  # arrow-rs wraps what the reader raises

    def batches() -> Iterator[a3.RecordBatch]:
        try:
            for name in names:
                yield from read_ipc(name)
                Path(name).unlink()
                acks.write("done\n")
                acks.flush()
        except Truncated as exc:
            truncated.append(exc)
            raise

    try:
        write_parquet(a3.RecordBatchReader.from_batches(schema, batches()), path, **options)
    except BaseException:
        path.unlink(missing_ok=True)
        if truncated:
            raise truncated[0] from None
        raise


def main(argv: list[str]) -> int:
    # The job handles Ctrl-C and SIGTERM, and then stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request = json.loads(argv[0])
    path = Path(request["path"])
    try:
        encode(sys.stdin, sys.stdout, path, request["options"])
    except Truncated:
        path.unlink(missing_ok=True)
        shutil.rmtree(request["blocks"], ignore_errors=True)  # nobody else is left to
        sys.stderr.write("the job stopped sending blocks; no file written\n")
        return 1
    except BaseException as exc:  # arrow-rs reports its I/O errors as panics
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            sys.stderr.write(f"no space left on device while writing {path}\n")
            return DiskFull.exit_code
        first = str(exc).splitlines()[:1] or [""]
        sys.stderr.write(f"{type(exc).__name__}: {first[0]}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
