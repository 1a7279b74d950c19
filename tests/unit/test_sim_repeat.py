"""Repeat behaviour: usual online merchants and monthly subscriptions."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from .conftest import small_day


def test_online_spending_returns_to_known_merchants() -> None:
    days = pl.concat(small_day(date(2025, 3, 3) + timedelta(days=i)) for i in range(14))
    legit = days.filter(~pl.col("is_fraud"), pl.col("channel") == "online").sort("event_timestamp")
    seen = legit.with_columns(repeat=~pl.struct("customer_id", "merchant_id").is_first_distinct())
    # In the second week, most online payments go to a merchant the customer used before.
    second_week = seen.filter(pl.col("event_timestamp").dt.date() >= date(2025, 3, 10))
    assert second_week["repeat"].mean() > 0.3  # type: ignore[operator]


def test_subscriptions_renew_monthly_with_the_same_merchant_and_amount() -> None:
    def renewals(day: date) -> pl.DataFrame:
        return small_day(day).filter(
            pl.col("entry_mode") == "credential_on_file", pl.col("mcc").is_in(["4899", "5815"])
        )

    may, june = renewals(date(2025, 5, 14)), renewals(date(2025, 6, 14))
    same = may.join(june, on=["card_id", "merchant_id"], suffix="_next")
    assert same.height >= 20
    # The price stays the same (give or take charm pricing in the merchant's currency);
    # a few pairs are one-off purchases with a stored card at the same shop.
    ratio = same["amount_eur_next"] / same["amount_eur"]
    assert ((ratio - 1).abs() < 0.05).mean() > 0.8  # type: ignore[operator]
    # A different day of the month renews other subscribers.
    other = renewals(date(2025, 6, 15))
    assert other.join(june, on=["card_id", "merchant_id"]).height < 0.2 * same.height
