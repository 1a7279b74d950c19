"""daily-report: the day's HTML report, from the published days, written beside the datasets.

    daily-report --date 2025-06-12 --source data/raw            → data/reports/2025-06-12.html
    daily-report --date 2025-06-12                              → s3://$RAW_BUCKET/… see --dest

Thin I/O around stats (numbers) and page (HTML): it reads each day through its manifest
(features.source.RawFeed), today's fraud reports from the labels feed, and writes one file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from fraud_detection.arguments import OneLineParser, log_to_stderr
from fraud_detection.arguments import day as parse_date
from fraud_detection.errors import IncompleteDay, JobError, UsageError

PROG = "daily-report"
REPORTS_SUBDIR = "reports"
log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--date", required=True, type=parse_date, help="the day to report on (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--source", default=os.environ.get("DAILY_SYNTHETIC_DEST") or None,
        help="root of the payments feed: a folder or s3://BUCKET[/PREFIX] (default: s3://$RAW_BUCKET)",
    )  # fmt: skip
    parser.add_argument(
        "--labels",
        help="root of the labels feed (default: the labels_root in the day's manifest, if any)",
    )
    parser.add_argument(
        "--dest",
        help=f"root of the reports (default: a '{REPORTS_SUBDIR}' folder beside SOURCE; never "
        "inside a dataset root). The page is written as <dest>/YYYY-MM-DD.html",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


def beside(source: str, name: str = REPORTS_SUBDIR) -> str:
    """A root named `name` next to the source root: `data/raw` → `data/reports`."""
    if "://" in source:
        scheme, _, rest = source.partition("://")
        parts = [p for p in rest.split("/") if p]
        if len(parts) < 2:
            raise UsageError(f"{source} is a bucket root, so no folder sits beside it; pass --dest")
        return f"{scheme}://{'/'.join([*parts[:-1], name])}"
    path = Path(os.path.abspath(source))  # noqa: PTH100
    if path.parent == path:
        raise UsageError(f"{source} is a filesystem root; pass --dest")
    return str(path.parent / name)


def _inside(dest: str, root: str) -> bool:
    norm = [s.rstrip("/") if "://" in s else os.path.abspath(s) for s in (dest, root)]  # noqa: PTH100
    return norm[0] == norm[1] or norm[0].startswith(norm[1] + "/")


def _labels_root(uri: str | None) -> str | None:
    if uri and uri.startswith("file://"):
        return uri.removeprefix("file://")
    return uri


def run(day: date, source_root: str, labels: str | None, dest_root: str) -> str:
    """Reads, computes, writes; returns the page's URI."""
    import polars as pl

    from fraud_detection.features.source import RawFeed
    from fraud_detection.report import page, stats
    from fraud_detection.sinks.destination import parse_destination
    from fraud_detection.tempfiles import work_dir

    source = parse_destination(source_root)
    dest = parse_destination(dest_root)
    with work_dir() as scratch:
        feed = RawFeed(source, Path(scratch))
        manifest = feed.manifest(day)
        if manifest is None:
            raise IncompleteDay(
                f"{source.uri(str(day))}: day {day} is not published (no manifest); run daily-synthetic for it first"
            )
        # One day at a time, aggregates only: the window's rows are never in memory at once.
        summaries: dict[date, stats.DaySummary] = {}
        mcc = None
        for d in stats.window(day):
            files = feed.files(d)
            if files is None:
                log.info("report: %s not published, left out of the window", d)
                continue
            scan = pl.scan_parquet(files, hive_partitioning=False).select(stats.COLUMNS_READ)
            summaries[d] = stats.summarise(scan, d)
            if d == day:
                mcc = stats.by_mcc(scan)
        assert mcc is not None  # the day's manifest was read above
        labels_root = labels or _labels_root(manifest.get("labels_root"))
        reports = None
        if labels_root:
            label_feed = RawFeed(parse_destination(labels_root), Path(scratch) / "labels")
            label_files = label_feed.files(day)
            reports = pl.read_parquet(label_files, hive_partitioning=False) if label_files else None
        html = page.render(stats.build(day, manifest, summaries, mcc, reports))
    # Keys are whole within the bucket (a local root has no prefix).
    key = "/".join(part for part in (dest.prefix, f"{day.isoformat()}.html") if part)
    dest.put_text(key, html, "text/html; charset=utf-8")
    return dest.uri(key)


REPORTS_DEST_ENV = "DAILY_SYNTHETIC_REPORTS_DEST"  # --dest when not given (the DAG sets it)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(args.quiet)
    try:
        source_root = args.source or f"s3://{os.environ.get('RAW_BUCKET', '').strip()}"
        if source_root == "s3://":
            raise UsageError(
                "no source: pass --source DIR or s3://BUCKET[/PREFIX], or set RAW_BUCKET"
            )
        dest_root = args.dest or os.environ.get(REPORTS_DEST_ENV, "").strip() or beside(source_root)
        for root in (source_root, args.labels):
            if root and _inside(dest_root, root):
                raise UsageError(
                    f"--dest {dest_root} is inside the dataset root {root}; pass a root beside it"
                )
        uri = run(args.date, source_root, args.labels, dest_root)
    except JobError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return exc.exit_code
    # The last line is a JSON object, like the other commands' (the DAG's launcher reads it).
    sys.stdout.write(json.dumps({"date": args.date.isoformat(), "uri": uri}) + "\n")
    return 0
