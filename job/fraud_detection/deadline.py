"""The run's time budget, and calls that a signal or the deadline can cut short.

A blocking network call (a stalled upload, a trickling server) would hold the main
thread, and with it the SIGTERM handler, until a socket timeout. `Deadline.call`
runs the call on a daemon thread (`OnThread`) and waits for it in the main thread,
where a signal handler runs at once and the wait ends at the deadline. An abandoned call
keeps running until the process exits, which `cli.entry` makes immediate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

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
        call = OnThread(doing, fn)
        wait = self.remaining() if budget is None else min(budget, self.remaining())
        if not call.done.wait(max(wait, 0.0)):
            self.check(doing)
            raise DeadlineExceeded(f"{doing} took longer than {budget:g} s")
        return call.outcome()


class OnThread(Generic[T]):
    """`fn()` started on a daemon thread; the thread that waits on `done` takes its outcome.

    The waiting thread (the main one) keeps running signal handlers while `fn` blocks in
    native code, which a call made in the main thread itself would hold off.
    """

    def __init__(self, doing: str, fn: Callable[[], T]) -> None:
        self.done = threading.Event()
        self._value: list[T] = []
        self._failure: list[BaseException] = []

        def target() -> None:
            try:
                self._value.append(fn())
            except BaseException as exc:  # handed to the waiting thread
                self._failure.append(exc)
            finally:
                self.done.set()

        try:
            threading.Thread(target=target, name=doing[:40], daemon=True).start()
        except RuntimeError:  # no thread to be had (memory or pid limits): run it here, unbounded
            target()

    def outcome(self) -> T:
        """`fn`'s value, or its exception raised here (once `done` is set)."""
        if self._failure:
            raise self._failure[0]
        return self._value[0]
