"""Feast chores of the daily feed: apply + materialise days, and look an entity up online.

    python tools/daily.py materialize --date D [--days N]
    python tools/daily.py lookup [--card ID | --customer ID | --terminal ID]

Run from anywhere; the repository is this file's parent folder. DAILY_SYNTHETIC_DATA and
DAILY_SYNTHETIC_FEATURES say where the datasets are (see payments.py). When the features
dataset is on S3, the days to materialise are first downloaded (only the files their
manifests list) into a local folder, so DuckDB needs no S3 extension.
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


def _fetch_from_s3(root: str, days: list[date], into: Path) -> None:
    """Copy the days' features files (as their manifests list them) from S3 into `into`."""
    import boto3

    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    s3 = boto3.client("s3")
    for day in days:
        key = f"{prefix}{_manifest_key(day)}"
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for part in manifest["keys"]:
            target = into / part.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, part, str(target))


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
            _fetch_from_s3(root, wanted, Path(scratch))
            os.environ["DAILY_SYNTHETIC_FEATURES"] = scratch
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
