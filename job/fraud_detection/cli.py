"""`daily-synthetic`: the thin command line over the pipeline.

Configuration comes only from arguments and the environment (12-factor), so the
same image runs under docker run, Airflow, testcontainers and ECS.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from fraud_detection import GENERATOR_VERSION
from fraud_detection.errors import Interrupted, JobError, UsageError

if TYPE_CHECKING:
    from fraud_detection.manifest import Manifest

MAX_ROWS = 50_000_000  # one container; shard above this (see --shard)
DEFAULT_ROWS = 1_000_000
MAX_POPULATION = 20_000_000

log = logging.getLogger("fraud_detection")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: it lands in Airflow's task log.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


def _date(text: str) -> date:
    if not text.strip():
        raise argparse.ArgumentTypeError("--date is empty; pass the day as YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--date {text!r} is not a real day in YYYY-MM-DD form"
        ) from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fraud-rate must be a number, got {text!r}") from None
    if not 0.0 < value <= 0.2:
        raise argparse.ArgumentTypeError(f"--fraud-rate must be in (0, 0.2], got {value}")
    return value


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise argparse.ArgumentTypeError(f"--shard must look like I/K (e.g. 0/4), got {text!r}")
    i, k = int(index), int(count)
    if not (1 <= k <= 1024 and 0 <= i < k):
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= I < K <= 1024")
    return i, k


def _env_int(name: str, default: int) -> str:
    return os.environ.get(name, str(default))


def build_parser() -> argparse.ArgumentParser:
    from fraud_detection.simulator.dataset import DEFAULT_FRAUD_RATE, DEFAULT_SEED
    from fraud_detection.simulator.population import PopulationSizes
    from fraud_detection.simulator.profiles import DEFAULT_PROFILE, PROFILES
    from fraud_detection.sinks.parquet import COMPRESSIONS, DEFAULT_ROW_GROUP_ROWS

    sizes = PopulationSizes()
    p = _Parser(
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
            "--finalize, 130/143 interrupted."
        ),
    )
    p.add_argument(
        "--date", type=_date, required=True, help="the day to generate, YYYY-MM-DD (UTC)"
    )
    p.add_argument(
        "--rows", type=_int_in("--rows", 1, MAX_ROWS), default=DEFAULT_ROWS,
        help=f"payments in the day (default {DEFAULT_ROWS:,}; max {MAX_ROWS:,})",
    )  # fmt: skip
    p.add_argument(
        "--dest", default=None,
        help="local directory or s3://BUCKET[/PREFIX] (default: s3://$RAW_BUCKET)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=_int_in("--seed", 0, 2**63 - 1),
        default=_env_int("DAILY_SYNTHETIC_SEED", DEFAULT_SEED),
        help=f"world seed: same seed, same entities and rows (default {DEFAULT_SEED})",
    )  # fmt: skip
    p.add_argument(
        "--profile", choices=sorted(PROFILES),
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
        default=_env_int("DAILY_SYNTHETIC_CUSTOMERS", sizes.customers),
        help=f"customer population, independent of --rows (default {sizes.customers:,})",
    )  # fmt: skip
    p.add_argument(
        "--merchants", type=_int_in("--merchants", 100, MAX_POPULATION),
        default=_env_int("DAILY_SYNTHETIC_MERCHANTS", sizes.merchants),
        help=f"merchant population (default {sizes.merchants:,})",
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
        default=DEFAULT_ROW_GROUP_ROWS, help=f"rows per Parquet row group (default {DEFAULT_ROW_GROUP_ROWS:,})",
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


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum, signal.Signals(signum).name)


def _skip_unused_integrations() -> None:
    """dataframely probes sqlalchemy and pydantic at import; the job uses neither.

    In the image they are absent anyway; in a dev venv that also holds Airflow
    they would add ~3 s to every run. Blocking them makes the probe fail fast.
    """
    for name in ("sqlalchemy", "pydantic", "pydantic_core"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    if "dataframely" not in sys.modules:
        _skip_unused_integrations()
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(quiet=args.quiet)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        manifest = _run(args)
    except Interrupted as exc:
        print(
            f"daily-synthetic: error: interrupted by {exc.name}; nothing was published",
            file=sys.stderr,
        )
        return exc.exit_code
    except JobError as exc:
        print(f"daily-synthetic: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(manifest.to_json(), flush=True)
    return 0


def _run(args: argparse.Namespace) -> Manifest:
    from fraud_detection.pipeline import RunOptions, finalize, run
    from fraud_detection.simulator.dataset import DaySpec, Shard
    from fraud_detection.simulator.population import PopulationSizes
    from fraud_detection.simulator.profiles import PROFILES
    from fraud_detection.sinks.destination import parse_destination

    if args.finalize and args.shards is None:
        raise UsageError("--finalize needs --shards K")
    if args.shards is not None and not args.finalize:
        raise UsageError("--shards goes with --finalize; to publish one slice use --shard I/K")
    if args.finalize and args.shard != (0, 1):
        raise UsageError("--finalize and --shard are separate steps; use one or the other")
    dest = parse_destination(args.dest)
    spec = DaySpec(
        day=args.date,
        rows=args.rows,
        seed=args.seed,
        fraud_rate=PROFILES[args.profile].fraud_rate
        if args.fraud_rate is None
        else args.fraud_rate,
        profile=args.profile,
        population=PopulationSizes(customers=args.customers, merchants=args.merchants),
    )
    count = args.shards if args.finalize else args.shard[1]
    index = 0 if args.finalize else args.shard[0]
    opts = RunOptions(
        spec=spec, shard=Shard(index, count), compression=args.compression,
        row_group_rows=args.row_group_rows,
    )  # fmt: skip
    return finalize(opts, dest) if args.finalize else run(opts, dest)
