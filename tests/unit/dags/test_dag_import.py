"""DAG import and integrity tests (in the style of Astronomer's Airflow 3 project template).

No database, no Docker, no network: DagBag only parses the files in dags/.
"""

from __future__ import annotations

import ast
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DAGS = ROOT / "dags"
MIN_RETRIES = 2


@pytest.fixture(scope="module")
def dag_bag() -> Any:
    # The DAG processor's own kind of bag: it puts the dags folder on sys.path.
    from airflow.dag_processing.dagbag import BundleDagBag

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("network access while parsing DAGs")

    # Nothing may go over the network at parse time: any attempt becomes an import error.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        started = time.perf_counter()
        bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
        print(f"\nDagBag parse of {DAGS.name}/: {time.perf_counter() - started:.2f} s")
    return bag


def _dag_ids() -> list[str]:
    # Parametrising needs the ids before fixtures exist; the file names are enough.
    return ["daily_synthetic", "daily_synthetic_freshness", "payment_features"]


def test_no_import_errors(dag_bag: Any) -> None:
    assert dag_bag.import_errors == {}


def test_expected_dags_are_found(dag_bag: Any) -> None:
    # A new DAG file must be added to _dag_ids() so that the integrity tests cover it.
    assert sorted(dag_bag.dags) == sorted(_dag_ids())


@pytest.mark.parametrize("dag_id", _dag_ids())
def test_dag_has_tags(dag_bag: Any, dag_id: str) -> None:
    assert dag_bag.dags[dag_id].tags, f"{dag_id} has no tags"


@pytest.mark.parametrize("dag_id", _dag_ids())
def test_dag_retries(dag_bag: Any, dag_id: str) -> None:
    dag = dag_bag.dags[dag_id]
    assert dag.default_args.get("retries", 0) >= MIN_RETRIES, f"{dag_id}: default retries"
    for task in dag.tasks:
        assert task.retries >= MIN_RETRIES, f"{dag_id}.{task.task_id} retries {task.retries}"


@pytest.mark.parametrize("dag_id", _dag_ids())
def test_dag_has_docs(dag_bag: Any, dag_id: str) -> None:
    assert dag_bag.dags[dag_id].doc_md


# The dags folder's own modules and packages (Airflow puts it on sys.path) are allowed too.
LOCAL_MODULES = {p.stem for p in DAGS.glob("*.py")} | {
    p.parent.name for p in DAGS.glob("*/__init__.py")
}
ALLOWED_TOP_LEVEL = {"airflow", "__future__"} | set(sys.stdlib_module_names) | LOCAL_MODULES


@pytest.mark.parametrize("path", sorted(DAGS.rglob("*.py")), ids=lambda p: str(p.relative_to(DAGS)))
def test_dag_files_import_only_airflow_and_stdlib(path: Path) -> None:
    """Parsing must stay cheap: job dependencies (polars, boto3, ...) belong in the image."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = set()
    for node in tree.body:  # module level only: imports inside functions run at task time
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported - ALLOWED_TOP_LEVEL == set()


def test_helper_package_is_not_parsed_as_dag_files(dag_bag: Any) -> None:
    # dags/.airflowignore: the package is imported by the DAG, not scanned for DAGs.
    assert not [f for f in dag_bag.dagbag_stats if "daily_synthetic_job" in f.file]
