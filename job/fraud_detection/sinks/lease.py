"""One writer per day, to avoid duplicate work: a short lease renewed by a heartbeat.

The lease is not what keeps a day whole: the table's commit log does that (sinks/table.py
rejects a stale writer's commit). The lease only keeps a second run from generating and
uploading a day that a live run is already writing.

It is a small JSON object (run id, host, pid, start, time to live) at
`DayLayout.lease_key`, created with `create_exclusive` (S3 `If-None-Match: *`, locally
O_EXCL under a flock). While the run lives, a heartbeat thread rewrites it every third
of its time to live with `replace_if_match` on the tag it last wrote. A lease whose
object was last written more than its time to live ago, by the store's own clock
(`get_aged`: LastModified against the response's Date), is expired; it is taken over
with `replace_if_match` on the tag that was read, so of two runs that find it expired
exactly one wins. After a SIGKILL the next run gets the day within one time to live.
A lease that cannot be read is never taken over: the run stops and says where it is.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

from fraud_detection.deadline import Deadline
from fraud_detection.errors import LeaseHeld
from fraud_detection.sinks.destination import Destination

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseInfo:
    run_id: str
    host: str
    pid: int
    started: str  # ISO 8601, UTC
    ttl_seconds: float  # expired when not rewritten for this long (the store's clock)

    @classmethod
    def new(cls, ttl_seconds: float) -> LeaseInfo:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(
            run_id=uuid.uuid4().hex[:16],
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now.isoformat(),
            ttl_seconds=ttl_seconds,
        )

    @classmethod
    def parse(cls, text: str) -> LeaseInfo | None:
        """The lease, ignoring fields a newer version may add; None if a field is missing."""
        try:
            data = json.loads(text)
            known = {f.name for f in fields(cls)}
            info = cls(**{k: v for k, v in data.items() if k in known})
            float(info.ttl_seconds)
        except (ValueError, TypeError, AttributeError):
            return None
        return info

    def describe(self) -> str:
        return f"run {self.run_id} on {self.host} (pid {self.pid}) since {self.started}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Lease:
    dest: Destination
    key: str
    info: LeaseInfo
    tag: str = ""  # of the object as we last wrote it ("" when the store gave none back)
    lost: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def acquire(
        cls,
        dest: Destination,
        key: str,
        what: str,
        ttl_seconds: float,
        *,
        check_first: bool = False,
    ) -> Lease:
        """Take the lease on `key` or raise LeaseHeld naming the holder.

        `check_first`: on a store that ignores If-None-Match, a create would overwrite a live
        lease; read it first (a race of two runs starting together stays open there).
        """
        info = LeaseInfo.new(ttl_seconds)
        if check_first and dest.get_aged(key) is not None:
            pass  # someone's lease: judged below, as after a refused create
        elif dest.create_exclusive(key, info.to_json()):
            log.info("lease taken: %s (%s)", dest.uri(key), info.describe())
            return cls(dest, key, info, _tag_of(dest, key))
        current = dest.get_aged(key)
        if current is None:  # released between our two requests: one more try
            if dest.create_exclusive(key, info.to_json()):
                return cls(dest, key, info, _tag_of(dest, key))
            current = dest.get_aged(key)
        if current is None:
            raise LeaseHeld(f"{what} is being written by another run; retry after it ends")
        text, tag, age = current
        holder = LeaseInfo.parse(text)
        if holder is None:
            raise LeaseHeld(
                f"{what}: the lease {dest.uri(key)} cannot be read (another version of the "
                "job?); it is never taken over: remove it if no run is writing the day"
            )
        expired = age > float(holder.ttl_seconds)
        if expired and dest.replace_if_match(key, info.to_json(), tag):
            log.warning(
                "took over the expired lease of %s: %s, not renewed for %.0f s",
                what, holder.describe(), age,
            )  # fmt: skip
            return cls(dest, key, info, _tag_of(dest, key))
        left = max(0.0, float(holder.ttl_seconds) - age)
        raise LeaseHeld(
            f"{what} is being written by {holder.describe()}, renewed {age:.0f} s ago; "
            f"retry after it ends (or in {left:.0f} s if it died)"
        )

    def renew(self) -> bool:
        """Rewrite the lease if it is still ours (its tag unchanged); False if it was lost."""
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
                    "refused if that run publishes the day first",
                    lease.key,
                )
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
    *,
    check_first: bool = False,
) -> Iterator[Lease]:
    """The lease on `key` for the block, renewed meanwhile, released after it.

    After a failure or a signal the release gets 0.8 s (a SIGTERM ends the run within 2 s);
    after success, up to 10 s, so that a slow store still sees the lease go. A release that
    fails is only logged: the lease expires by itself, and the outcome of the block (its
    exception or result) is what the caller must see.
    """
    lease = deadline.call(
        "taking the day's lease",
        lambda: Lease.acquire(dest, key, what, ttl_seconds, check_first=check_first),
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
