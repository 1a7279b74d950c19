"""One writer per day, to avoid duplicate work: a short lease renewed by a heartbeat.

The lease is not what keeps a day whole: the table's commit log does that (sinks/table.py
rejects a stale writer's commit). The lease only keeps a second run from generating and
uploading a day that a live run is already writing.

It is a small JSON object (run id, host, pid, start, time to live, deadline) at
`DayLayout.lease_key`, created with `create_exclusive` (S3 `If-None-Match: *`, locally
O_EXCL under a flock). While the run lives, a heartbeat thread rewrites it every third
of its time to live with `replace_if_match` on the tag it last wrote. A lease whose
object was last written more than its time to live ago, by the store's own clock
(`get_aged`: LastModified against the response's Date), is expired; it is taken over
with `replace_if_match` on the tag that was read, so of two runs that find it expired
exactly one wins. After a SIGKILL the next run gets the day within one time to live.
A lease that cannot be read is never taken over: the run stops and says where it is.

A store that ignores conditional writes (`Destination.conditional_writes` probes it; rclone
`serve s3` does) can fence no one: there neither the lease nor the table's log keeps a
second writer of the day out. There the lease is strict instead (`fenced=False`):

- a run refuses the day while another run holds it, or held it recently: within that
  run's whole deadline (recorded in the lease) since it was last renewed, since a paused
  run may still resume and commit until then;
- after writing its lease it reads it back a moment later, so of two runs that started
  together only the last writer goes on;
- the heartbeat rewrites the lease only while it is still ours, and `confirm` checks it
  once more right before the commit.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

from fraud_detection.deadline import Deadline
from fraud_detection.errors import LeaseHeld
from fraud_detection.settings import MAX_DEADLINE_SECONDS
from fraud_detection.sinks.destination import Destination

log = logging.getLogger(__name__)

# On a store without conditional writes: how long a new lease is left before it is read
# back. Two runs that both found the day free have written theirs by then.
SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class LeaseInfo:
    run_id: str
    host: str
    pid: int
    started: str  # ISO 8601, UTC
    ttl_seconds: float  # expired when not rewritten for this long (the store's clock)
    # The holder's whole run: once its lease is older than this it can no longer commit.
    deadline_seconds: float | None = None  # None in leases of older versions

    @classmethod
    def new(cls, ttl_seconds: float, deadline_seconds: float | None = None) -> LeaseInfo:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(
            run_id=uuid.uuid4().hex[:16],
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now.isoformat(),
            ttl_seconds=ttl_seconds,
            deadline_seconds=deadline_seconds,
        )

    @classmethod
    def parse(cls, text: str) -> LeaseInfo | None:
        """The lease, ignoring fields a newer version may add; None if a field is missing."""
        try:
            data = json.loads(text)
            known = {f.name for f in fields(cls)}
            info = cls(**{k: v for k, v in data.items() if k in known})
            float(info.ttl_seconds)
            float(info.deadline_seconds or 0)
        except (ValueError, TypeError, AttributeError):
            return None
        return info

    def describe(self) -> str:
        return f"run {self.run_id} on {self.host} (pid {self.pid}) since {self.started}"

    def may_still_commit(self, age: float) -> bool:
        """Whether the holder, last heard of `age` s ago, may still be within its deadline."""
        return age <= float(self.deadline_seconds or MAX_DEADLINE_SECONDS)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Lease:
    dest: Destination
    key: str
    info: LeaseInfo
    tag: str = ""  # of the object as we last wrote it ("" when the store gave none back)
    lost: threading.Event = field(default_factory=threading.Event)
    fenced: bool = True  # False: the store ignores conditional writes (see the module doc)
    what: str = "the day"

    @classmethod
    def acquire(
        cls,
        dest: Destination,
        key: str,
        what: str,
        ttl_seconds: float,
        *,
        fenced: bool = True,
        deadline_seconds: float | None = None,
    ) -> Lease:
        """Take the lease on `key` or raise LeaseHeld naming the holder.

        `fenced=False`: the store ignores conditional writes; take the day only when no run
        holds it or may still commit to it, and make sure it is ours (see the module doc).
        """
        info = LeaseInfo.new(ttl_seconds, deadline_seconds)
        if not fenced:
            return cls._acquire_unfenced(dest, key, what, info)
        if dest.create_exclusive(key, info.to_json()):
            log.info("lease taken: %s (%s)", dest.uri(key), info.describe())
            return cls(dest, key, info, _tag_of(dest, key), what=what)
        current = dest.get_aged(key)
        if current is None:  # released between our two requests: one more try
            if dest.create_exclusive(key, info.to_json()):
                return cls(dest, key, info, _tag_of(dest, key), what=what)
            current = dest.get_aged(key)
        if current is None:
            raise LeaseHeld(f"{what} is being written by another run; retry after it ends")
        text, tag, age = current
        holder = _holder(dest, key, what, text)
        expired = age > float(holder.ttl_seconds)
        if expired and dest.replace_if_match(key, info.to_json(), tag):
            log.warning(
                "took over the expired lease of %s: %s, not renewed for %.0f s",
                what, holder.describe(), age,
            )  # fmt: skip
            return cls(dest, key, info, _tag_of(dest, key), what=what)
        raise _held(what, holder, age)

    @classmethod
    def _acquire_unfenced(cls, dest: Destination, key: str, what: str, info: LeaseInfo) -> Lease:
        current = dest.get_aged(key)
        if current is not None:
            text, _, age = current
            holder = _holder(dest, key, what, text)
            if age <= float(holder.ttl_seconds):
                raise _held(what, holder, age)
            if holder.may_still_commit(age):
                left = float(holder.deadline_seconds or MAX_DEADLINE_SECONDS) - age
                raise LeaseHeld(
                    f"{what} was held by {holder.describe()}, last renewed {age:.0f} s ago, "
                    f"and the store at {dest.describe()} ignores conditional writes "
                    "(If-None-Match, If-Match), so nothing could keep that run from "
                    "committing over this one if it is only paused: re-run after "
                    f"{left:.0f} s (its deadline), or once sure it is gone delete "
                    f"{dest.uri(key)} and re-run"
                )
            log.warning(
                "took over the lease of %s: %s, not renewed for %.0f s (past its deadline)",
                what, holder.describe(), age,
            )  # fmt: skip
        dest.put_text(key, info.to_json(), "application/json")
        time.sleep(SETTLE_SECONDS)  # a run that found the day free with us writes by now
        got = dest.get_tagged(key)
        winner = LeaseInfo.parse(got[0]) if got else None
        if got is None or winner is None or winner.run_id != info.run_id:
            raise LeaseHeld(
                f"{what}: another run "
                f"{'(' + winner.describe() + ') ' if winner else ''}started at the same time "
                f"and took the day (the store at {dest.describe()} ignores conditional "
                "writes, so the last of the two to write its lease goes on); retry after it ends"
            )
        log.info("lease taken: %s (%s)", dest.uri(key), info.describe())
        return cls(dest, key, info, got[1], fenced=False, what=what)

    def renew(self) -> bool:
        """Rewrite the lease if it is still ours (its tag unchanged); False if it was lost."""
        if not self.fenced and not self.still_ours():
            self.lost.set()
            return False
        if self.dest.replace_if_match(self.key, self.info.to_json(), self.tag):
            self.tag = _tag_of(self.dest, self.key)
            return True
        self.lost.set()
        return False

    def release(self) -> None:
        """Delete the lease if it is still ours (never a successor's)."""
        current = self.dest.get_tagged(self.key)
        if current is None:
            return
        holder = LeaseInfo.parse(current[0])
        if holder is not None and holder.run_id == self.info.run_id:
            self.dest.delete_if_match(self.key, current[1])

    def still_ours(self) -> bool:
        current = self.dest.get_text(self.key)
        holder = LeaseInfo.parse(current) if current else None
        return holder is not None and holder.run_id == self.info.run_id

    def confirm(self) -> None:
        """Right before a commit: on a store that cannot fence, stop if the day is not ours.

        Where the store honours conditional writes this does nothing: the table's log
        rejects a stale commit by itself.
        """
        if self.fenced:
            return
        current = self.dest.get_text(self.key)
        holder = LeaseInfo.parse(current) if current else None
        if holder is None or holder.run_id != self.info.run_id:
            by = holder.describe() if holder else "another run"
            raise LeaseHeld(
                f"{self.what}: this run's lease was taken over by {by}, and the store at "
                f"{self.dest.describe()} ignores conditional writes, so the table's log could "
                "not reject a second commit: this run stops before its commit; retry after "
                "that run ends"
            )


def _holder(dest: Destination, key: str, what: str, text: str) -> LeaseInfo:
    holder = LeaseInfo.parse(text)
    if holder is None:
        raise LeaseHeld(
            f"{what}: the lease {dest.uri(key)} cannot be read (another version of the "
            "job?); it is never taken over: remove it if no run is writing the day"
        )
    return holder


def _held(what: str, holder: LeaseInfo, age: float) -> LeaseHeld:
    left = max(0.0, float(holder.ttl_seconds) - age)
    return LeaseHeld(
        f"{what} is being written by {holder.describe()}, renewed {age:.0f} s ago; "
        f"retry after it ends (or in {left:.0f} s if it died)"
    )


def _tag_of(dest: Destination, key: str) -> str:
    got = dest.get_tagged(key)
    return got[1] if got else ""


def _heartbeat(lease: Lease, stop: threading.Event) -> None:
    """Renew every third of the time to live until stopped; a failed renewal is retried."""
    every = max(float(lease.info.ttl_seconds) / 3, 0.2)
    while not stop.wait(every):
        try:
            if not Deadline(every).call("renewing the lease", lease.renew):
                log.warning(
                    "the lease %s was taken over by another run; this run's commit will be "
                    "refused if that run publishes the day first%s",
                    lease.key, "" if lease.fenced else " (or at once, on this store)",
                )  # fmt: skip
                return
        except Exception as exc:  # transient: the next beat tries again
            log.warning("could not renew the lease %s: %s", lease.key, exc)


@contextmanager
def held_lease(
    dest: Destination,
    key: str,
    what: str,
    ttl_seconds: float,
    deadline: Deadline,
) -> Iterator[Lease]:
    """The lease on `key` for the block, renewed meanwhile, released after it.

    The store is probed first: one that ignores conditional writes gets the strict lease
    of the module doc, and a warning line says so.

    After a failure or a signal the release gets 0.8 s (a SIGTERM ends the run within 2 s);
    after success, up to 10 s, so that a slow store still sees the lease go. A release that
    fails is only logged: the lease expires by itself, and the outcome of the block (its
    exception or result) is what the caller must see.
    """
    fenced = deadline.call("probing conditional writes", dest.conditional_writes)
    if not fenced:
        log.warning(
            "the store at %s ignores conditional writes (If-None-Match, If-Match): nothing "
            "there keeps a second writer of %s out, so this run refuses the day while another "
            "run holds it or may still commit to it (exit 7)",
            dest.describe(), what,
        )  # fmt: skip
    lease = deadline.call(
        "taking the day's lease",
        lambda: Lease.acquire(
            dest, key, what, ttl_seconds, fenced=fenced, deadline_seconds=deadline.seconds
        ),
    )
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lease, stop), name="lease", daemon=True)
    beat.start()
    try:
        yield lease
    except BaseException:
        stop.set()
        _release(lease, 0.8)
        raise
    stop.set()
    _release(lease, 10.0)


def _release(lease: Lease, seconds: float) -> None:
    try:
        Deadline(seconds).call("releasing the lease", lease.release)
    except Exception as exc:
        log.warning("could not release the lease %s (it expires by itself): %s", lease.key, exc)
