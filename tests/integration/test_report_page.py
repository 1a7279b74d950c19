"""The daily report page of generated days, rendered in headless Chromium.

The page must load without a console error, draw every chart with a non-zero size, and open
offline. A screenshot is kept in build/test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from fraud_detection.cli import main as job_main
from fraud_detection.report.cli import main as report_main
from tests.support.browser import load, screenshot
from tests.support.s3 import s3_client, threaded_moto
from tests.support.session import AWS_ENV

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "build" / "test-artifacts"
DAY = date(2025, 6, 12)
DAYS = 8  # the day and a week before it: enough for every chart, a short drift baseline


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("report-days")
    for back in range(DAYS):
        day = DAY - timedelta(days=back)
        code = job_main(
            ["--date", str(day), "--rows", "8000", "--dest", str(base / "raw"),
             "--labels-dest", str(base / "fraud_reports"), "-q"]
        )  # fmt: skip
        assert code == 0
    return base


@pytest.fixture(scope="module")
def page(published: Path) -> Path:
    assert report_main(["--date", str(DAY), "--source", str(published / "raw"), "-q"]) == 0
    path = published / "reports" / f"{DAY}.html"
    assert path.is_file()
    return path


def test_the_page_is_written_beside_the_datasets(published: Path, page: Path) -> None:
    assert page.parent == published / "reports"
    assert not list((published / "raw").rglob("*.html"))
    assert not list((published / "fraud_reports").rglob("*.html"))


def test_the_page_opens_offline(page: Path) -> None:
    html = page.read_text()
    # Nothing fetched: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


def test_the_page_loads_without_console_errors_and_draws_every_chart(page: Path) -> None:
    loaded = load(page)
    assert loaded.console == []
    charts = int(re.search(r'data-charts="(\d+)"', loaded.dom).group(1))  # type: ignore[union-attr]
    drawn = int(re.search(r'data-charts-drawn="(\d+)"', loaded.dom).group(1))  # type: ignore[union-attr]
    assert charts == 8
    assert drawn == charts
    level = re.search(r'data-level="(\w+)"', loaded.dom).group(1)  # type: ignore[union-attr]
    # A week of history is short of the four-week baseline: the page says so.
    assert level == "amber"
    assert "drift baseline has 7 of 28 previous days" in loaded.dom
    screenshot(page, ARTIFACTS / "daily-report.png")


def test_the_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!doctype html><html><body><script>"
        "window.addEventListener('load', function () { notDefined(); });"
        "</script></body></html>"
    )
    assert any("notDefined is not defined" in line for line in load(broken).console)


def test_a_day_not_published_is_a_one_line_error(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report_main(["--date", "2025-07-01", "--source", str(published / "raw"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 6
    assert len(err) == 1 and err[0].startswith("daily-report: error: ")
    assert "2025-07-01 is not published" in err[0]


def test_a_dest_inside_a_dataset_root_is_refused(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = published / "raw" / "reports"
    code = report_main(
        ["--date", str(DAY), "--source", str(published / "raw"), "--dest", str(dest)]
    )
    assert code == 2
    assert "is inside the dataset root" in capsys.readouterr().err
    assert not dest.exists()


def test_a_day_in_s3_gets_its_page_in_s3(
    published: Path, page: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The same days over HTTP: read through their manifests, the page written beside them.
    with threaded_moto() as endpoint:
        for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(name, value)
        s3 = s3_client(endpoint)
        # Each feed at a bucket's root, as the manifests' keys were written locally.
        for bucket, root in (("raw", "raw"), ("labels", "fraud_reports")):
            s3.create_bucket(Bucket=bucket)
            # The whole table: day folders, the Delta log and the manifests.
            for path in (published / root).rglob("*"):
                if path.is_file():
                    s3.upload_file(str(path), bucket, str(path.relative_to(published / root)))
        s3.create_bucket(Bucket="reports")
        code = report_main(
            ["--date", str(DAY), "--source", "s3://raw", "--labels", "s3://labels",
             "--dest", "s3://reports/daily", "-q"]
        )  # fmt: skip
        assert code == 0
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="reports")["Contents"]]
        assert keys == [f"daily/{DAY}.html"]
        from_s3 = tmp_path / "page.html"
        s3.download_file("reports", keys[0], str(from_s3))
    local = page.read_text()
    # The same days make the same page, wherever they are read from (but for the paths).
    assert re.sub(r"(file|s3)://\S+", "", from_s3.read_text()) == re.sub(
        r"(file|s3)://\S+", "", local
    )
