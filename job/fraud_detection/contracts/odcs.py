"""Open Data Contract Standard (v3) documents for the three datasets: pure, no I/O.

Everything comes from the code that makes and checks the data, so the contract cannot say
something the job does not do:

* columns, types and descriptions from `schema.py` (the features' from `add_features` itself);
* nullability, lengths and bounds from the dataframely schemas in `validation.py`;
* each dataframely rule as an SQL quality rule (`RULE_SQL`: a test fails when a rule has none);
* the dataset names from `manifest.py` and the features step.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import dataframely as dy
import polars as pl

from fraud_detection import GENERATOR_VERSION
from fraud_detection.features.compute import (
    DEFAULT_LABEL_DELAY_DAYS,
    INPUT_COLUMNS,
    add_features,
)
from fraud_detection.features.pipeline import DATASET as FEATURES_DATASET
from fraud_detection.manifest import DATASET, PARTITION_COLUMNS, REPORTS_DATASET
from fraud_detection.schema import (
    COLUMNS,
    FILE_SCHEMA,
    KEY_PREFIX,
    REPORT_COLUMNS,
    REPORT_TYPES,
)
from fraud_detection.sinks.layout import PARTITION_GLOB
from fraud_detection.validation import PaymentsSchema, ReportsSchema

API_VERSION = "v3.1.0"
# How the days are stored. Switching to a Delta Lake table is this one line ("delta"): the
# servers then point at the table's root instead of a glob of its day folders.
FORMAT = "parquet"

# Where each dataset lives by default: the local roots of `make run` and the features step,
# and the compose stack's bucket (its S3 store answers on 127.0.0.1:9000).
LOCAL_ROOTS = {
    DATASET: "data/raw",
    REPORTS_DATASET: "data/fraud_reports",
    FEATURES_DATASET: "data/features",
}
S3_ROOTS = {
    DATASET: "s3://daily-synthetic-raw",
    # The labels feed may not sit inside the payments' root (the job refuses an overlap),
    # and the payments fill their bucket's root: the labels get a bucket of their own.
    REPORTS_DATASET: "s3://daily-synthetic-labels",
    # The features too (payment-features refuses a root inside the payments'): the compose
    # stack's FEATURES_BUCKET.
    FEATURES_DATASET: "s3://daily-synthetic-features",
}
S3_ENDPOINT = "http://localhost:9000"
# The day D is complete by 03:00 UTC on D + 1 (the DAG starts at 00:30 UTC).
AVAILABLE_BY_UTC = "03:00"

# Arrow/polars type -> (ODCS logical type, physical type as datacontract-cli names it).
_TYPES: dict[type[pl.DataType], tuple[str, str]] = {
    pl.String: ("string", "string"),
    pl.Int64: ("integer", "int64"),
    pl.Int32: ("integer", "int32"),
    pl.UInt32: ("integer", "int64"),
    pl.Float64: ("number", "double"),
    pl.Float32: ("number", "float"),
    pl.Boolean: ("boolean", "boolean"),
    pl.Date: ("date", "date"),
    pl.Datetime: ("timestamp", "timestamp_tz"),
}

# The physical types as DuckDB (datacontract-cli's engine) reads them from the Parquet files.
DUCKDB_TYPES = {
    "string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "double": "DOUBLE",
    "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE", "timestamp_tz": "TIMESTAMP WITH TIME ZONE",
}  # fmt: skip
# datacontract-cli (pinned in the Makefile) reads the files untyped into this view; its own
# type checks skip Parquet, so this rule compares the files' columns and types with the contract.
RAW_VIEW = "{table}__raw__"

# Each dataframely rule of validation.py, as SQL over the dataset: the count of rows that
# break it (must be 0). Keyed by the rule's name; tests check that the keys match the rules.
RULE_SQL: dict[str, str] = {
    "ids_carry_their_prefix": "SELECT COUNT(*) FROM {table} WHERE NOT ("
    + " AND ".join(f"starts_with({name}, '{prefix}')" for name, prefix in KEY_PREFIX.items())
    + ")",
    "mcc_is_four_digits": "SELECT COUNT(*) FROM {table} WHERE TRY_CAST(mcc AS INTEGER) IS NULL",
    "device_only_online": "SELECT COUNT(*) FROM {table} WHERE (device_id IS NULL) <> (channel <> 'online')",
    "scenario_set_exactly_when_fraud": "SELECT COUNT(*) FROM {table} WHERE (fraud_scenario IS NOT NULL) <> is_fraud",
    "delay_matches_the_dates": "SELECT COUNT(*) FROM {table} WHERE date_diff('day', payment_date, reported_on) <> delay_days",
    "report_type_is_known": "SELECT COUNT(*) FROM {table} WHERE report_type NOT IN ({report_types})",
    "approved_exactly_when_code_00": "SELECT COUNT(*) FROM {table} WHERE (auth_result = 'approved') <> (response_code = '00')",
    "credit_limit_exactly_on_credit_cards": "SELECT COUNT(*) FROM {table} WHERE (credit_limit_eur IS NOT NULL) <> (card_type = 'credit')",
    "card_live_and_account_open": "SELECT COUNT(*) FROM {table} WHERE NOT (account_opened_on <= CAST(event_timestamp AS DATE) AND card_issued_on <= CAST(event_timestamp AS DATE) AND CAST(event_timestamp AS DATE) < card_expiry + INTERVAL 1 MONTH)",
    "reason_code_exactly_on_chargebacks": "SELECT COUNT(*) FROM {table} WHERE (reason_code IS NOT NULL) <> (report_type = 'chargeback')",
}
RULE_DESCRIPTIONS = {
    "ids_carry_their_prefix": "Every key starts with its kind's letter.",
    "mcc_is_four_digits": "The MCC is four digits.",
    "device_only_online": "A device token exactly on online payments.",
    "scenario_set_exactly_when_fraud": "A fraud scenario exactly on fraud rows.",
    "delay_matches_the_dates": "delay_days is reported_on minus payment_date.",
    "report_type_is_known": "The report type is one of the known ones.",
    "approved_exactly_when_code_00": "Approved exactly when the response code is 00.",
    "credit_limit_exactly_on_credit_cards": "A credit limit exactly on credit cards.",
    "card_live_and_account_open": "The account is open and the card issued and not expired on the payment's day.",
    "reason_code_exactly_on_chargebacks": "A reason code exactly on chargebacks.",
}


def dataframely_rules(schema: type[dy.Schema]) -> list[str]:
    """The names of a dataframely schema's row rules (what RULE_SQL must cover)."""
    return list(schema._schema_validation_rules())


def _partition_sql(table: str, column: str, to_date: bool) -> str:
    """Rows whose `column` is not the day of their year=/month=/day= folder."""
    value = f"CAST(timezone('UTC', {column}) AS DATE)" if to_date else column
    return f"SELECT COUNT(*) FROM {table} WHERE {value} <> make_date(year, month, day)"


def _type_of(dtype: pl.DataType) -> tuple[str, str]:
    for kind, types in _TYPES.items():
        if isinstance(dtype, kind):
            return types
    raise ValueError(f"no ODCS type for {dtype}: add it to contracts/odcs.py _TYPES")


def _options(column: dy.Column | None) -> dict[str, Any]:
    """Lengths and bounds of a dataframely column as ODCS logicalTypeOptions."""
    if column is None:
        return {}
    names = {
        "min_length": "minLength", "max_length": "maxLength",
        "min": "minimum", "max": "maximum",
        "min_exclusive": "exclusiveMinimum", "max_exclusive": "exclusiveMaximum",
    }  # fmt: skip
    options = {}
    for attribute, key in names.items():
        value = getattr(column, attribute, None)
        if value is not None:
            options[key] = value
    return options


def _property(
    name: str,
    dtype: pl.DataType,
    description: str,
    column: dy.Column | None,
    *,
    stored: pl.DataType | None = None,
) -> dict[str, Any]:
    logical, physical = _type_of(stored if stored is not None else dtype)
    prop: dict[str, Any] = {
        "id": name,
        "name": name,
        "logicalType": logical,
        "physicalType": physical,
        "description": description,
        "required": column is not None and not column.nullable,
    }
    options = _options(column)
    if options:
        prop["logicalTypeOptions"] = options
    if isinstance(dtype, pl.Enum):
        # Enums in memory, dictionary-encoded strings in the files: the values are the rule.
        prop["quality"] = [
            {
                "type": "library",
                "metric": "invalidValues",
                "arguments": {"validValues": list(dtype.categories)},
                "mustBe": 0,
                "description": f"{name} is one of the known values.",
            }
        ]
    return prop


def _partition_properties() -> list[dict[str, Any]]:
    """The hive partition columns: in the folder names, not in the files."""
    return [
        {
            "id": name,
            "name": name,
            "logicalType": "integer",
            "physicalType": physical,
            "description": f"Hive partition column (`{name}=` folder of the day).",
            "required": True,
            "partitioned": True,
            "partitionKeyPosition": position,
        }
        for position, (name, physical) in enumerate(PARTITION_COLUMNS.items(), start=1)
    ]


def _sql_rule(name: str, query: str, description: str) -> dict[str, Any]:
    return {
        "id": name,
        "type": "sql",
        "name": name,
        "description": description,
        "query": query,
        "mustBe": 0,
        "dimension": "consistency",
    }


def _columns_rule(table: str, properties: list[dict[str, Any]]) -> dict[str, Any]:
    """Columns in the files that the contract does not carry, or with another type."""
    expected = ", ".join(
        f"'{p['name']} {DUCKDB_TYPES[p['physicalType']]}'"
        for p in properties
        if not p.get("partitioned")
    )
    partitions = ", ".join(f"'{name}'" for name in PARTITION_COLUMNS)
    query = (
        f"SELECT COUNT(*) FROM (DESCRIBE SELECT * FROM {RAW_VIEW.format(table=table)}) "
        f"WHERE column_name NOT IN ({partitions}) "
        f"AND column_name || ' ' || column_type NOT IN ({expected})"
    )
    return {
        "id": "no_column_outside_the_contract",
        "type": "sql",
        "name": "no_column_outside_the_contract",
        "description": "The files hold no column the contract lacks, and each column has the contract's type.",
        "query": query,
        "mustBe": 0,
        "dimension": "conformity",
    }


def _rules(table: str, schema: type[dy.Schema], **values: str) -> list[dict[str, Any]]:
    return [
        _sql_rule(rule, RULE_SQL[rule].format(table=table, **values), RULE_DESCRIPTIONS[rule])
        for rule in dataframely_rules(schema)
    ]


def _servers(dataset: str) -> list[dict[str, Any]]:
    def location(root: str) -> str:
        return f"{root}/{PARTITION_GLOB}" if FORMAT == "parquet" else root

    return [
        {
            "server": "local",
            "type": "local",
            "format": FORMAT,
            "path": location(LOCAL_ROOTS[dataset]),
            "description": "A local root, as `make run` writes it.",
        },
        {
            "server": "s3",
            "type": "s3",
            "format": FORMAT,
            "location": location(S3_ROOTS[dataset]),
            "endpointUrl": S3_ENDPOINT,
            "description": "The compose stack's bucket; on AWS, drop endpointUrl.",
        },
    ]


def _sla(dataset: str, timestamp: str) -> list[dict[str, Any]]:
    return [
        {"property": "frequency", "value": 1, "unit": "d", "description": "One partition a day."},
        {
            "property": "timeOfAvailability",
            "value": AVAILABLE_BY_UTC,
            "element": f"{dataset}.{timestamp}",
            "driver": "operational",
            "description": f"The day D is published (its _manifest.json written) by {AVAILABLE_BY_UTC} UTC on D + 1.",
        },
        {
            "property": "latency",
            "value": 27,
            "unit": "h",
            "element": f"{dataset}.{timestamp}",
            "driver": "operational",
            "description": f"A row is at most 27 hours old when its day is published ({AVAILABLE_BY_UTC} UTC the next day).",
        },
    ]


def _document(
    dataset: str,
    purpose: str,
    schema_object: dict[str, Any],
    timestamp: str,
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"daily-synthetic-{dataset.replace('_', '-')}",
        "name": dataset,
        "version": GENERATOR_VERSION,
        "status": "active",
        "domain": "payments",
        "dataProduct": "daily-synthetic",
        "tenant": "daily-synthetic",
        "description": {
            "purpose": purpose,
            "usage": "Read a day through its _manifest.json (docs/contract.md), or glob the day folders.",
            "limitations": "Synthetic data: no real cardholder, merchant or payment.",
        },
        "tags": ["synthetic", "card-payments", "fraud"],
        "schema": [schema_object],
        "servers": _servers(dataset),
        "slaProperties": _sla(dataset, timestamp),
        "slaDefaultElement": f"{dataset}.{timestamp}",
    }


def payments_contract() -> dict[str, Any]:
    columns = PaymentsSchema.columns()
    table = DATASET
    properties = [
        _property(name, dtype, description, columns.get(name), stored=FILE_SCHEMA[name])
        for name, (dtype, description) in COLUMNS.items()
    ]
    key = properties[0]
    assert key["name"] == "transaction_id"
    key |= {"primaryKey": True, "primaryKeyPosition": 1, "unique": True}
    quality = [
        _columns_rule(table, properties),
        *_rules(table, PaymentsSchema),
        _sql_rule(
            "in_the_partition_day",
            _partition_sql(table, "event_timestamp", to_date=True),
            "event_timestamp (UTC) falls on its partition's day.",
        ),
        # The entity keys: a card belongs to one customer, a terminal to one merchant.
        _sql_rule(
            "card_belongs_to_one_customer",
            f"SELECT COUNT(*) FROM (SELECT card_id FROM {table} GROUP BY card_id HAVING COUNT(DISTINCT customer_id) > 1)",
            "Relationship card → customer: every card_id has one customer_id.",
        ),
        _sql_rule(
            "terminal_belongs_to_one_merchant",
            f"SELECT COUNT(*) FROM (SELECT terminal_id FROM {table} GROUP BY terminal_id HAVING COUNT(DISTINCT merchant_id) > 1)",
            "Relationship terminal → merchant: every terminal_id has one merchant_id.",
        ),
        {
            "type": "library",
            "metric": "rowCount",
            "mustBeGreaterThan": 0,
            "description": "A published day is never empty.",
        },
    ]
    return _document(
        DATASET,
        "Card payments (authorisations) of one day with their fraud label: the raw feed.",
        {
            "id": table,
            "name": table,
            "physicalType": "table",
            "physicalName": table,
            "description": "One row per card payment; one partition per UTC day.",
            "dataGranularityDescription": "One row per payment attempt (approved or declined).",
            "properties": [*properties, *_partition_properties()],
            "quality": quality,
        },
        "event_timestamp",
    )


def reports_contract() -> dict[str, Any]:
    columns = ReportsSchema.columns()
    table = REPORTS_DATASET
    properties = [
        _property(name, dtype, description, columns.get(name))
        for name, (dtype, description) in REPORT_COLUMNS.items()
    ]
    key = properties[0]
    assert key["name"] == "transaction_id"
    # A payment is reported at most once; the key points into the payments' dataset.
    key |= {
        "primaryKey": True,
        "primaryKeyPosition": 1,
        "unique": True,
        # Reports → payments: a key of the payments' contract (a sibling file), so the
        # relationship is declared here and checked by tests/contracts, not by this contract.
        "relationships": [
            {
                "type": "foreignKey",
                "to": f"{DATASET}.odcs.yaml#/schema/{DATASET}/properties/transaction_id",
            }
        ],
    }
    quality = [
        _columns_rule(table, properties),
        *_rules(table, ReportsSchema, report_types=", ".join(f"'{t}'" for t in REPORT_TYPES)),
        _sql_rule(
            "reported_on_is_the_day",
            _partition_sql(table, "reported_on", to_date=False),
            "Each partition holds the reports made on its day.",
        ),
    ]
    return _document(
        REPORTS_DATASET,
        "The labels feed: the fraud reports (chargebacks, cardholder calls) made each day, "
        f"pointing at payments of {DATASET} (reports → payments by transaction_id).",
        {
            "id": table,
            "name": table,
            "physicalType": "table",
            "physicalName": table,
            "description": "One row per fraud report; one partition per day the reports were made.",
            "properties": [*properties, *_partition_properties()],
            "quality": quality,
        },
        "reported_on",
    )


# The features' descriptions, by the pattern of their names (compute.py makes the names).
_FEATURE_PATTERNS = [
    (r"(card|customer|terminal)_tx_count_(\d+)d", "Payments of the {0} in the {1} days before this one ([t − {1} d, t))."),
    (r"(card|customer|terminal)_amount_mean_(\d+)d", "Mean amount (EUR) of the {0}'s payments in the {1} days before this one (0 when none)."),
    (r"terminal_fraud_count_(\d+)d", "Frauds at the terminal over {0} days ending the label delay before the payment."),
    (r"terminal_risk_(\d+)d", "Share of the terminal's payments that were fraud over {0} days ending the label delay before the payment (0 when none)."),
    (r"is_weekend", "The payment's UTC day is a Saturday or a Sunday."),
    (r"is_night", "The payment's UTC hour is before 06:00."),
]  # fmt: skip


def feature_description(name: str) -> str:
    if name in COLUMNS:
        return COLUMNS[name][1]
    for pattern, text in _FEATURE_PATTERNS:
        match = re.fullmatch(pattern, name)
        if match:
            return text.format(*match.groups())
    raise ValueError(f"no description for the feature {name}: add one to contracts/odcs.py")


def features_schema() -> pl.Schema:
    """The features' columns and types, from the features step itself (on no rows)."""
    empty = pl.LazyFrame(schema={name: FILE_SCHEMA[name] for name in INPUT_COLUMNS})
    return add_features(empty, date(2000, 1, 1), DEFAULT_LABEL_DELAY_DAYS).collect_schema()


def features_contract() -> dict[str, Any]:
    table = FEATURES_DATASET
    keys = PaymentsSchema.columns()
    properties = []
    for name, dtype in features_schema().items():
        prop = _property(name, dtype, feature_description(name), keys.get(name))
        if name not in keys:
            prop["required"] = True  # every feature is filled (0 when there is no history)
        properties.append(prop)
    properties[0] |= {"primaryKey": True, "primaryKeyPosition": 1, "unique": True}
    return _document(
        FEATURES_DATASET,
        f"Point-in-time correct features of each payment of {DATASET} (docs/downstream.md).",
        {
            "id": table,
            "name": table,
            "physicalType": "table",
            "physicalName": table,
            "description": "One row per payment of the day, with its card, customer and terminal features.",
            "properties": [*properties, *_partition_properties()],
            "quality": [
                _columns_rule(table, properties),
                _sql_rule(
                    "in_the_partition_day",
                    _partition_sql(table, "event_timestamp", to_date=True),
                    "event_timestamp (UTC) falls on its partition's day.",
                ),
                _sql_rule(
                    "risk_is_a_share",
                    f"SELECT COUNT(*) FROM {table} WHERE "
                    + " OR ".join(
                        f"{n} < 0 OR {n} > 1"
                        for n in features_schema()
                        if n.startswith("terminal_risk_")
                    ),
                    "Every terminal risk is between 0 and 1.",
                ),
            ],
        },
        "event_timestamp",
    )


def contracts() -> dict[str, dict[str, Any]]:
    """File name (without .odcs.yaml) -> contract, for every dataset."""
    return {
        DATASET: payments_contract(),
        REPORTS_DATASET: reports_contract(),
        FEATURES_DATASET: features_contract(),
    }
