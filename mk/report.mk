# The daily report page (daily-report) and the headless Chromium its tests load it in.

.PHONY: report chromium report-test

report: job-venv ## the day's HTML report from DEST (and LABELS_DEST), beside it in data/reports
	$(JOB_BIN)/daily-report --date $(DATE) --source $(DEST) --labels $(LABELS_DEST)

# Debian's chromium package: the tests drive it headless (no browser download, no registry).
chromium: ## install Debian's chromium for the page tests, if missing
	@command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium; }

report-test: dev chromium ## the report's tests; the screenshot lands in build/test-artifacts/
	$(BIN)/pytest tests/unit/test_report.py tests/integration/test_report_page.py

# `make test` loads the page in the browser with the rest.
test: chromium
