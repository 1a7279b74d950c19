"""One writer per day: a lease object taken with a conditional write.

The lease is a small JSON object (run id, host, pid, start, expiry) at
`DayLayout.lease_key`. It is created with `create_exclusive` (S3 `If-None-Match: *`,
locally O_EXCL under a flock). A lease past its expiry is taken over with
`replace_if_match` on the tag that was read, so of two runs that both find it
expired exactly one wins. Release deletes it only if it is still ours.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

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
    expires: str

    @classmethod
    def new(cls, ttl_seconds: float) -> LeaseInfo:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(
            run_id=uuid.uuid4().hex[:16],
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now.isoformat(),
            expires=(now + timedelta(seconds=ttl_seconds)).isoformat(),
        )

    @classmethod
    def parse(cls, text: str) -> LeaseInfo | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None

    def expired(self) -> bool:
        return datetime.fromisoformat(self.expires) <= datetime.now(UTC)

    def describe(self) -> str:
        return f"run {self.run_id} on {self.host} (pid {self.pid}) since {self.started}, lease until {self.expires}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Lease:
    dest: Destination
    key: str
    info: LeaseInfo

    @classmethod
    def acquire(cls, dest: Destination, key: str, what: str, ttl_seconds: float) -> Lease:
        """Take the lease on `key` or raise LeaseHeld naming the holder."""
        info = LeaseInfo.new(ttl_seconds)
        if dest.create_exclusive(key, info.to_json()):
            log.info("lease taken: %s (%s)", dest.uri(key), info.describe())
            return cls(dest, key, info)
        current = dest.get_tagged(key)
        if current is None:  # released between our two requests: one more try
            if dest.create_exclusive(key, info.to_json()):
                return cls(dest, key, info)
            current = dest.get_tagged(key)
        holder = LeaseInfo.parse(current[0]) if current else None
        if current is not None and (holder is None or holder.expired()):
            if dest.replace_if_match(key, info.to_json(), current[1]):
                gone = holder.describe() if holder else "an unreadable lease"
                log.warning("took over the expired lease of %s: %s", what, gone)
                return cls(dest, key, info)
            current = dest.get_tagged(key)
            holder = LeaseInfo.parse(current[0]) if current else None
        held_by = holder.describe() if holder else "another run"
        raise LeaseHeld(f"{what} is being written by {held_by}; retry after it ends or expires")

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


@contextmanager
def held_lease(
    dest: Destination, key: str, what: str, ttl_seconds: float, deadline: Deadline
) -> Iterator[Lease]:
    """The lease on `key` for the block, released after it whatever happened.

    After a failure or a signal the release gets 0.8 s (a SIGTERM ends the run within 2 s);
    after success, up to 10 s, so that a slow store still sees the lease go. A release that
    fails is only logged: the lease expires by itself, and the outcome of the block (its
    exception or result) is what the caller must see.
    """
    lease = deadline.call(
        "taking the day's lease", lambda: Lease.acquire(dest, key, what, ttl_seconds)
    )
    try:
        yield lease
    except BaseException:
        _release(lease, 0.8)
        raise
    _release(lease, 10.0)


def _release(lease: Lease, seconds: float) -> None:
    try:
        Deadline(seconds).call("releasing the lease", lease.release)
    except Exception as exc:
        log.warning("could not release the lease %s (it expires by itself): %s", lease.key, exc)
