"""The run's time budget, and calls that a signal or the deadline can cut short.

A blocking network call (a stalled upload, a trickling server) would hold the main
thread, and with it the SIGTERM handler, until a socket timeout. `Deadline.call`
runs the call on a daemon thread and waits for it in the main thread, where a
signal handler runs at once and the wait ends at the deadline. An abandoned call
keeps running until the process exits, which `cli.entry` makes immediate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from fraud_detection.errors import DeadlineExceeded

T = TypeVar("T")


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            raise DeadlineExceeded(
                f"the run's deadline of {self.seconds:g} s passed while {doing}; raise "
                "--deadline (or DAILY_SYNTHETIC_DEADLINE) or check the destination's speed"
            )

    def call(self, doing: str, fn: Callable[[], T], *, budget: float | None = None) -> T:
        """`fn()` on a daemon thread, waited for until the deadline (or `budget` seconds)."""
        self.check(doing)
        outcome: list[T] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def target() -> None:
            try:
                outcome.append(fn())
            except BaseException as exc:  # handed to the waiting thread
                failure.append(exc)
            finally:
                done.set()

        try:
            threading.Thread(target=target, name=doing[:40], daemon=True).start()
        except RuntimeError:  # no thread to be had (memory or pid limits): run it here, unbounded
            target()
        wait = self.remaining() if budget is None else min(budget, self.remaining())
        if not done.wait(max(wait, 0.0)):
            self.check(doing)
            raise DeadlineExceeded(f"{doing} took longer than {budget:g} s")
        if failure:
            raise failure[0]
        return outcome[0]
