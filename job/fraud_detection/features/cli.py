"""`payment-features`: the features step's command line (second console command of the image)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from fraud_detection.arguments import OneLineParser, day, log_to_stderr, stop_on_signals
from fraud_detection.errors import Interrupted, JobError, UsageError
from fraud_detection.features.compute import DEFAULT_LABEL_DELAY_DAYS

PROG = "payment-features"


def _delay(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 90:
        raise argparse.ArgumentTypeError(
            f"--label-delay-days must be a whole number of days from 0 to 90, got {text!r}"
        )
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description=(
            "Compute the card, customer and terminal features of every payment of one published "
            "raw day, from that day and the previous 30 + delay days, and publish them under "
            "DEST/year=YYYY/month=MM/day=DD/ with a _manifest.json. The last stdout line is "
            "that manifest."
        ),
        epilog=(
            "Environment: RAW_BUCKET (default SOURCE s3://$RAW_BUCKET), FEATURES_BUCKET "
            "(default DEST s3://$FEATURES_BUCKET). Exit codes: 0 ok, "
            "2 bad arguments, 3 destination error, 5 disk full, 6 the day is not published, "
            "130/143 interrupted."
        ),
    )
    p.add_argument("--date", type=day, required=True, help="the day to compute, YYYY-MM-DD")
    p.add_argument(
        "--source", default=None,
        help="root of the raw feed: local directory or s3://BUCKET[/PREFIX] "
        "(default: s3://$RAW_BUCKET)",
    )  # fmt: skip
    p.add_argument(
        "--dest", default=None,
        help="root of the features dataset, never inside SOURCE nor around it (default: "
        "s3://$FEATURES_BUCKET if set, else a 'features' folder beside SOURCE, e.g. data/raw -> "
        "data/features; required when SOURCE is a bucket root and FEATURES_BUCKET is unset)",
    )  # fmt: skip
    p.add_argument(
        "--label-delay-days", type=_delay, default=DEFAULT_LABEL_DELAY_DAYS,
        help=f"a fraud label is known this many days after its payment (default {DEFAULT_LABEL_DELAY_DAYS})",
    )  # fmt: skip
    p.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(args.quiet)
    stop_on_signals()
    try:
        manifest = _run(args)
    except Interrupted as exc:
        sys.stderr.write(f"{PROG}: error: interrupted by {exc.name}; nothing was published\n")
        return exc.exit_code
    except JobError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return exc.exit_code
    sys.stdout.write(json.dumps(manifest) + "\n")
    sys.stdout.flush()
    return 0


def _run(args: argparse.Namespace) -> dict[str, object]:
    from fraud_detection.features.pipeline import FeaturesOptions, default_dest, run
    from fraud_detection.sinks.destination import parse_destination, roots_overlap

    source = parse_destination(args.source)
    # parse_destination has checked RAW_BUCKET when no --source was given.
    source_root = args.source or f"s3://{os.environ['RAW_BUCKET'].strip()}"
    bucket = os.environ.get("FEATURES_BUCKET", "").strip()
    dest = parse_destination(
        args.dest or (f"s3://{bucket}" if bucket else None) or default_dest(source_root)
    )
    if roots_overlap(source, dest):
        # A `**/*.parquet` reader of the raw root would take the features for payments.
        raise UsageError(
            f"the features' root {dest.uri(dest.prefix).rstrip('/')} overlaps the raw feed's "
            f"root {source.uri(source.prefix).rstrip('/')}: give the features a root of their "
            "own (--dest or FEATURES_BUCKET: another bucket, or a folder beside the feed)"
        )
    return run(FeaturesOptions(day=args.date, label_delay_days=args.label_delay_days), source, dest)
