"""The publishing step and the lease on their own, as another dataset would use them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import pytest

from fraud_detection.deadline import Deadline
from fraud_detection.errors import DeadlineExceeded, LeaseHeld
from fraud_detection.sinks.destination import Destination
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.lease import Lease, LeaseInfo
from fraud_detection.sinks.local import LocalDestination
from fraud_detection.sinks.publish import DayState, StagedPart, publish_day
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


def test_another_dataset_publishes_through_the_same_step(dest: Destination, tmp_path: Path) -> None:
    layout = DayLayout("features", DAY)
    dest.put_text(layout.partition + "part-00000-of-00002.parquet", "old", "text/plain")
    dest.put_text(layout.manifest_key, "old manifest", "application/json")
    local = tmp_path / "features.parquet"
    local.write_bytes(b"PAR1 new rows PAR1")
    dest.upload(local, layout.staged_key(0, 1), {"rows": "3"})
    staged = dest.head(layout.staged_key(0, 1))
    assert staged is not None and staged.metadata["rows"] == "3"
    publication = publish_day(
        dest, layout, [StagedPart(staged, layout.part_key(0, 1))], '{"rows":3}\n', Deadline(30)
    )
    assert publication.state is DayState.PUBLISHED
    assert dest.list_keys("features/") == [
        "features/year=2025/month=06/day=12/_manifest.json",
        "features/year=2025/month=06/day=12/part-00000-of-00001.parquet",
    ]  # the stale part and the staged object are gone, nothing outside features/ appeared
    assert dest.get_text(layout.manifest_key) == '{"rows":3}\n'
    published = dest.head(layout.part_key(0, 1))
    assert published is not None and published.metadata == {}
    assert publication.window_seconds < 5


def test_a_changed_staged_object_is_not_promoted(dest: Destination, tmp_path: Path) -> None:
    layout = DayLayout("", DAY)
    local = tmp_path / "a.parquet"
    local.write_bytes(b"first")
    dest.upload(local, layout.staged_key(0, 1), {})
    checked = dest.head(layout.staged_key(0, 1))
    assert checked is not None
    local.write_bytes(b"second, longer")
    dest.upload(local, layout.staged_key(0, 1), {})  # replaced after the check
    if isinstance(dest, S3Destination):
        pytest.skip("moto ignores CopySourceIfMatch (AWS honours it)")
    with pytest.raises(Exception, match="changed while it was being published"):
        publish_day(dest, layout, [StagedPart(checked, layout.part_key(0, 1))], "{}", Deadline(30))


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
    assert set(stored) == {"run_id", "host", "pid", "started", "expires"}
    assert stored["run_id"] == lease.info.run_id and key == "raw/_leases/2025-06-12.json"
    lease.release()


def test_a_call_that_outlives_the_deadline_is_cut_short() -> None:
    import time

    with pytest.raises(DeadlineExceeded, match=r"deadline of 0\.2 s passed while sleeping"):
        Deadline(0.2).call("sleeping", lambda: time.sleep(5))
