"""Feast definitions for the daily-synthetic feed: entities, sources, views, the model's service.

Where the data lives is read when `feast apply` runs: DAILY_SYNTHETIC_DATA is the raw feed's
root (a folder or s3://bucket[/prefix], default ../data/raw, where `make run` writes) and
DAILY_SYNTHETIC_FEATURES the features dataset's root (default: `features` beside DATA, where
`payment-features` writes by default). Each root is a Delta table: a source is the root itself
with `DeltaFormat`, so Feast reads the table's current version through its log, never a day
half replaced. Schemas are declared, never inferred from the files.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import DeltaFormat
from feast.types import Bool, Float64, Int64, String

WINDOWS_DAYS = (1, 7, 30)


def _root(variable: str, default: str) -> str:
    value = os.environ.get(variable) or default
    if "://" in value:
        return value.rstrip("/")
    # DuckDB resolves relative paths against the working directory, Feast against the repo:
    # an absolute path means the same to both.
    return str((Path(__file__).parent / value).resolve())


RAW_ROOT = _root("DAILY_SYNTHETIC_DATA", "../data/raw")
# Beside the raw root, never inside it: each dataset is a Delta table with a root of its own.
FEATURES_ROOT = _root("DAILY_SYNTHETIC_FEATURES", f"{RAW_ROOT.rsplit('/', 1)[0]}/features")

card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
terminal = Entity(name="terminal", join_keys=["terminal_id"], value_type=ValueType.STRING)
payment = Entity(
    name="payment",
    join_keys=["transaction_id"],
    value_type=ValueType.STRING,
    description="One card payment: the row a fraud model scores.",
)

raw_payments = FileSource(
    name="raw_payments",
    path=RAW_ROOT,
    file_format=DeltaFormat(),
    timestamp_field="event_timestamp",
    description="The raw daily feed (daily-synthetic), one row per payment, with the label.",
)
payment_features_source = FileSource(
    name="payment_features",
    path=FEATURES_ROOT,
    file_format=DeltaFormat(),
    timestamp_field="event_timestamp",
    description="payment-features: each payment's history features, as of just before it.",
)


def _window_fields(prefix: str) -> list[Field]:
    fields = []
    for w in WINDOWS_DAYS:
        fields += [
            Field(name=f"{prefix}_tx_count_{w}d", dtype=Int64),
            Field(name=f"{prefix}_amount_mean_{w}d", dtype=Float64),
        ]
    return fields


# Each row of the features dataset is an entity's state just before one of its payments, so a
# point-in-time join at a payment's timestamp finds that payment's own row; the online store
# keeps each entity's latest row. A ttl longer than the widest window: older rows are stale.
ENTITY_TTL = timedelta(days=40)

card_features = FeatureView(
    name="card_features",
    entities=[card],
    ttl=ENTITY_TTL,
    schema=[Field(name="card_id", dtype=String), *_window_fields("card")],
    source=payment_features_source,
    online=True,
)
customer_features = FeatureView(
    name="customer_features",
    entities=[customer],
    ttl=ENTITY_TTL,
    schema=[Field(name="customer_id", dtype=String), *_window_fields("customer")],
    source=payment_features_source,
    online=True,
)
terminal_features = FeatureView(
    name="terminal_features",
    entities=[terminal],
    ttl=ENTITY_TTL,
    schema=[
        Field(name="terminal_id", dtype=String),
        *_window_fields("terminal"),
        *[Field(name=f"terminal_fraud_count_{w}d", dtype=Int64) for w in WINDOWS_DAYS],
        *[Field(name=f"terminal_risk_{w}d", dtype=Float64) for w in WINDOWS_DAYS],
    ],
    source=payment_features_source,
    online=True,
)
# Per payment: only for training (offline); a live payment brings these itself.
payment_context = FeatureView(
    name="payment_context",
    entities=[payment],
    ttl=timedelta(days=1),
    schema=[
        Field(name="transaction_id", dtype=String),
        Field(name="amount_eur", dtype=Float64),
        Field(name="is_weekend", dtype=Bool),
        Field(name="is_night", dtype=Bool),
    ],
    source=payment_features_source,
    online=False,
)
payment_labels = FeatureView(
    name="payment_labels",
    entities=[payment],
    ttl=timedelta(days=1),
    schema=[
        Field(name="transaction_id", dtype=String),
        Field(name="is_fraud", dtype=Bool),
        Field(name="fraud_scenario", dtype=String),
    ],
    source=raw_payments,
    online=False,
    description="The label, from the raw feed: join it for training, never serve it.",
)

fraud_model_v1 = FeatureService(
    name="fraud_model_v1",
    features=[payment_context, card_features, customer_features, terminal_features],
    description="The baseline fraud model's inputs (Fraud Detection Handbook transformations).",
)
