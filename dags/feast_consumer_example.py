"""
### feast_consumer_example

An example downstream DAG (e.g. a Feast materialisation) scheduled on the asset
`daily_synthetic_raw`: it runs after each day that `daily_synthetic` published and reads
the triggering asset event, whose `extra` is the day's manifest (`uri`, `rows`, `date`, ...).

It refers to the feed by name only (`Asset.ref(name=...)`), as a DAG in another repository
would, so it does not import the producer's code.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset, dag, task
from airflow.sdk.exceptions import AirflowSkipException

RAW_FEED_NAME = "daily_synthetic_raw"

log = logging.getLogger(__name__)


def summarize_events(events: Mapping[Any, Iterable[Any]]) -> list[dict[str, Any]]:
    """One line per triggering event of the raw feed: date, uri, rows (from the manifest)."""
    days = []
    for asset, asset_events in events.items():
        if getattr(asset, "name", None) != RAW_FEED_NAME:
            continue
        for event in asset_events:
            extra = dict(event.extra or {})
            day = {"date": extra.get("date"), "uri": extra.get("uri"), "rows": extra.get("rows")}
            log.info("new raw day %s: %s rows at %s", day["date"], day["rows"], day["uri"])
            days.append(day)
    return days


@dag(
    dag_id="feast_consumer_example",
    schedule=[Asset.ref(name=RAW_FEED_NAME)],
    start_date=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    catchup=False,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["data-gen", "example"],
    doc_md=__doc__,
)
def feast_consumer_example() -> None:
    @task
    def read_raw_feed_event(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        days = summarize_events(triggering_asset_events or {})
        if not days:
            raise AirflowSkipException("no daily_synthetic_raw event triggered this run")
        return days

    read_raw_feed_event()


feast_consumer_example()
