"""Feast chores of the daily feed: apply + materialise days, and look an entity up online.

    python tools/daily.py materialize --date D [--days N]
    python tools/daily.py lookup [--card ID | --customer ID | --terminal ID]

Run from anywhere; the repository is this file's parent folder. DAILY_SYNTHETIC_DATA and
DAILY_SYNTHETIC_FEATURES say where the datasets are (see payments.py). When the features
table is on S3, the days to materialise are first copied, by `deltalake` (which reads S3
itself), into a local Delta table, so DuckDB needs neither S3 extension nor credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENTITY_VIEWS = ("card_features", "customer_features", "terminal_features")
PROG = "feast-daily"


def _features_root() -> str:
    data = os.environ.get("DAILY_SYNTHETIC_DATA") or str((REPO / "../data/raw").resolve())
    # Beside the raw feed's root, never inside it (as payment-features' own default).
    return (
        os.environ.get("DAILY_SYNTHETIC_FEATURES")
        or f"{data.rstrip('/').rsplit('/', 1)[0]}/features"
    )


def _manifest_key(day: date) -> str:
    """A published day's manifest, relative to its dataset's root (docs/contract.md)."""
    return f"_manifests/{day.isoformat()}.json"


def _s3_options() -> dict[str, str]:
    """boto3's endpoint, region and credentials, as delta-rs's object store takes them."""
    import boto3

    session = boto3.session.Session()
    options: dict[str, str] = {}
    if endpoint := os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        options["endpoint"] = endpoint
        if endpoint.startswith("http://"):
            options["allow_http"] = "true"
    if session.region_name:
        options["region"] = session.region_name
    if (credentials := session.get_credentials()) is not None:
        frozen = credentials.get_frozen_credentials()
        options["access_key_id"] = frozen.access_key or ""
        options["secret_access_key"] = frozen.secret_key or ""
        if frozen.token:
            options["session_token"] = frozen.token
    return options


def _copy_from_s3(root: str, days: list[date], into: Path) -> None:
    """The days' rows of the features table on S3, as of its current version, into a local
    Delta table at `into` (the same partitions)."""
    from deltalake import DeltaTable, write_deltalake

    table = DeltaTable(root, storage_options=_s3_options())
    partition_by = table.metadata().partition_columns
    for day in days:
        rows = table.to_pyarrow_table(
            filters=[("year", "=", day.year), ("month", "=", day.month), ("day", "=", day.day)]
        )
        if rows.num_rows == 0:
            raise SystemExit(
                f"{PROG}: error: no features for {day} in the table {root}; run "
                "payment-features for that day first"
            )
        write_deltalake(str(into), rows, mode="append", partition_by=partition_by)


def _store() -> Any:
    from feast import FeatureStore
    from feast.repo_operations import apply_total  # noqa: F401 (import check: same Feast CLI)

    return FeatureStore(repo_path=str(REPO))


def _apply(store: Any) -> None:
    """`feast apply` of this repository, with the sources as the environment says now."""
    sys.path.insert(0, str(REPO))
    import payments

    objects = [
        value
        for value in vars(payments).values()
        if type(value).__name__ in {"Entity", "FileSource", "FeatureView", "FeatureService"}
    ]
    store.apply(objects)


def materialize(day: date, days: int) -> dict[str, Any]:
    wanted = [day - timedelta(days=back) for back in range(days - 1, -1, -1)]
    root = _features_root()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="feast-daily-") as scratch:
        if root.startswith("s3://"):
            _copy_from_s3(root, wanted, Path(scratch) / "features")
            os.environ["DAILY_SYNTHETIC_FEATURES"] = str(Path(scratch) / "features")
        else:
            for d in wanted:
                if not (Path(root) / _manifest_key(d)).is_file():
                    raise SystemExit(
                        f"{PROG}: error: no features for {d} under {root}; run payment-features "
                        "for that day first"
                    )
        store = _store()
        _apply(store)
        start = datetime.combine(wanted[0], datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        store.materialize(
            start_date=start, end_date=end - timedelta(microseconds=1),
            feature_views=list(ENTITY_VIEWS),
        )  # fmt: skip
    return {
        "materialized": [d.isoformat() for d in wanted],
        "views": list(ENTITY_VIEWS),
        "features": root,
        "seconds": round(time.monotonic() - started, 1),
    }


def _busiest_card(root: str) -> str:
    import duckdb

    rows = (
        duckdb.connect()
        .execute(
            "SELECT card_id, count(*) AS n FROM read_parquet(?) GROUP BY card_id "
            "ORDER BY n DESC, card_id LIMIT 1",
            [f"{root}/year=*/month=*/day=*/*.parquet"],
        )
        .fetchall()
    )
    row = rows[0] if rows else None
    if row is None:
        raise SystemExit(f"{PROG}: error: no features under {root}")
    return str(row[0])


def lookup(entity: str, key: str | None) -> dict[str, Any]:
    if key is None:
        entity, key = "card", _busiest_card(_features_root())
    store = _store()
    view = store.get_feature_view(f"{entity}_features")
    refs = [f"{view.name}:{field.name}" for field in view.features]
    online = store.get_online_features(features=refs, entity_rows=[{f"{entity}_id": key}])
    return {name: values[0] for name, values in online.to_dict().items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mat = sub.add_parser("materialize", help="apply the repository and materialise days online")
    mat.add_argument("--date", type=date.fromisoformat, required=True, help="last day, YYYY-MM-DD")
    mat.add_argument("--days", type=int, default=1, help="how many days up to --date (default 1)")
    look = sub.add_parser("lookup", help="online features of one entity (default: busiest card)")
    group = look.add_mutually_exclusive_group()
    for entity in ("card", "customer", "terminal"):
        group.add_argument(f"--{entity}", metavar="ID")
    args = parser.parse_args(argv)
    if args.command == "materialize":
        result = materialize(args.date, args.days)
    else:
        chosen = [
            (e, getattr(args, e)) for e in ("card", "customer", "terminal") if getattr(args, e)
        ]
        result = lookup(*(chosen[0] if chosen else ("card", None)))
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
