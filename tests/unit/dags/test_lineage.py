"""OpenLineage from the job's manifest (dags/daily_synthetic_job/lineage.py).

The sample manifests are made by the job's own code (Manifest, the schema, the feature
columns), so these tests follow the manifest and the schema when they change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from daily_synthetic_job.lineage import (
    LineageFromManifest,
    dataset_id,
    lineage_from_manifest,
    table_root,
    to_openlineage,
)
from fraud_detection.features.compute import feature_columns, output_columns
from fraud_detection.features.pipeline import DATASET as FEATURES_DATASET
from fraud_detection.manifest import DATASET, Manifest, PartInfo, table_fields
from fraud_detection.schema import REPORT_SCHEMA, SCHEMA
from fraud_detection.sinks.parquet import arrow_type_names

BUCKET = "raw-bucket"
ROOT = f"s3://{BUCKET}/card_payments_raw"
DAY_FOLDER = "year=2025/month=6/day=12"  # the Delta layout: unpadded partition values


def _part(i: int, k: int, rows: int, fraud: int) -> PartInfo:
    key = f"card_payments_raw/{DAY_FOLDER}/part-{i:05d}-of-{k:05d}.parquet"
    return PartInfo(key, rows, fraud, 1000 + i, "ab" * 32, f"{i + 1:016x}", f"{i}/{k}")


def payments_manifest(**kw: Any) -> dict[str, Any]:
    """A day's manifest as the job prints it (and the operator parses into the XCom)."""
    kw.setdefault("labels_root", f"s3://{BUCKET}/fraud_reports")
    parts = [_part(0, 2, 6000, 12), _part(1, 2, 4000, 9)]
    core = table_fields(
        dataset=DATASET,
        date="2025-06-12",
        root=ROOT,
        uri=f"{ROOT}/{DAY_FOLDER}/",
        keys=[p.key for p in parts],
        manifest_key="_manifests/2025-06-12.json",
        table_version=3,
        timestamp_field="event_timestamp",
        schema=arrow_type_names(SCHEMA),
    )
    manifest = Manifest.from_parts(
        parts,
        core,
        seed=42,
        target_fraud_rate=0.002,
        generator_version="0.1.0",
        shards=2,
        complete=True,
        **kw,
    )
    parsed: dict[str, Any] = json.loads(manifest.to_json())
    return parsed


def features_manifest(source: str) -> dict[str, Any]:
    """payment-features' manifest (features/pipeline.py), for one day."""
    return {
        "dataset": FEATURES_DATASET,
        "date": "2025-06-12",
        "rows": 4000,
        "fraud_rows": 7,
        "uri": f"s3://{BUCKET}/features/{DAY_FOLDER}/",
        "keys": [f"features/{DAY_FOLDER}/part-00000-of-00001.parquet"],
        "bytes": 123_456,
        "complete": True,
        "timestamp_field": "event_timestamp",
        "entity_keys": ["transaction_id", "card_id", "customer_id", "terminal_id"],
        "label": "is_fraud",
        "features": feature_columns(),
        "source": source,
        "source_days": ["2025-06-11", "2025-06-12"],
    }


def _json(dataset: Any) -> dict[str, Any]:
    from openlineage.client.serde import Serde

    encoded: dict[str, Any] = json.loads(Serde.to_json(dataset))
    return encoded


# --- naming -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://raw-bucket/card_payments_raw", ("s3://raw-bucket", "card_payments_raw")),
        ("s3://raw-bucket/a/b/", ("s3://raw-bucket", "a/b")),
        ("s3://raw-bucket", ("s3://raw-bucket", "/")),  # a bucket's root: the name is `/`
        ("file:///data/raw", ("file", "/data/raw")),
        ("/data/raw/", ("file", "/data/raw")),
    ],
)
def test_dataset_names_follow_the_naming_spec(uri: str, expected: tuple[str, str]) -> None:
    assert dataset_id(uri) == expected


def test_table_root_is_the_root_or_the_uri_without_its_day_folder() -> None:
    assert table_root(payments_manifest()) == ROOT
    assert table_root({"uri": f"s3://{BUCKET}/features/{DAY_FOLDER}/"}) == f"s3://{BUCKET}/features"
    assert table_root({"uri": f"file:///data/features/{DAY_FOLDER}/"}) == "file:///data/features"


# --- the mapping ------------------------------------------------------------------------------


def test_payments_day_maps_to_the_raw_table_and_the_reports_feed() -> None:
    manifest = payments_manifest()
    lineage = lineage_from_manifest(manifest)
    assert lineage.inputs == []
    payments, reports = lineage.outputs
    assert (payments.namespace, payments.name) == (f"s3://{BUCKET}", "card_payments_raw")
    assert [name for name, _ in payments.fields] == list(SCHEMA)
    assert dict(payments.fields) == arrow_type_names(SCHEMA)
    assert (payments.rows, payments.bytes, payments.files) == (10_000, 2001, 2)
    assert payments.column_metrics == {"is_fraud": {"sum": 21, "count": 10_000}}
    assert payments.checks == []
    # The payments manifest names the reports feed but carries none of its numbers yet.
    assert (reports.namespace, reports.name) == (f"s3://{BUCKET}", "fraud_reports")
    assert (reports.fields, reports.rows) == ([], None)


def test_reports_summary_nulls_and_checks_are_used_when_the_manifest_has_them() -> None:
    labels = {"rows": 33, "bytes": 900, "keys": ["k"], "schema": arrow_type_names(REPORT_SCHEMA)}
    manifest = {
        **payments_manifest(),
        "labels": labels,
        "null_counts": {"device_id": 4000, "amount": 0},
        "checks": {"mcc|rule": 0, "device_matches_channel": 0},
    }
    payments, reports = lineage_from_manifest(manifest).outputs
    assert payments.column_metrics["device_id"] == {"nullCount": 4000}
    assert payments.column_metrics["amount"] == {"nullCount": 0}
    assert payments.checks == [
        {"name": "mcc|rule", "column": "mcc", "failing": 0},
        {"name": "device_matches_channel", "column": None, "failing": 0},
    ]
    assert [name for name, _ in reports.fields] == list(REPORT_SCHEMA)
    assert (reports.rows, reports.bytes, reports.files) == (33, 900, 1)


def test_a_run_without_the_labels_feed_has_one_output() -> None:
    assert len(lineage_from_manifest(payments_manifest(labels_root=None)).outputs) == 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"s3://{BUCKET} at http://127.0.0.1:9000", (f"s3://{BUCKET}", "/")),
        (f"s3://{BUCKET}/card_payments_raw", (f"s3://{BUCKET}", "card_payments_raw")),
        ("/data", ("file", "/data")),
    ],
)
def test_features_day_reads_the_raw_table_and_writes_the_features_table(
    source: str, expected: tuple[str, str]
) -> None:
    lineage = lineage_from_manifest(features_manifest(source))
    (raw,) = lineage.inputs
    assert (raw.namespace, raw.name) == expected
    (features,) = lineage.outputs
    assert (features.namespace, features.name) == (f"s3://{BUCKET}", "features")
    assert features.rows == 4000
    # No types in the features manifest: the columns it names (amount_eur is not named).
    named = [name for name, _ in features.fields]
    assert set(named) <= set(output_columns())
    assert set(output_columns()) - set(named) == {"amount_eur"}


def test_no_manifest_no_datasets() -> None:
    lineage = lineage_from_manifest({})
    assert (lineage.inputs, lineage.outputs) == ([], [])


# --- the OpenLineage objects ----------------------------------------------------------------


def test_openlineage_facets_of_a_payments_day() -> None:
    operator_lineage = to_openlineage(lineage_from_manifest(payments_manifest()))
    payments = _json(operator_lineage.outputs[0])
    assert payments["namespace"] == f"s3://{BUCKET}"
    assert payments["name"] == "card_payments_raw"
    fields = payments["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"]) for f in fields] == list(arrow_type_names(SCHEMA).items())
    statistics = payments["outputFacets"]["outputStatistics"]
    assert statistics == {
        "_producer": statistics["_producer"],
        "_schemaURL": statistics["_schemaURL"],
        "rowCount": 10_000,
        "size": 2001,
        "fileCount": 2,
    }
    quality = payments["facets"]["dataQualityMetrics"]
    assert quality["rowCount"] == 10_000
    assert quality["columnMetrics"]["is_fraud"]["sum"] == 21
    reports = _json(operator_lineage.outputs[1])
    assert (reports["name"], reports["facets"], reports["outputFacets"]) == (
        "fraud_reports",
        {},
        {},
    )


def test_openlineage_assertions_from_the_checks() -> None:
    manifest = {**payments_manifest(), "checks": {"mcc|rule": 0, "delay_days|max": 2}}
    payments = _json(to_openlineage(lineage_from_manifest(manifest)).outputs[0])
    assertions = payments["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a.get("column"), a["success"]) for a in assertions] == [
        ("mcc|rule", "mcc", True),
        ("delay_days|max", None, False),  # delay_days is a reports column, not a payments one
    ]


# --- the operators -------------------------------------------------------------------------


@pytest.mark.parametrize("launcher", ["docker", "ecs", "kubernetes"])
def test_every_launcher_operator_carries_the_lineage_hook(launcher: str) -> None:
    from daily_synthetic_job.launchers import load_launcher

    assert issubclass(load_launcher(launcher).operator, LineageFromManifest)


def test_the_provider_takes_the_operators_facets_from_the_published_manifest() -> None:
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from daily_synthetic_job.docker import CONTAINER, DockerJobOperator

    op = DockerJobOperator(
        task_id="generate", command=["--date", "2025-06-12", "--rows", "10000"], **CONTAINER
    )
    manifest = payments_manifest()
    assert op.publish({}, ["info: generating", json.dumps(manifest)]) == manifest
    extractor_class = ExtractorManager().get_extractor_class(op)
    assert extractor_class is DefaultExtractor
    found = extractor_class(op).extract_on_complete(task_instance=None)
    assert found is not None
    assert [(d.namespace, d.name) for d in found.outputs] == [
        (f"s3://{BUCKET}", "card_payments_raw"),
        (f"s3://{BUCKET}", "fraud_reports"),
    ]
    assert found.outputs[0].outputFacets["outputStatistics"].rowCount == manifest["rows"]


def test_the_features_dag_operators_carry_the_lineage_hook() -> None:
    import payment_features

    # Both of its steps run through the launcher layer, whose operators carry the hook; the
    # features manifest names a dataset, Feast's summary does not.
    assert issubclass(payment_features.LAUNCHER.operator, LineageFromManifest)
    assert not payment_features.FEATURES_JOB.feast and payment_features.MATERIALIZE_JOB.feast
