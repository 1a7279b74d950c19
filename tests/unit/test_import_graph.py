"""The package's imports go one way: cli → pipeline → (simulator, validation, sinks) → base.

Read from the source with `ast`, so a new import anywhere in a function body counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "job" / "fraud_detection"
# Modules every layer may use: plain data, errors, settings, argument parsing, scratch space.
BASE = {
    "fraud_detection",
    "errors",
    "arguments",
    "schema",
    "settings",
    "manifest",
    "tempfiles",
    "deadline",
    "memory",
}
# component -> the components it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "__main__": {"cli"},
    "cli": {"pipeline", "fraud_detection", "arguments", "errors", "settings", "manifest"},
    "pipeline": {"simulator", "validation", "sinks"} | BASE,
    "validation": BASE,
    "sinks": BASE,
    "simulator": {"schema"},
    # The features step: its own cli → pipeline → (compute, source), writing through sinks.
    "features": {"sinks"} | BASE,
    # The ODCS contracts: generated from the schema, the checks and the features step.
    "contracts": {"validation", "features.compute", "features.pipeline", "sinks.layout"} | BASE,
    # The daily report page: reads published days (sinks, the features' manifest reader).
    "report": {"sinks", "features.source", "features.compute", "validation"} | BASE,
    **{name: BASE for name in BASE},
}


def component(module: str) -> str:
    """`fraud_detection.sinks.s3` → `sinks`; the package root → `fraud_detection`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if is_module(f"{node.module}.{a.name}")
            }
    return {m for m in found if m == "fraud_detection" or m.startswith("fraud_detection.")}


def allowed(importer: str, imported: str) -> bool:
    source, target = component(importer), component(imported)
    if source == target and source != "fraud_detection":
        return True
    rules = ALLOWED[source]
    dotted = ".".join(imported.split(".")[1:3])
    return target in rules or dotted in rules


def test_every_import_goes_one_way() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 10
    wrong = [
        f"{module_name(path)} imports {imported}"
        for path in modules
        for imported in sorted(imports_of(path))
        if not allowed(module_name(path), imported)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("fraud_detection.sinks.parquet", "fraud_detection.simulator.dataset"),
        ("fraud_detection.sinks.parquet", "fraud_detection.validation"),
        ("fraud_detection.simulator.frame", "fraud_detection.errors"),
        ("fraud_detection.cli", "fraud_detection.sinks.destination"),
        ("fraud_detection.validation", "fraud_detection.simulator.dataset"),
        ("fraud_detection.sinks.s3", "fraud_detection.pipeline"),
        ("fraud_detection.schema", "fraud_detection.cli"),
        ("fraud_detection.arguments", "fraud_detection.cli"),
        ("fraud_detection.arguments", "fraud_detection.features.cli"),
        ("fraud_detection.arguments", "fraud_detection.sinks.destination"),
    ],
)
def test_the_check_catches_a_wrong_way(importer: str, imported: str) -> None:
    assert not allowed(importer, imported)


def test_the_argument_helpers_use_the_standard_library_and_errors_only() -> None:
    # The job's --help imports them: a third-party import here would slow it down.
    path = PACKAGE / "arguments.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    packages = {name.split(".")[0] for name in names}
    assert packages - set(sys.stdlib_module_names) == {"fraud_detection"}
    assert imports_of(path) == {"fraud_detection.errors"}


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from fraud_detection.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = {'polars', 'numpy', 'dataframely', 'boto3', 'pyarrow', 'deltalake', 'arro3'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_local_run_loads_no_s3_library(tmp_path: Path) -> None:
    # A local run has no S3 client to build: boto3 and botocore cost start-up for nothing.
    code = (
        "import sys\n"
        "from fraud_detection.cli import main\n"
        f"code = main(['--date', '2025-06-12', '--rows', '1000', '--dest', {str(tmp_path)!r}, '-q'])\n"
        "print(code, sorted({'boto3', 'botocore', 's3transfer'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def test_the_job_runs_without_pyarrow(tmp_path: Path) -> None:
    # The image has no pyarrow (polars writes the files, delta-rs commits them); the dev
    # venv has it for the tests and readers. Blocking its import here catches a use (e.g.
    # polars' to_arrow).
    code = (
        "import sys\n"
        "sys.modules['pyarrow'] = None\n"
        "from fraud_detection.cli import main\n"
        f"code = main(['--date', '2025-06-12', '--rows', '1000', '--dest', "
        f"{str(tmp_path / 'raw')!r}, '--labels-dest', {str(tmp_path / 'labels')!r}, '-q'])\n"
        "print(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr
