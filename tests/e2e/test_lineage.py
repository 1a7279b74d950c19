"""OpenLineage events of real DAG runs: `airflow dags test daily_synthetic`, then
`airflow dags test payment_features` for the same day, with the OpenLineage provider's file
transport (one JSON event per file). The events must name the datasets the job wrote, with
the manifest's counts and the columns of the Parquet files in S3.

Feast's materialize step is marked successful instead of run (`--mark-success-pattern`):
it has no lineage of its own, and test_downstream_dag.py runs it for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

DAY = "2025-06-12"
ROWS = 5_000
BUCKET = "lineage-e2e"
# The labels feed needs a root of its own: the payments here are at the bucket's root.
LABELS_BUCKET = "lineage-e2e-labels"
FEATURES_BUCKET = "lineage-e2e-features"  # the features' own bucket (the DAG's layout)
REPORTS = "fraud_reports"
NAMESPACE = "daily-synthetic-e2e"
BIN = Path(sys.executable).parent


def _events(folder: Path) -> list[dict[str, Any]]:
    events = [json.loads(path.read_text()) for path in sorted(folder.glob("ol-*.json"))]
    return sorted(events, key=lambda e: str(e["eventTime"]))


def _task_event(events: list[dict[str, Any]], job: str, kind: str) -> dict[str, Any]:
    found = [e for e in events if e["job"]["name"] == job and e["eventType"] == kind]
    assert len(found) == 1, [(e["job"]["name"], e["eventType"]) for e in events]
    return found[0]


def _by_name(datasets: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["namespace"], d["name"]): d for d in datasets}


def _green(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _xcom(airflow_home: Any, dag_id: str, task_id: str) -> dict[str, Any]:
    rows = airflow_home.query(
        "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value' "
        "ORDER BY timestamp DESC LIMIT 1",
        dag_id,
        task_id,
    )
    assert rows, f"no XCom of {dag_id}.{task_id}"
    value: dict[str, Any] = json.loads(rows[0][0])
    return value


@pytest.fixture(scope="module")
def runs(
    airflow_home: Any,
    s3: Any,
    tmp_path_factory: pytest.TempPathFactory,
    timings: dict[str, float],
) -> dict[str, Any]:
    for bucket in (BUCKET, LABELS_BUCKET, FEATURES_BUCKET):
        s3.client().create_bucket(Bucket=bucket)
    folders = {dag: tmp_path_factory.mktemp(f"ol-{dag}") for dag in ("raw", "features")}

    def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **airflow_home.env(BUCKET),
            # What the stack's .env sets for an endpoint (docs/stack.md): here a file per event.
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(folder / "ol")}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": NAMESPACE,
            "DAILY_SYNTHETIC_LABELS_DEST": f"s3://{LABELS_BUCKET}/{REPORTS}",
            "FEATURES_BUCKET": FEATURES_BUCKET,
        }
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", *args],
            env=env, cwd=airflow_home.path, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        timings[f"airflow dags test {args[0]}, lineage to files"] = time.perf_counter() - t0
        return done

    raw = run(folders["raw"], "daily_synthetic", DAY, "-c", json.dumps({"rows": ROWS}))
    _green(raw)  # the features need the raw day
    features = run(
        folders["features"],
        "payment_features", DAY, "-c", json.dumps({"dates": [DAY]}),
        "--mark-success-pattern", "^materialize$",
    )  # fmt: skip
    return {
        "raw": raw,
        "features": features,
        "raw_events": _events(folders["raw"]),
        "features_events": _events(folders["features"]),
        "manifest": _xcom(airflow_home, "daily_synthetic", "generate"),
        "features_manifest": _xcom(airflow_home, "payment_features", "features"),
    }


def _facet(dataset: Mapping[str, Any], kind: str, name: str) -> dict[str, Any]:
    facet: dict[str, Any] = dataset[kind][name]
    return facet


def test_the_raw_run_emits_start_and_complete_for_the_dag_and_the_job_task(
    runs: dict[str, Any],
) -> None:
    _green(runs["raw"])
    events = runs["raw_events"]
    assert {e["job"]["namespace"] for e in events} == {NAMESPACE}
    for kind in ("START", "COMPLETE"):
        _task_event(events, "daily_synthetic.generate", kind)
    complete = _task_event(events, "daily_synthetic.generate", "COMPLETE")
    dag_run = _task_event(events, "daily_synthetic", "COMPLETE")
    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == dag_run["run"]["runId"]


def test_the_job_task_writes_the_payments_table_with_the_manifests_numbers(
    runs: dict[str, Any], s3: Any
) -> None:
    manifest = runs["manifest"]
    complete = _task_event(runs["raw_events"], "daily_synthetic.generate", "COMPLETE")
    assert complete["inputs"] == []
    outputs = _by_name(complete["outputs"])
    # The table's root: the bucket's root here (RAW_BUCKET without a prefix).
    assert set(outputs) == {(f"s3://{BUCKET}", "/"), (f"s3://{LABELS_BUCKET}", REPORTS)}
    payments = outputs[(f"s3://{BUCKET}", "/")]
    table = s3.table(BUCKET, "year=2025/month=6/day=12/")
    statistics = _facet(payments, "outputFacets", "outputStatistics")
    assert statistics["rowCount"] == manifest["rows"] == table.num_rows == ROWS
    assert statistics["size"] == manifest["bytes"]
    assert statistics["fileCount"] == len(manifest["keys"])
    fields = _facet(payments, "facets", "schema")["fields"]
    assert [f["name"] for f in fields] == table.column_names
    assert {f["name"]: f["type"] for f in fields} == manifest["schema"]
    quality = _facet(payments, "facets", "dataQualityMetrics")
    assert quality["rowCount"] == table.num_rows
    fraud = quality["columnMetrics"]["is_fraud"]
    assert (
        fraud["sum"] == manifest["fraud_rows"] == table.column("is_fraud").to_pylist().count(True)
    )


def test_the_job_task_names_the_fraud_reports_feed(runs: dict[str, Any], s3: Any) -> None:
    complete = _task_event(runs["raw_events"], "daily_synthetic.generate", "COMPLETE")
    assert runs["manifest"]["labels_root"] == f"s3://{LABELS_BUCKET}/{REPORTS}"
    assert (f"s3://{LABELS_BUCKET}", REPORTS) in _by_name(complete["outputs"])
    keys = s3.keys(LABELS_BUCKET, REPORTS)
    assert f"{REPORTS}/_manifests/2025-06-12.json" in keys


def test_tasks_without_data_name_no_dataset(runs: dict[str, Any]) -> None:
    choose = _task_event(runs["raw_events"], "daily_synthetic.choose_path", "COMPLETE")
    assert (choose["inputs"], choose["outputs"]) == ([], [])


def test_the_features_task_reads_the_payments_table_and_writes_the_features_table(
    runs: dict[str, Any], s3: Any
) -> None:
    _green(runs["features"])
    manifest = runs["features_manifest"]
    complete = _task_event(runs["features_events"], "payment_features.features", "COMPLETE")
    raw = _task_event(runs["raw_events"], "daily_synthetic.generate", "COMPLETE")
    # The features' input is the very dataset the raw run wrote: one lineage graph.
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        (raw["outputs"][0]["namespace"], raw["outputs"][0]["name"])
    ]
    (features,) = complete["outputs"]
    assert (features["namespace"], features["name"]) == (f"s3://{FEATURES_BUCKET}", "/")
    table = s3.table(FEATURES_BUCKET, "year=2025/month=6/day=12/")
    statistics = _facet(features, "outputFacets", "outputStatistics")
    assert statistics["rowCount"] == manifest["rows"] == table.num_rows == ROWS
    assert statistics["size"] == manifest["bytes"]
    # The features manifest names its columns but not their types (nor amount_eur).
    named = [f["name"] for f in _facet(features, "facets", "schema")["fields"]]
    assert set(named) <= set(table.column_names)
    assert set(manifest["features"]) <= set(named)
