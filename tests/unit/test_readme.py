"""The README is the front door: its schema table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fraud_detection.cli import build_parser
from fraud_detection.schema import COLUMNS, REPORT_COLUMNS

README = Path(__file__).resolve().parents[2] / "README.md"
DATA_DOC = README.parent / "docs" / "data.md"  # the data model lives in docs/


def _column_table(section: str) -> list[tuple[str, str]]:
    text = DATA_DOC.read_text().split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", text, flags=re.M)


@pytest.mark.parametrize(
    ("section", "columns"), [("Payments: columns", COLUMNS), ("Labels", REPORT_COLUMNS)]
)
def test_schema_tables_list_every_column_in_order_with_its_description(
    section: str, columns: dict[str, tuple[object, str]]
) -> None:
    table = _column_table(section)
    assert [name for name, _ in table] == list(columns)
    for name, desc in table:
        assert desc == columns[name][1], name


def test_every_cli_flag_is_documented() -> None:
    text = README.read_text()
    flags = {o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")}
    missing = {f for f in flags - {"--help", "--version", "--quiet"} if f not in text}
    assert not missing
