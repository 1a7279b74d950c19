"""The feed's columns: one place for names, types and documentation."""

from __future__ import annotations

import polars as pl

UTC_MICROS = pl.Datetime("us", "UTC")

# name -> (dtype, description). The README's schema table is generated from this.
COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "transaction_id": (pl.String(), "Unique payment key: `YYYYMMDD-` + 20 digits; never repeats on another day."),
    "event_timestamp": (UTC_MICROS, "When the payment was authorised (UTC, µs), inside the partition's day."),
    "customer_id": (pl.String(), "Cardholder key (`C` + 20 digits), stable across days for a seed."),
    "card_id": (pl.String(), "Card key (`K` + 20 digits); a customer holds 1–3 cards."),
    "merchant_id": (pl.String(), "Merchant key (`M` + 20 digits)."),
    "terminal_id": (pl.String(), "Terminal key (`T` + 20 digits); online payments use the merchant's virtual terminal."),
    "merchant_name": (pl.String(), "Merchant trading name."),
    "mcc": (pl.String(), "ISO 18245 merchant category code, 4 digits."),
    "merchant_category": (pl.String(), "Name of the MCC."),
    "merchant_country": (pl.String(), "ISO 3166-1 alpha-2 country where the merchant is registered."),
    "amount": (pl.Int64(), "Amount in minor units (cents) of `currency`; always > 0."),
    "currency": (pl.String(), "ISO 4217 code of the merchant's currency."),
    "amount_eur": (pl.Float64(), "The amount converted to euros at a fixed rate, for comparing across currencies."),
    "channel": (pl.String(), "`chip`, `contactless`, `swipe` (card-present) or `online` (card-not-present)."),
    "card_brand": (pl.String(), "`visa`, `mastercard` or `amex`."),
    "card_type": (pl.String(), "`debit`, `credit` or `prepaid`."),
    "latitude": (pl.Float64(), "Where the payment was made: the terminal for card-present, the buyer's geolocation online."),
    "longitude": (pl.Float64(), "See `latitude`."),
    "city": (pl.String(), "City of `latitude`/`longitude`."),
    "country": (pl.String(), "ISO 3166-1 alpha-2 country of `latitude`/`longitude`."),
    "distance_from_home_km": (pl.Float64(), "Great-circle distance from the cardholder's home to where the payment was made."),
    "transaction_type": (pl.String(), "`purchase` or `refund` (money back to the card; `amount` is still positive)."),
    "entry_mode": (pl.String(), "How the card reached the terminal: `chip`, `contactless`, `mobile_wallet`, `magstripe`, `ecommerce` or `credential_on_file`."),
    "sca": (pl.Boolean(), "Strong customer authentication was performed: 3-D Secure online, PIN for chip."),
    "device_id": (pl.String(), "Token of the device behind an online payment (`D` + 20 digits); null for card-present."),
    "auth_result": (pl.String(), "`approved` or `declined`; declined attempts stay in the feed, as in an authorisation log."),
    "is_fraud": (pl.Boolean(), "The label (ground truth, known at once; the `fraud_reports` feed says when it became known)."),
    "fraud_scenario": (pl.String(), "Set exactly when `is_fraud`: `compromised_terminal`, `compromised_card`, `card_testing` or `account_takeover`."),
}  # fmt: skip

SCHEMA = pl.Schema({name: dtype for name, (dtype, _) in COLUMNS.items()})
NULLABLE = frozenset({"fraud_scenario", "device_id"})


# The labels feed: fraud reports as they arrive (chargebacks, cardholder reports), one
# partition per day holding the reports made that day. name -> (dtype, description).
REPORT_COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "transaction_id": (pl.String(), "The reported payment (joins `transaction_id` of the payments feed)."),
    "payment_date": (pl.Date(), "The day of the reported payment: the payments partition that holds it."),
    "reported_on": (pl.Date(), "The day the report was made: this partition's day."),
    "delay_days": (pl.Int32(), "`reported_on` − `payment_date`, 1 to 120 days."),
    "report_type": (pl.String(), "`chargeback` (the issuer disputes it) or `cardholder_report` (the customer calls in)."),
}  # fmt: skip

REPORT_SCHEMA = pl.Schema({name: dtype for name, (dtype, _) in REPORT_COLUMNS.items()})
REPORT_TYPES = ("chargeback", "cardholder_report")
