"""OpenLineage for the job containers: datasets and facets built from the job's manifest.

A container task has no lineage Airflow can see (DockerOperator, ECS and Kubernetes know
nothing of what the job wrote), so the operators carry their own: the manifest the task
published as its XCom is mapped to OpenLineage datasets when the task completes. Airflow's
OpenLineage provider calls `get_openlineage_facets_on_complete` and sends the event through
its configured transport (`[openlineage] transport`, or OPENLINEAGE_URL); with none set, it
sends nothing.

`lineage_from_manifest` is the one place that knows the manifest's fields: when the manifest
changes shape, only it (and its unit test) change. Datasets are named after OpenLineage's
naming spec: `s3://bucket` + the key of the table's root, or `file` + the folder's path.
Imports of the provider and the OpenLineage client happen when the facets are built, never at
parse time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

# The day's partition folders under a table's root (DayLayout of the job).
_PARTITION_TAIL = re.compile(r"(/year=\d{4}/month=\d{2}/day=\d{2})?/*$")


@dataclass(frozen=True)
class DatasetLineage:
    """One dataset of a task, as the manifest describes it (plain data, no OpenLineage yet)."""

    namespace: str
    name: str
    fields: list[tuple[str, str | None]] = field(default_factory=list)  # (column, type)
    rows: int | None = None
    bytes: int | None = None
    files: int | None = None
    column_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ManifestLineage:
    inputs: list[DatasetLineage]
    outputs: list[DatasetLineage]


def dataset_id(uri: str) -> tuple[str, str]:
    """(namespace, name) of a table root: `s3://bucket` + key, or `file` + absolute path.

    A bucket's root is named `/`: the spec's name is the key, and it must not be empty.
    """
    uri = uri.strip()
    parts = urlsplit(uri)
    if parts.scheme in ("s3", "s3a"):
        return f"s3://{parts.netloc}", parts.path.strip("/") or "/"
    if parts.scheme in ("", "file"):
        return "file", "/" + parts.path.strip("/")
    return f"{parts.scheme}://{parts.netloc}", parts.path.strip("/") or "/"


def table_root(manifest: Mapping[str, Any]) -> str:
    """The table's root URI: `root` when the manifest has it, else `uri` minus the day folder."""
    root = str(manifest.get("root") or "")
    return root or _PARTITION_TAIL.sub("", str(manifest.get("uri") or ""))


def _fields(manifest: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Columns with their Arrow types from `schema`; else the column names the manifest names."""
    schema = manifest.get("schema")
    if isinstance(schema, Mapping) and schema:
        return [(str(name), str(kind)) for name, kind in schema.items()]
    names: list[str] = [
        *manifest.get("entity_keys", []),
        *([manifest["timestamp_field"]] if manifest.get("timestamp_field") else []),
        *([manifest["label"]] if manifest.get("label") else []),
        *manifest.get("features", []),
    ]
    return [(name, None) for name in dict.fromkeys(str(n) for n in names)]


Metrics = dict[str, dict[str, float]]  # column -> ColumnMetrics fields


def _quality(manifest: Mapping[str, Any]) -> tuple[Metrics, list[dict[str, Any]]]:
    """Column metrics and check results the manifest carries.

    `fraud_rows` of `rows` is the label's sum and count; `null_counts` (column -> nulls) and
    `checks` (check -> failing rows, 0 for a published day) are used when present.
    """
    metrics: Metrics = {}
    label = str(manifest.get("label") or "is_fraud")
    if manifest.get("fraud_rows") is not None and manifest.get("rows") is not None:
        metrics[label] = {"sum": int(manifest["fraud_rows"]), "count": int(manifest["rows"])}
    for column, nulls in dict(manifest.get("null_counts") or {}).items():
        metrics.setdefault(str(column), {})["nullCount"] = int(nulls)
    columns = {name for name, _ in _fields(manifest)}
    checks = []
    for name, failing in dict(manifest.get("checks") or {}).items():
        column = str(name).split("|", 1)[0]  # dataframely names column rules `column|rule`
        checks.append(
            {
                "name": str(name),
                "column": column if column in columns else None,
                "failing": int(failing),
            }
        )
    return metrics, checks


def _table(manifest: Mapping[str, Any], root: str) -> DatasetLineage:
    namespace, name = dataset_id(root)
    metrics, checks = _quality(manifest)
    keys: Sequence[Any] = manifest.get("keys") or []
    return DatasetLineage(
        namespace=namespace,
        name=name,
        fields=_fields(manifest),
        rows=int(manifest["rows"]) if manifest.get("rows") is not None else None,
        bytes=int(manifest["bytes"]) if manifest.get("bytes") is not None else None,
        files=len(keys) if keys else None,
        column_metrics=metrics,
        checks=checks,
    )


def lineage_from_manifest(manifest: Mapping[str, Any]) -> ManifestLineage:
    """What a job task read and wrote, from its manifest (the task's XCom).

    * the payments day (or shard): the raw table's root, with its schema, statistics and
      quality; the fraud_reports feed of the same run (`labels_root`) as a second output,
      with its own facets when the manifest embeds its summary (`labels`);
    * a features day: the raw table (`source`) as input, the features table as output.
    """
    if not manifest:
        return ManifestLineage([], [])
    outputs = [_table(manifest, table_root(manifest))]
    labels_root = manifest.get("labels_root")
    if labels_root:
        labels = manifest.get("labels")
        summary: Mapping[str, Any] = labels if isinstance(labels, Mapping) else {}
        outputs.append(_table(summary, str(labels_root)))
    inputs = []
    source = manifest.get("source_root") or manifest.get("source")
    if source:
        # payment-features' `source` reads "s3://bucket/prefix at http://endpoint" on S3.
        namespace, name = dataset_id(str(source).split(" at ", 1)[0])
        inputs.append(DatasetLineage(namespace, name))
    return ManifestLineage(inputs, outputs)


def to_openlineage(lineage: ManifestLineage) -> OperatorLineage:
    """The provider's OperatorLineage: schema, outputStatistics, dataQualityMetrics and
    dataQualityAssertions facets on each output."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
    from openlineage.client.facet_v2 import data_quality_metrics_dataset as dqm
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
    from openlineage.client.facet_v2 import schema_dataset

    def facets(table: DatasetLineage) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if table.fields:
            found["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
                    for name, kind in table.fields
                ]
            )
        if table.rows is not None or table.column_metrics:
            found["dataQualityMetrics"] = dqm.DataQualityMetricsDatasetFacet(
                rowCount=table.rows,
                bytes=table.bytes,
                fileCount=table.files,
                columnMetrics={
                    column: dqm.ColumnMetrics(**values)  # type: ignore[arg-type]
                    for column, values in table.column_metrics.items()
                },
            )
        if table.checks:
            found["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
                assertions=[
                    dqa.Assertion(
                        assertion=check["name"],
                        success=check["failing"] == 0,
                        column=check["column"],
                        actual=str(check["failing"]),
                        expected="0",
                    )
                    for check in table.checks
                ]
            )
        return found

    def output(table: DatasetLineage) -> Dataset:
        statistics: dict[str, Any] = {}
        if table.rows is not None:
            statistics["outputStatistics"] = stats.OutputStatisticsOutputDatasetFacet(
                rowCount=table.rows, size=table.bytes, fileCount=table.files
            )
        return OutputDataset(
            namespace=table.namespace,
            name=table.name,
            facets=facets(table),
            outputFacets=statistics,
        )

    return OperatorLineage(
        inputs=[InputDataset(t.namespace, t.name, facets=facets(t)) for t in lineage.inputs],
        outputs=[output(t) for t in lineage.outputs],
    )


class LineageFromManifest:
    """Mixed into the job operators: their OpenLineage datasets, from the manifest they published.

    The operator stores its parsed manifest in `lineage_manifest` before it returns it as the
    XCom; the provider calls this method in the same process once the task succeeded (and,
    having no `..._on_failure`, after a failure too: no manifest then, so no datasets).
    List it after the operator base class: Airflow's operator metaclass wraps `__init__` of
    a class whose next class in the MRO has another `__init__`, and a mixin listed first would
    make that wrapper skip the provider operator's `__init__`.
    """

    lineage_manifest: Mapping[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return to_openlineage(lineage_from_manifest(self.lineage_manifest or {}))
