"""The committed ODCS contracts are what schema.py and validation.py generate, and valid ODCS."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]
from open_data_contract_standard.model import OpenDataContractStandard

from fraud_detection.contracts import odcs
from fraud_detection.contracts.__main__ import main, rendered
from fraud_detection.features.compute import output_columns
from fraud_detection.manifest import PARTITION_COLUMNS
from fraud_detection.schema import COLUMNS, REPORT_COLUMNS
from fraud_detection.validation import PaymentsSchema, ReportsSchema

FOLDER = Path(__file__).resolve().parents[2] / "contracts"


def _schema() -> dict[str, Any]:
    text = importlib.resources.files("open_data_contract_standard").joinpath("schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text())
    return loaded


def _columns(contract: dict[str, Any]) -> list[str]:
    return [p["name"] for p in contract["schema"][0]["properties"] if not p.get("partitioned")]


def test_the_committed_contracts_are_the_generated_ones() -> None:
    # A schema change that the contracts do not carry fails here: run `make contracts`.
    committed = {path.name: path.read_text() for path in FOLDER.glob("*.odcs.yaml")}
    assert committed == rendered()


def test_check_mode_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert main([str(tmp_path), "--check"]) == 0
    stale = tmp_path / "fraud_reports.odcs.yaml"
    stale.write_text(stale.read_text().replace("delay_days", "delay"))
    assert main([str(tmp_path), "--check"]) == 1
    assert "fraud_reports.odcs.yaml out of date; run `make contracts`" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(odcs.contracts()))
def test_each_contract_is_valid_odcs_v3(name: str) -> None:
    document = yaml.safe_load((FOLDER / f"{name}.odcs.yaml").read_text())
    schema = _schema()
    errors = [
        e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(document)
    ]
    assert errors == []
    assert OpenDataContractStandard.model_validate(document).apiVersion == odcs.API_VERSION


def test_the_columns_follow_schema_py_and_the_features_step() -> None:
    contracts = odcs.contracts()
    assert _columns(contracts["card_payments_raw"]) == list(COLUMNS)
    assert _columns(contracts["fraud_reports"]) == list(REPORT_COLUMNS)
    assert _columns(contracts["card_payments_features"]) == output_columns()
    for contract in contracts.values():
        partitions = [
            p["name"] for p in contract["schema"][0]["properties"] if p.get("partitioned")
        ]
        assert partitions == list(PARTITION_COLUMNS)


def test_every_dataframely_rule_has_its_sql_and_nothing_else() -> None:
    rules = odcs.dataframely_rules(PaymentsSchema) + odcs.dataframely_rules(ReportsSchema)
    assert sorted(rules) == sorted(odcs.RULE_SQL) == sorted(odcs.RULE_DESCRIPTIONS)


def test_lengths_bounds_and_nullability_come_from_dataframely() -> None:
    properties = {p["name"]: p for p in odcs.payments_contract()["schema"][0]["properties"]}
    for name, column in PaymentsSchema.columns().items():
        assert properties[name]["required"] is not column.nullable
        options = properties[name].get("logicalTypeOptions", {})
        assert options.get("minLength") == getattr(column, "min_length", None)
        assert options.get("minimum") == getattr(column, "min", None)


def test_a_delta_table_is_the_format_line_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(odcs, "FORMAT", "delta")
    servers = odcs.payments_contract()["servers"]
    assert {s["format"] for s in servers} == {"delta"}
    assert [s.get("path") or s.get("location") for s in servers] == [
        odcs.LOCAL_ROOTS["card_payments_raw"],
        odcs.S3_ROOTS["card_payments_raw"],
    ]


def test_an_unknown_feature_gets_no_made_up_description() -> None:
    with pytest.raises(ValueError, match="no description for the feature card_velocity"):
        odcs.feature_description("card_velocity")
