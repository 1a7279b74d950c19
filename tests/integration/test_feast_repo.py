"""The Feast repository on real files: three generated days, the features step, `feast apply`,
`feast materialize`, then the training set and online lookups, each checked against an
independent recomputation from the raw Parquet.

Feast is slow to import (~12 s) and to apply: one module fixture does the work once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fraud_detection.features import cli as features_cli
from fraud_detection.features.compute import WINDOWS_DAYS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FEAST = str(Path(sys.executable).with_name("feast"))
DAILY_SYNTHETIC = str(Path(sys.executable).with_name("daily-synthetic"))
DAYS = ("2025-06-10", "2025-06-11", "2025-06-12")
DELAY = 1  # short, so that three days give the terminal risk something to count
# A small world: cards and terminals recur within three days of 20k payments.
WORLD = ["--customers", "4000", "--merchants", "400", "--fraud-rate", "0.02"]
ENTITY_VIEWS = ("card_features", "customer_features", "terminal_features")
KEYS = ["transaction_id", "card_id", "customer_id", "terminal_id", "event_timestamp"]


@dataclass
class Repo:
    path: Path
    raw: pl.DataFrame
    store: Any  # feast.FeatureStore (imported lazily: 12 s)


def _feast(repo: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [FEAST, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    data = tmp_path_factory.mktemp("data")
    raw_root = data / "raw"
    for day in DAYS:
        # a subprocess: the job's CLI blocks pydantic in its process, and Feast needs it
        args = ["--date", day, "--rows", "20000", "--dest", str(raw_root), "-q", *WORLD]
        subprocess.run([DAILY_SYNTHETIC, *args], check=True, capture_output=True, timeout=300)
        code = features_cli.main(
            ["--date", day, "--source", str(raw_root), "--label-delay-days", str(DELAY), "-q"]
        )
        assert code == 0
    repo_path = data / "feature_repo"
    shutil.copytree(REPO / "feature_repo", repo_path, ignore=shutil.ignore_patterns("data"))
    # The features are in data/features, payment-features' default beside data/raw (as with
    # `make features`); Feast is told so.
    roots = {
        "DAILY_SYNTHETIC_DATA": str(raw_root),
        "DAILY_SYNTHETIC_FEATURES": str(data / "features"),
    }
    env = {**os.environ, **roots}
    _feast(repo_path, env, "apply")
    views = [arg for view in ENTITY_VIEWS for arg in ("--views", view)]
    _feast(repo_path, env, "materialize", "2025-06-10T00:00:00", "2025-06-13T00:00:00", *views)

    os.environ.update(roots)
    try:
        from feast import FeatureStore

        raw = pl.read_parquet(raw_root / "year=*/month=*/day=*/*.parquet")
        yield Repo(path=repo_path, raw=raw, store=FeatureStore(repo_path=str(repo_path)))
    finally:
        for name in roots:
            os.environ.pop(name, None)


def recompute(raw: pl.DataFrame, targets: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Features of `targets` rows by a self-join on the entity key (no rolling windows)."""
    key = f"{entity}_id"
    pairs = targets.select(KEYS).join(
        raw.select(key, "event_timestamp", "amount_eur", "is_fraud"),
        on=key,
        suffix="_past",
    )
    ts, past = pl.col("event_timestamp"), pl.col("event_timestamp_past")
    aggs = []
    for w in WINDOWS_DAYS:
        inside = (past >= ts - timedelta(days=w)) & (past < ts)
        aggs += [
            inside.sum().alias(f"{entity}_tx_count_{w}d"),
            pl.col("amount_eur").filter(inside).mean().fill_null(0.0).alias(f"{entity}_amount_mean_{w}d"),
        ]  # fmt: skip
        if entity == "terminal":
            labelled = (past >= ts - timedelta(days=DELAY + w)) & (
                past < ts - timedelta(days=DELAY)
            )
            frauds = (pl.col("is_fraud") & labelled).sum()
            aggs += [
                frauds.alias(f"terminal_fraud_count_{w}d"),
                pl.when(labelled.sum() > 0).then(frauds / labelled.sum()).otherwise(0.0)
                .alias(f"terminal_risk_{w}d"),
            ]  # fmt: skip
    return pairs.group_by("transaction_id").agg(aggs)


def _compare(got: pl.DataFrame, want: pl.DataFrame, on: str) -> int:
    joined = want.join(got, on=on, suffix="_got")
    assert joined.height == want.height
    compared = 0
    for name in want.columns:
        if name == on:
            continue
        a, b = joined[name].cast(pl.Float64), joined[f"{name}_got"].cast(pl.Float64)
        assert ((a - b).abs() <= 1e-9 * (1 + a.abs())).all(), name
        compared += 1
    return compared


@pytest.fixture(scope="module")
def training_set(repo: Repo) -> pl.DataFrame:
    """One call: every payment of the days, the model's features and the label."""
    entity_df = repo.raw.select(KEYS).to_pandas()
    service = repo.store.get_feature_service("fraud_model_v1")
    frame = repo.store.get_historical_features(
        entity_df=entity_df,
        features=[*_service_refs(repo, service), "payment_labels:is_fraud"],
    ).to_df()
    return pl.from_pandas(frame)


def _service_refs(repo: Repo, service: Any) -> list[str]:
    return [
        f"{projection.name_to_use()}:{feature.name}"
        for projection in service.feature_view_projections
        for feature in projection.features
    ]


def test_training_set_has_every_payment_with_its_label(
    repo: Repo, training_set: pl.DataFrame
) -> None:
    assert training_set.height == repo.raw.height == 60_000
    joined = repo.raw.select("transaction_id", "is_fraud", "amount_eur").join(
        training_set.select("transaction_id", "is_fraud", "amount_eur"),
        on="transaction_id",
        suffix="_feast",
    )
    assert joined.height == repo.raw.height
    assert joined["is_fraud"].equals(joined["is_fraud_feast"], check_names=False)
    assert joined["is_fraud"].sum() > 100
    assert (joined["amount_eur"] - joined["amount_eur_feast"]).abs().max() == 0


@pytest.mark.parametrize("entity", ["card", "customer", "terminal"])
def test_point_in_time_join_equals_a_recomputation_from_raw(
    repo: Repo, training_set: pl.DataFrame, entity: str
) -> None:
    key = f"{entity}_id"
    busy = repo.raw.filter(pl.col("event_timestamp") >= pl.datetime(2025, 6, 12, time_zone="UTC"))
    sample = busy.select(key).unique().sort(key).sample(40, seed=3)
    targets = busy.join(sample, on=key)
    want = recompute(repo.raw, targets, entity)
    assert want[f"{entity}_tx_count_7d"].sum() > 0  # the sample has history
    if entity == "terminal":
        assert want["terminal_fraud_count_7d"].sum() > 0
    assert _compare(training_set, want, "transaction_id") >= 6


@pytest.mark.parametrize("entity", ["card", "terminal"])
def test_online_store_serves_each_entity_as_of_its_last_payment(repo: Repo, entity: str) -> None:
    key = f"{entity}_id"
    last = (
        repo.raw.sort("event_timestamp", "transaction_id")
        .group_by(key)
        .last()
        .sort(key)
        .sample(25, seed=4)
    )
    # ties at the same microsecond would make "the last row" ambiguous: none in the sample
    want = (
        recompute(repo.raw, last, entity)
        .join(last.select("transaction_id", key), on="transaction_id")
        .drop("transaction_id")
    )
    names = [c for c in want.columns if c != key]
    online = repo.store.get_online_features(
        features=[f"{entity}_features:{name}" for name in names],
        entity_rows=[{key: value} for value in want[key]],
    ).to_dict()
    assert _compare(pl.DataFrame(online), want, key) == len(names)


def test_an_unknown_card_has_no_online_features(repo: Repo) -> None:
    online = repo.store.get_online_features(
        features=["card_features:card_tx_count_7d"], entity_rows=[{"card_id": "K-unknown"}]
    ).to_dict()
    assert online["card_tx_count_7d"] == [None]
