"""`datacontract test` (datacontract-cli) against a generated day: local folder and S3 over HTTP.

The contracts are the committed ones with only their servers pointed at this test's data; a
day whose files carry a column the contract lacks, a renamed or a retyped column fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import yaml  # type: ignore[import-untyped]

from fraud_detection.cli import main as job_main
from fraud_detection.contracts import odcs
from tests.support.s3 import s3_client, threaded_moto
from tests.support.session import AWS_ENV

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAY = "2025-06-12"
DAY_FOLDER = "year=2025/month=06/day=12"
GLOB = "year=*/month=*/day=*/*.parquet"


def datacontract() -> str:
    path = os.environ.get("DATACONTRACT_CLI") or str(REPO / ".tools/datacontract/bin/datacontract")
    if not Path(path).is_file():
        pytest.fail(f"{path} is missing: run `make contract-tool` (pinned datacontract-cli)")
    return path


@dataclass(frozen=True)
class Result:
    code: int
    report: dict[str, Any]

    def failed(self) -> list[str]:
        return [
            f"{c['name']}: {c.get('reason')}"
            for c in self.report["checks"]
            if c["result"] in ("failed", "error")
        ]


def run_contract(
    tmp: Path, name: str, server: dict[str, Any], env: dict[str, str] | None = None
) -> Result:
    """`datacontract test` of the committed contract `name`, its one server replaced."""
    contract = yaml.safe_load((REPO / "contracts" / f"{name}.odcs.yaml").read_text())
    contract["servers"] = [{"server": "under-test", "format": "parquet", **server}]
    path = tmp / f"{name}-{server['type']}.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    out = tmp / f"{path.stem}.json"
    proc = subprocess.run(
        [datacontract(), "test", str(path), "--server", "under-test",
         "--output-format", "json", "--output", str(out)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip
    assert out.is_file(), proc.stdout + proc.stderr
    return Result(proc.returncode, json.loads(out.read_text()))


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("contract-day")
    roots = {"card_payments_raw": base / "raw", "fraud_reports": base / "fraud_reports"}
    code = job_main(
        ["--date", DAY, "--rows", "20000", "--dest", str(roots["card_payments_raw"]),
         "--labels-dest", str(roots["fraud_reports"]), "-q"]
    )  # fmt: skip
    assert code == 0
    return roots


@pytest.mark.parametrize("name", ["card_payments_raw", "fraud_reports"])
def test_a_local_day_meets_its_contract(tmp_path: Path, roots: dict[str, Path], name: str) -> None:
    result = run_contract(tmp_path, name, {"type": "local", "path": f"{roots[name]}/{GLOB}"})
    assert result.failed() == []
    assert result.code == 0
    passed = {c["qualityId"] for c in result.report["checks"] if c["result"] == "passed"}
    contract = yaml.safe_load((REPO / "contracts" / f"{name}.odcs.yaml").read_text())
    rules = {q["id"] for q in contract["schema"][0]["quality"] if q["type"] == "sql"}
    assert "no_column_outside_the_contract" in rules
    assert rules <= passed


def test_the_reports_point_at_payments_of_the_feed(tmp_path: Path, roots: dict[str, Path]) -> None:
    # The contract declares reports → payments; datacontract-cli checks keys within one contract,
    # so the cross-dataset key is checked here: the payments of a reported day hold every key.
    reports = pl.read_parquet(roots["fraud_reports"] / DAY_FOLDER / "*.parquet")
    reported_day = reports["payment_date"].mode().sort()[0]
    code = job_main(["--date", str(reported_day), "--rows", "20000", "--dest", str(tmp_path), "-q"])
    assert code == 0
    payments = pl.read_parquet(tmp_path / GLOB, hive_partitioning=False)
    keys = reports.filter(pl.col("payment_date") == reported_day)["transaction_id"]
    assert keys.len() > 0
    assert keys.is_in(payments["transaction_id"].implode()).all()


@pytest.fixture(scope="module")
def s3_day(roots: dict[str, Path]) -> Iterator[tuple[str, dict[str, str]]]:
    with threaded_moto() as endpoint:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket="contracts")
        root = roots["card_payments_raw"]
        for path in root.glob(GLOB):
            s3.upload_file(str(path), "contracts", f"raw/{path.relative_to(root)}")
        env = {
            "DATACONTRACT_S3_ACCESS_KEY_ID": AWS_ENV["AWS_ACCESS_KEY_ID"],
            "DATACONTRACT_S3_SECRET_ACCESS_KEY": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            "DATACONTRACT_S3_REGION": AWS_ENV["AWS_DEFAULT_REGION"],
        }
        yield endpoint, env


def test_a_day_in_s3_meets_its_contract(tmp_path: Path, s3_day: tuple[str, dict[str, str]]) -> None:
    endpoint, env = s3_day
    server = {"type": "s3", "location": f"s3://contracts/raw/{GLOB}", "endpointUrl": endpoint}
    result = run_contract(tmp_path, "card_payments_raw", server, env)
    assert result.failed() == []
    assert result.code == 0
    rows = [c for c in result.report["checks"] if c["type"] == "row_count"]
    assert [c["result"] for c in rows] == ["passed"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("extra", "The files hold no column the contract lacks"),
        ("renamed", "Check that field 'mcc' is present"),
        ("retyped", "The files hold no column the contract lacks"),
    ],
)
def test_a_schema_change_the_contract_does_not_carry_fails(
    tmp_path: Path, roots: dict[str, Path], change: str, expected: str
) -> None:
    frame = pl.read_parquet(roots["card_payments_raw"] / DAY_FOLDER / "*.parquet")
    changed = {
        "extra": frame.with_columns(pl.lit("x").alias("a_column_no_contract_has")),
        "renamed": frame.rename({"mcc": "merchant_category_code"}),
        "retyped": frame.with_columns(pl.col("amount").cast(pl.Float64)),
    }[change]
    folder = tmp_path / "raw" / DAY_FOLDER
    folder.mkdir(parents=True)
    changed.write_parquet(folder / "part-00000-of-00001.parquet")
    result = run_contract(
        tmp_path, "card_payments_raw", {"type": "local", "path": f"{tmp_path}/raw/{GLOB}"}
    )
    assert result.code != 0
    assert any(name.startswith(expected) for name in result.failed()), result.failed()


def test_duckdb_reads_the_contract_types(roots: dict[str, Path]) -> None:
    # The contract's physical types are what a DuckDB reader of the files sees.
    contract = yaml.safe_load((REPO / "contracts/card_payments_raw.odcs.yaml").read_text())
    expected = [
        (p["name"], odcs.DUCKDB_TYPES[p["physicalType"]])
        for p in contract["schema"][0]["properties"]
        if not p.get("partitioned")
    ]
    files = f"{roots['card_payments_raw']}/{DAY_FOLDER}/*.parquet"
    relation = duckdb.sql(
        f"DESCRIBE SELECT * FROM read_parquet('{files}', hive_partitioning=false)"  # noqa: S608
    )
    assert relation is not None
    described = relation.fetchall()
    assert [(row[0], row[1]) for row in described] == expected
