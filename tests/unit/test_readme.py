"""The README is a front door and docs/ holds the rest: both must stay true to the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from fraud_detection.schema import COLUMNS, REPORT_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").rglob("*.md")])
# Written by hand and owned by the front door: no measured figures in them.
HAND_WRITTEN = [README, ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "adr").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]+`")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", flags=re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", flags=re.M)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in {"L", "N"})
    return kept.replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(anchors)


def _links(path: Path) -> list[str]:
    text = _prose(path.read_text())
    return INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)


def test_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 170, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, …
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not dest.exists():
            broken.append(f"{target} (no such file: {_rel(dest)})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {_rel(dest)})")
    assert not broken, f"{_rel(doc)}: broken links: {broken}"


def test_the_readme_code_layout_names_paths_that_exist() -> None:
    text = README.read_text()
    block = re.search(r"^## Where the code is\n+```\n(.*?)^```", text, flags=re.M | re.S)
    assert block, "README.md has no code layout block under '## Where the code is'"
    missing, parent = [], ROOT
    for line in block.group(1).splitlines():
        entry = line.split()[0] if line.strip() else ""
        if not entry:
            continue
        indented = line.startswith(" ")
        names = [n.strip() for n in entry.split(",")] if not indented else [entry]
        for name in names:
            path = (parent if indented else ROOT) / name
            if not path.exists():
                missing.append(_rel(path))
        if not indented:
            parent = ROOT / entry
    assert not missing, f"the README's code layout names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_no_doc_cites_a_file_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    cited = re.findall(r"ADR-00\d\d|shared/design|shared/notes|/work/\w+", text)
    assert not cited, f"{_rel(doc)} cites what the repository does not hold: {sorted(set(cited))}"


def _make_targets() -> set[str]:
    out = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_every_make_target_named_in_the_docs_is_listed_by_make_help() -> None:
    listed = _make_targets()
    assert {"help", "run", "test"} <= listed
    named: dict[str, set[str]] = {}
    for doc in DOCS:
        text = doc.read_text()
        blocks = [m.group(0) for m in FENCE.finditer(text)]
        code_text = "\n".join([*blocks, *CODE_SPAN.findall(text)])
        for target in re.findall(r"(?<![\w-])make\s+([a-z][\w-]*)", code_text):
            named.setdefault(target, set()).add(_rel(doc))
    assert "run" in named and "test" in named, "the README must name `make run` and `make test`"
    missing = {t: sorted(docs) for t, docs in named.items() if t not in listed}
    assert not missing, f"targets named in docs but not in `make help`: {missing}"


def _schema_tables(
    doc: Path, columns: dict[str, tuple[object, str]]
) -> list[list[tuple[str, str]]]:
    """Each table of `doc` whose rows start with a column name in backticks: (name, last cell)."""
    tables: list[list[tuple[str, str]]] = []
    rows: list[tuple[str, str]] = []
    for line in [*doc.read_text().splitlines(), ""]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`(\w+)`", cells[0]) if line.startswith("|") else None
        if name and name.group(1) in columns:
            rows.append((name.group(1), cells[-1]))
        elif not line.startswith("|") and rows:
            tables.append(rows)
            rows = []
    return tables


@pytest.mark.parametrize("columns", [COLUMNS, REPORT_COLUMNS], ids=["payments", "fraud_reports"])
def test_a_doc_lists_every_column_in_order_with_its_description(
    columns: dict[str, tuple[object, str]],
) -> None:
    expected = [(name, desc) for name, (_, desc) in columns.items()]
    tables = {_rel(doc): _schema_tables(doc, columns) for doc in DOCS}
    holders = [name for name, found in tables.items() if expected in found]
    partial = {name: [len(t) for t in found] for name, found in tables.items() if found}
    assert holders, (
        "no README.md or docs/*.md table lists the columns of job/fraud_detection/schema.py "
        f"in order with their descriptions; tables found (rows each): {partial}"
    )


@cache
def _cli_flags() -> frozenset[str]:
    out = subprocess.run(
        [sys.executable, "-m", "fraud_detection", "--help"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out))


def test_every_cli_flag_is_documented() -> None:
    flags = _cli_flags() - {"--help", "--version"}
    assert "--date" in flags
    text = "\n".join(doc.read_text() for doc in DOCS)
    missing = sorted(f for f in flags if not re.search(re.escape(f) + r"(?![\w-])", text))
    assert not missing, (
        f"flags of `daily-synthetic --help` missing from README.md and docs/: {missing}"
    )


UNIT = r"(?:ms|s|sec|seconds|MB|MiB|GB|GiB|KB|rows/s|B/row|bytes per row|×|x)"


@pytest.mark.parametrize("doc", HAND_WRITTEN, ids=_rel)
def test_hand_written_docs_keep_no_measured_figures(doc: Path) -> None:
    figures = re.findall(rf"\b\d[\d,.]*\s?{UNIT}(?![\w/])", _prose(doc.read_text()))
    assert not figures, (
        f"{_rel(doc)} states figures by hand: {figures}; "
        "they belong in docs/performance.md, written by `make bench`"
    )


def test_performance_doc_is_written_by_make_bench() -> None:
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.startswith("# Performance\n")
    assert "Generated by `make bench`" in text
    assert "## Machine" in text and "## Measured" in text
