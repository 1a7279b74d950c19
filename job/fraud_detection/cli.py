"""`daily-synthetic`: the thin command line over the pipeline.

Configuration comes only from arguments and the environment (12-factor), so the
same image runs under docker run, Airflow, testcontainers and ECS.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from fraud_detection import GENERATOR_VERSION
from fraud_detection.arguments import OneLineParser, day, stop_on_signals
from fraud_detection.errors import Interrupted, JobError, UsageError
from fraud_detection.settings import (
    COMPRESSIONS,
    DEFAULT_CUSTOMERS,
    DEFAULT_FRAUD_RATE,
    DEFAULT_LEASE_TTL_SECONDS,
    DEFAULT_MERCHANTS,
    DEFAULT_PROFILE,
    DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_ROWS,
    DEFAULT_SEED,
    MAX_DEADLINE_SECONDS,
    MAX_FRAUD_RATE,
    MAX_POPULATION,
    MAX_ROWS,
    MAX_SHARDS,
    PROFILES,
    JobSettings,
)

if TYPE_CHECKING:
    from fraud_detection.manifest import Manifest

log = logging.getLogger("fraud_detection")


def _int_in(name: str, low: int, high: int) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace(",", "_"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{name} must be between {low:,} and {high:,}, got {value:,}"
            )
        return value

    parse.__name__ = name
    return parse  # type: ignore[return-value]


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fraud-rate must be a number, got {text!r}") from None
    if not 0.0 <= value <= MAX_FRAUD_RATE:  # 0: a day without fraud, e.g. for a baseline
        raise argparse.ArgumentTypeError(
            f"--fraud-rate must be in [0, {MAX_FRAUD_RATE}], got {text}"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--deadline must be a number of seconds, got {text!r}"
        ) from None
    if not 0 < value <= MAX_DEADLINE_SECONDS:
        raise argparse.ArgumentTypeError(
            f"--deadline must be more than 0 and at most {MAX_DEADLINE_SECONDS:g} s, got {text}"
        )
    return value


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise argparse.ArgumentTypeError(
            f"--shard must be I/K with whole numbers 0 <= I < K (e.g. 0/4), got {text!r}"
        )
    i, k = int(index), int(count)
    if not (1 <= k <= MAX_SHARDS and 0 <= i < k):
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= I < K <= {MAX_SHARDS}")
    return i, k


def _joined_values(argv: Sequence[str]) -> list[str]:
    """`--shard -1/2` → `--shard=-1/2`: argparse would read "-1/2" as an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--shard" and arg.startswith("-"):
            out[-1] = f"--shard={arg}"
        else:
            out.append(arg)
    return out


def _env_int(name: str, default: int) -> str:
    return os.environ.get(name, str(default))


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="daily-synthetic",
        description=(
            "Generate one day of synthetic, labelled card payments and publish it as Parquet "
            "under DEST/year=YYYY/month=MM/day=DD/. The last stdout line is a JSON manifest."
        ),
        epilog=(
            "Environment: RAW_BUCKET (default DEST s3://$RAW_BUCKET), AWS_ENDPOINT_URL, "
            "AWS_DEFAULT_REGION and the AWS credential chain; DAILY_SYNTHETIC_SEED, "
            "DAILY_SYNTHETIC_CUSTOMERS, DAILY_SYNTHETIC_MERCHANTS, DAILY_SYNTHETIC_FRAUD_RATE, "
            "DAILY_SYNTHETIC_PROFILE set the defaults of the matching options. Exit codes: 0 ok, 2 bad arguments, "
            "3 destination error, 4 data check failed, 5 disk full, 6 incomplete day at "
            "--finalize, 7 another run holds the day's lease, 8 deadline passed, 9 out of "
            "memory, 130/143 interrupted. Every error line ends with the state of the day."
        ),
    )
    p.add_argument("--date", type=day, required=True, help="the day to generate, YYYY-MM-DD (UTC)")
    p.add_argument(
        "--rows", type=_int_in("--rows", 1, MAX_ROWS), default=DEFAULT_ROWS,
        help=f"payments in the day (default {DEFAULT_ROWS:,}; max {MAX_ROWS:,})",
    )  # fmt: skip
    p.add_argument(
        "--dest", default=None,
        help="local directory or s3://BUCKET[/PREFIX] (default: s3://$RAW_BUCKET)",
    )  # fmt: skip
    p.add_argument(
        "--labels-dest", default=os.environ.get("DAILY_SYNTHETIC_LABELS_DEST") or None,
        help="where to publish the labels feed (fraud_reports: the fraud reports made on the "
        "day), a local directory or s3://BUCKET[/PREFIX] outside DEST; default "
        "$DAILY_SYNTHETIC_LABELS_DEST, else not published",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=_int_in("--seed", 0, 2**63 - 1),
        default=_env_int("DAILY_SYNTHETIC_SEED", DEFAULT_SEED),
        help=f"world seed: same seed, same entities and rows (default {DEFAULT_SEED})",
    )  # fmt: skip
    p.add_argument(
        "--profile", choices=PROFILES,
        default=os.environ.get("DAILY_SYNTHETIC_PROFILE", DEFAULT_PROFILE),
        help="fraud preset: 'training' (rich in fraud, the default) or 'realistic' "
        "(about 0.015%% of payments, like published European card-fraud rates)",
    )  # fmt: skip
    p.add_argument(
        "--fraud-rate", type=_rate, default=os.environ.get("DAILY_SYNTHETIC_FRAUD_RATE"),
        help=f"share of fraudulent payments on an average day (default: the profile's, "
        f"{DEFAULT_FRAUD_RATE} for training)",
    )  # fmt: skip
    p.add_argument(
        "--customers", type=_int_in("--customers", 1_000, MAX_POPULATION),
        default=_env_int("DAILY_SYNTHETIC_CUSTOMERS", DEFAULT_CUSTOMERS),
        help=f"customer population, independent of --rows (default {DEFAULT_CUSTOMERS:,})",
    )  # fmt: skip
    p.add_argument(
        "--merchants", type=_int_in("--merchants", 100, MAX_POPULATION),
        default=_env_int("DAILY_SYNTHETIC_MERCHANTS", DEFAULT_MERCHANTS),
        help=f"merchant population (default {DEFAULT_MERCHANTS:,})",
    )  # fmt: skip
    p.add_argument(
        "--shard", type=_shard, default=(0, 1), metavar="I/K",
        help="publish only slice I of K (0-based); then run --finalize --shards K",
    )  # fmt: skip
    p.add_argument(
        "--finalize", action="store_true",
        help="after K slices were published: check them, remove stale objects, write the manifest",
    )  # fmt: skip
    p.add_argument(
        "--shards", type=_int_in("--shards", 1, 1024), default=None, help="K, with --finalize"
    )
    p.add_argument(
        "--compression", choices=COMPRESSIONS, default="zstd", help="Parquet codec (default zstd)"
    )
    p.add_argument(
        "--row-group-rows", type=_int_in("--row-group-rows", 1_000, 10_000_000),
        default=DEFAULT_ROW_GROUP_ROWS, help=f"most rows per Parquet row group (default {DEFAULT_ROW_GROUP_ROWS:,})",
    )  # fmt: skip
    p.add_argument(
        "--deadline", type=_seconds,
        default=os.environ.get("DAILY_SYNTHETIC_DEADLINE") or None,
        help="seconds the whole run may take, else exit 8 (default: 120 + rows/10,000; "
        "env DAILY_SYNTHETIC_DEADLINE)",
    )  # fmt: skip
    p.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors on stderr")
    p.add_argument("--version", action="version", version=f"daily-synthetic {GENERATOR_VERSION}")
    return p


class _JobLogHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Progress on stderr; one handler however often main() runs in a process."""


def _setup_logging(quiet: bool) -> None:
    logger = logging.getLogger("fraud_detection")
    for handler in [h for h in logger.handlers if isinstance(h, _JobLogHandler)]:
        logger.removeHandler(handler)
    handler = _JobLogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    # botocore chatters at INFO (credential lookups); keep the job's own lines readable.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _error_line(message: str, day_state: str | None) -> str:
    return f"daily-synthetic: error: {message}" + (f"; {day_state}" if day_state else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_joined_values(sys.argv[1:] if argv is None else argv))
    _setup_logging(quiet=args.quiet)
    stop_on_signals()
    try:
        manifest = _run(args)
    except Interrupted as exc:
        return _interrupted(exc)
    except JobError as exc:
        print(_error_line(str(exc), exc.day_state), file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        print(
            _error_line("out of memory; give the job more memory or use --shard", None),
            file=sys.stderr,
        )
        return 9
    except BaseException:
        if Interrupted.raised is None:
            raise
        return _interrupted(Interrupted.raised)  # the signal, as native code passed it on
    print(manifest.to_json(), flush=True)
    return 0


def _interrupted(stopped: Interrupted) -> int:
    print(_error_line(f"interrupted by {stopped.name}", stopped.day_state), file=sys.stderr)
    return stopped.exit_code


def entry() -> NoReturn:
    """The console script: main(), then exit at once.

    A network call abandoned at a signal or the deadline may still hold a worker
    thread; a normal interpreter exit would wait for it (minutes on a stalled
    server). Everything the run owns is already cleaned up when main() returns.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _lease_ttl() -> float:
    raw = os.environ.get("DAILY_SYNTHETIC_LEASE_TTL", "").strip()
    if not raw:
        return DEFAULT_LEASE_TTL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 3600:
        raise UsageError(f"DAILY_SYNTHETIC_LEASE_TTL={raw!r}: must be 1 to 3600 seconds")
    return value


def _run(args: argparse.Namespace) -> Manifest:
    if args.finalize and args.shards is None:
        raise UsageError("--finalize needs --shards K")
    if args.shards is not None and not args.finalize:
        raise UsageError("--shards goes with --finalize; to publish one slice use --shard I/K")
    if args.finalize and args.shard != (0, 1):
        raise UsageError("--finalize and --shard are separate steps; use one or the other")
    index, count = (0, args.shards) if args.finalize else args.shard
    job = JobSettings(
        day=args.date, rows=args.rows, dest=args.dest, labels_dest=args.labels_dest,
        seed=args.seed,
        fraud_rate=args.fraud_rate, profile=args.profile, customers=args.customers,
        merchants=args.merchants,
        shard_index=index, shard_count=count, finalize=args.finalize,
        compression=args.compression, row_group_rows=args.row_group_rows,
        deadline_seconds=args.deadline, lease_ttl_seconds=_lease_ttl(),
    )  # fmt: skip
    # Imported here: polars, numpy and dataframely load only for a real run, not for --help.
    from fraud_detection.pipeline import run_job

    return run_job(job)
