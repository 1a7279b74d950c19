"""The README is the front door: its schema table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from fraud_detection.cli import build_parser
from fraud_detection.schema import COLUMNS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_schema_table_lists_every_column_in_order_with_its_description() -> None:
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", README.read_text(), flags=re.M)
    table = [(name, desc) for name, desc in rows if name in COLUMNS]
    assert [name for name, _ in table] == list(COLUMNS)
    for name, desc in table:
        assert desc == COLUMNS[name][1], name


def test_every_cli_flag_is_documented() -> None:
    text = README.read_text()
    flags = {o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")}
    missing = {f for f in flags - {"--help", "--version", "--quiet"} if f not in text}
    assert not missing
