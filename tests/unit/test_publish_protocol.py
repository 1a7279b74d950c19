"""The publishing step (one Delta commit per day) and the lease on their own, as any dataset uses them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from fraud_detection.deadline import Deadline
from fraud_detection.errors import CommitRejected, DeadlineExceeded, LeaseHeld
from fraud_detection.sinks.destination import Destination
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.lease import Lease, LeaseInfo
from fraud_detection.sinks.local import LocalDestination
from fraud_detection.sinks.publish import DayPublication, DayState, StagedPart
from fraud_detection.sinks.s3 import S3Destination
from tests.support.s3 import threaded_moto

DAY = date(2025, 6, 12)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with threaded_moto() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def dest(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Destination:
    if request.param == "local":
        local = LocalDestination(tmp_path / "root")
        local.preflight()
        return local
    url = request.getfixturevalue("endpoint")
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "t",
                        "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    bucket = f"proto-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=bucket)
    return S3Destination(bucket)


SCHEMA = pa.schema([("x", pa.int64())])


def _stage(
    dest: Destination, layout: DayLayout, tmp_path: Path, rows: int, index: int = 0
) -> StagedPart:
    """A real Parquet file of `rows` rows in the staging area, bound for a run-unique key."""
    local = tmp_path / f"stage-{uuid.uuid4().hex}.parquet"
    pq.write_table(pa.table({"x": list(range(rows))}, schema=SCHEMA), local)
    key = layout.staged_key(index, 1)
    dest.upload(local, key, {"rows": str(rows)})
    staged = dest.head(key)
    assert staged is not None and staged.metadata["rows"] == str(rows)
    return StagedPart(staged, layout.part_key(index, 1, uuid.uuid4().hex[:12]), rows)


def _publication(dest: Destination, layout: DayLayout) -> DayPublication:
    publication = DayPublication(dest, layout, Deadline(30), SCHEMA)
    publication.begin()
    return publication


def _table(dest: Destination, prefix: str = "") -> DeltaTable:
    return DeltaTable(dest.table_uri(prefix), storage_options=dest.storage_options())


def test_another_dataset_publishes_through_the_same_step(dest: Destination, tmp_path: Path) -> None:
    layout = DayLayout("features", DAY)
    first = _publication(dest, layout)
    old = _stage(dest, layout, tmp_path, 5)
    assert first.publish([old], lambda v: f'{{"version":{v}}}') == 0
    dest.put_text(layout.partition + "part-leftover-of-a-killed-run.parquet", "x", "text/plain")
    second = _publication(dest, layout)
    new = _stage(dest, layout, tmp_path, 3)
    version = second.publish([new], lambda v: f'{{"version":{v}}}')
    assert version == 1 and second.state is DayState.PUBLISHED
    assert dest.list_keys(layout.partition) == [new.key]  # old files and leftovers are gone
    assert dest.list_keys("features/_staging/") == []
    assert dest.get_text(layout.manifest_key) == '{"version":1}'
    assert layout.manifest_key == "features/_manifests/2025-06-12.json"
    table = _table(dest, "features").to_pyarrow_table()
    assert table.num_rows == 3 and set(table["day"].to_pylist()) == {12}
    assert table.schema.field("month").type == pa.int32()
    published = dest.head(new.key)
    assert published is not None and published.metadata == {}


def test_a_stale_writer_is_rejected_and_removes_only_its_own_files(
    dest: Destination, tmp_path: Path
) -> None:
    layout = DayLayout("", DAY)
    _publication(dest, layout).publish([_stage(dest, layout, tmp_path, 2)], lambda v: "{}")
    stale = _publication(dest, layout)  # reads version 0, then pauses
    winner = _publication(dest, layout)
    winning = _stage(dest, layout, tmp_path, 4)
    assert winner.publish([winning], lambda v: "{}") == 1
    other_day = DayLayout("", date(2025, 6, 13))
    late = _stage(dest, layout, tmp_path, 7)
    with pytest.raises(CommitRejected, match="another run published 2025-06-12 first") as err:
        stale.publish([late], lambda v: "{}")
    assert "\n" not in str(err.value)
    assert stale.state is DayState.UNTOUCHED
    assert dest.list_keys(layout.partition) == [winning.key]  # the winner's day, intact
    assert _table(dest).to_pyarrow_table().num_rows == 4
    # A commit of another day since a run read the table does not reject it.
    behind = _publication(dest, other_day)
    _publication(dest, DayLayout("", date(2025, 6, 14))).publish(
        [_stage(dest, DayLayout("", date(2025, 6, 14)), tmp_path, 1)], lambda v: "{}"
    )
    assert behind.publish([_stage(dest, other_day, tmp_path, 6)], lambda v: "{}") == 3
    assert _table(dest).to_pyarrow_table().num_rows == 4 + 1 + 6


def test_a_changed_staged_object_is_not_promoted(dest: Destination, tmp_path: Path) -> None:
    layout = DayLayout("", DAY)
    part = _stage(dest, layout, tmp_path, 2)
    local = tmp_path / "a.parquet"
    local.write_bytes(b"second, longer")
    dest.upload(local, layout.staged_key(0, 1), {})  # replaced after the check
    if isinstance(dest, S3Destination):
        pytest.skip("moto ignores CopySourceIfMatch (AWS honours it)")
    publication = _publication(dest, layout)
    with pytest.raises(Exception, match="changed while it was being published"):
        publication.publish([part], lambda v: "{}")
    assert publication.state is DayState.UNTOUCHED and dest.list_keys(layout.partition) == []


def test_the_lease_admits_one_holder_and_hands_over_when_expired(dest: Destination) -> None:
    key = DayLayout("", DAY).lease_key
    first = Lease.acquire(dest, key, "day 2025-06-12", ttl_seconds=60)
    with pytest.raises(LeaseHeld, match=f"being written by run {first.info.run_id} on "):
        Lease.acquire(dest, key, "day 2025-06-12", ttl_seconds=60)
    first.release()
    second = Lease.acquire(dest, key, "day 2025-06-12", ttl_seconds=-1)  # born expired
    third = Lease.acquire(dest, key, "day 2025-06-12", ttl_seconds=60)  # takes it over
    second.release()  # no longer its lease: must not remove the successor's
    holder = LeaseInfo.parse(dest.get_text(key) or "")
    assert holder is not None and holder.run_id == third.info.run_id
    third.release()
    assert dest.get_text(key) is None


def test_the_lease_records_who_holds_it(dest: Destination) -> None:
    key = DayLayout("raw", DAY).lease_key
    lease = Lease.acquire(dest, key, "day", ttl_seconds=30)
    stored = json.loads(dest.get_text(key) or "{}")
    assert set(stored) == {"run_id", "host", "pid", "started", "ttl_seconds", "deadline_seconds"}
    assert stored["run_id"] == lease.info.run_id and key == "raw/_leases/2025-06-12.json"
    lease.release()


def _others_lease(dest: Destination, key: str, ttl: float, deadline: float | None) -> LeaseInfo:
    """Another run's lease, written plainly (as it lands on a store that ignores conditions)."""
    holder = LeaseInfo.new(ttl, deadline)
    dest.put_text(key, holder.to_json(), "application/json")
    return holder


def test_the_strict_lease_refuses_a_day_its_holder_may_still_commit_to(
    dest: Destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fenced=False (a store that ignores conditional writes): only a run past its deadline
    loses the day, since nothing else could stop it from committing."""
    monkeypatch.setattr("fraud_detection.sinks.lease.SETTLE_SECONDS", 0.0)
    key = DayLayout("", DAY).lease_key
    live = _others_lease(dest, key, ttl=60, deadline=600)
    with pytest.raises(LeaseHeld, match=f"being written by run {live.run_id} "):
        Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    expired = _others_lease(dest, key, ttl=-1, deadline=600)  # expired, within its deadline
    with pytest.raises(LeaseHeld, match="ignores conditional writes") as refused:
        Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    assert f"held by run {expired.run_id} " in str(refused.value)
    assert f"delete {dest.uri(key)}" in str(refused.value)
    _others_lease(dest, key, ttl=-1, deadline=None)  # an older version's: no deadline recorded
    with pytest.raises(LeaseHeld, match="ignores conditional writes"):
        Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    _others_lease(dest, key, ttl=-2, deadline=-1)  # past its deadline: it can commit no more
    taken = Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    holder = LeaseInfo.parse(dest.get_text(key) or "")
    assert holder is not None and holder.run_id == taken.info.run_id
    taken.confirm()  # still ours
    taken.release()
    assert dest.get_text(key) is None


def test_the_strict_lease_stops_a_run_whose_day_was_taken_before_its_commit(
    dest: Destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fraud_detection.sinks.lease.SETTLE_SECONDS", 0.0)
    key = DayLayout("", DAY).lease_key
    lease = Lease.acquire(dest, key, "day 2025-06-12", ttl_seconds=60, fenced=False)
    other = _others_lease(dest, key, ttl=60, deadline=600)  # overwrote ours: nothing refused it
    assert not lease.renew() and lease.lost.is_set()
    assert LeaseInfo.parse(dest.get_text(key) or "") == other  # the heartbeat left it alone
    with pytest.raises(
        LeaseHeld, match=f"taken over by run {other.run_id} .* stops before its commit"
    ):
        lease.confirm()
    lease.release()  # not ours: stays
    assert LeaseInfo.parse(dest.get_text(key) or "") == other
    fenced = Lease(dest, key, lease.info)  # where the store fences, the log decides instead
    fenced.confirm()


def test_of_two_strict_leases_taken_at_once_only_the_last_written_holds(
    dest: Destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both runs found the day free; the second writes its lease while the first settles.

    The interleaving is forced (no threads racing the clock): the first run's read-back
    finds the other's lease and gives up, the other's finds its own and goes on.
    """
    from fraud_detection.sinks import lease as lease_module

    key = DayLayout("", DAY).lease_key
    other = LeaseInfo.new(60)
    real_sleep = lease_module.time.sleep

    def settle(seconds: float) -> None:
        dest.put_text(key, other.to_json(), "application/json")  # the other run's write
        monkeypatch.setattr(lease_module.time, "sleep", real_sleep)

    monkeypatch.setattr(lease_module.time, "sleep", settle)
    with pytest.raises(LeaseHeld, match="started at the same time and took the day"):
        Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    holder = LeaseInfo.parse(dest.get_text(key) or "")
    assert holder is not None and holder.run_id == other.run_id  # the loser left it alone
    # The other run's read-back finds its own lease: it holds the day.
    monkeypatch.setattr(lease_module, "SETTLE_SECONDS", 0.0)
    dest.delete([key])
    mine = Lease.acquire(dest, key, "day", ttl_seconds=60, fenced=False)
    assert LeaseInfo.parse(dest.get_text(key) or "") == mine.info


def test_a_store_that_fences_says_so_to_the_probe(dest: Destination) -> None:
    assert dest.conditional_writes() is True  # moto and a local folder honour both conditions
    assert dest.list_keys("_leases/") == []  # the probe leaves nothing behind


def test_a_call_that_outlives_the_deadline_is_cut_short() -> None:
    import time

    with pytest.raises(DeadlineExceeded, match=r"deadline of 0\.2 s passed while sleeping"):
        Deadline(0.2).call("sleeping", lambda: time.sleep(5))


def test_a_held_lease_is_renewed_by_its_heartbeat_and_never_expires_meanwhile(
    dest: Destination,
) -> None:
    import time

    from fraud_detection.sinks.lease import held_lease

    key = DayLayout("", DAY).lease_key
    with held_lease(dest, key, "day", ttl_seconds=1.5, deadline=Deadline(30)) as lease:
        for _ in range(3):  # twice its time to live in all
            time.sleep(1.0)
            with pytest.raises(LeaseHeld, match=f"run {lease.info.run_id} "):
                Lease.acquire(dest, key, "day", ttl_seconds=1.5)
        assert not lease.lost.is_set()
    assert dest.get_text(key) is None
