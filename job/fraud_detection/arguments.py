"""Argument helpers shared by the image's commands (`daily-synthetic`, `payment-features`).

Standard library only (plus errors): the job's `--help` imports this, and must stay fast.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from datetime import date
from types import FrameType
from typing import NoReturn

from fraud_detection.errors import Interrupted


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: it lands in Airflow's task log.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# Days the generator supports: timestamps are µs since 1970, and the day after must exist.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
_DAY_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(text: str) -> date:
    """`--date`: a real day in YYYY-MM-DD form, from FIRST_DAY to LAST_DAY."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("--date is empty; pass the day as YYYY-MM-DD")
    if not _DAY_FORM.fullmatch(text):  # fromisoformat also takes 20250612 and 2025-W24-4
        raise argparse.ArgumentTypeError(f"--date {text!r} is not in YYYY-MM-DD form")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date {text!r} is not a real day") from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"--date must be between {FIRST_DAY} and {LAST_DAY}, got {value}"
        )
    return value


def on_signal(signum: int, _frame: FrameType | None) -> None:
    Interrupted.raised = Interrupted(signum, signal.Signals(signum).name)
    raise Interrupted.raised


def stop_on_signals() -> None:
    """SIGTERM (docker stop, Airflow, ECS) and SIGINT end the run as `Interrupted`."""
    Interrupted.raised = None
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def log_to_stderr(quiet: bool) -> None:
    """Progress on stderr (stdout is for the last JSON line); the AWS SDK's chatter off."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
