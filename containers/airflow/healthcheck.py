#!/usr/bin/env python3
"""Container healthchecks of the Airflow services, cheap enough to run every few seconds.

`airflow jobs check` would import all of Airflow per probe (seconds of CPU on a
2-core machine); these read the HTTP health endpoints Airflow already serves:

  airflow-healthcheck api [COMPONENT ...]  api-server answers /api/v2/monitor/health,
                                           metadatabase and each COMPONENT healthy
  airflow-healthcheck scheduler            the scheduler's own health server (port 8974)

A dag-processor or triggerer container checks `api dag_processor` / `api triggerer`:
the api-server reports their heartbeats from the metadata DB.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

API = os.environ.get("AIRFLOW_HEALTHCHECK_API", "http://127.0.0.1:8080")
SCHEDULER_PORT = os.environ.get("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", "8974")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (fixed local URL)
        body: bytes = response.read()
        return body


def check_api(components: list[str]) -> str | None:
    """Return why the api-server (and the given components) are not healthy, or None."""
    health = json.loads(fetch(f"{API}/api/v2/monitor/health"))
    for name in ["metadatabase", *components]:
        status = (health.get(name) or {}).get("status")
        if status != "healthy":
            return f"{name}: {status}"
    return None


def check_scheduler() -> str | None:
    fetch(f"http://127.0.0.1:{SCHEDULER_PORT}/health")  # raises on anything but 2xx
    return None


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"api", "scheduler"}:
        sys.stderr.write(__doc__ or "")
        return 2
    try:
        problem = check_api(argv[1:]) if argv[0] == "api" else check_scheduler()
    except OSError as error:  # connection refused, HTTP error, timeout
        problem = str(error)
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
