"""The feed's columns: one place for names, types and documentation."""

from __future__ import annotations

import polars as pl

UTC_MICROS = pl.Datetime("us", "UTC")

# The values each coded column may take. In memory these columns are polars Enums of
# exactly these values (the simulator indexes them in this order, and the type itself
# refuses anything else); in the files they are plain strings, dictionary-encoded.
CHANNELS: tuple[str, ...] = ("chip", "contactless", "online", "swipe")
# How the card details reached the terminal (finer than the channel).
ENTRY_MODES: tuple[str, ...] = (
    "chip", "contactless", "mobile_wallet", "magstripe", "ecommerce", "credential_on_file",
)  # fmt: skip
AUTH_RESULTS: tuple[str, ...] = ("approved", "declined")
TRANSACTION_TYPES: tuple[str, ...] = ("purchase", "refund")
CARD_BRANDS: tuple[str, ...] = ("visa", "mastercard", "amex")
CARD_TYPES: tuple[str, ...] = ("debit", "credit", "prepaid")
FRAUD_SCENARIOS: tuple[str, ...] = (
    "compromised_terminal", "compromised_card", "card_testing", "account_takeover", "lost_stolen",
)  # fmt: skip
# ISO 8583 authorisation response codes the feed uses ("00" approves; the rest decline).
RESPONSE_CODES: tuple[str, ...] = (
    "00",  # approved
    "05",  # do not honour: the issuer's generic refusal
    "14",  # invalid card number
    "41",  # lost card, pick up
    "43",  # stolen card, pick up
    "51",  # insufficient funds
    "54",  # expired card
    "55",  # incorrect PIN
    "57",  # transaction not permitted to the cardholder
    "59",  # suspected fraud (the issuer's risk rules)
    "61",  # exceeds the amount limit
    "62",  # restricted card (blocked)
    "65",  # exceeds the frequency limit
    "91",  # issuer unavailable
)

# Keys: a kind letter + Crockford base-32 characters (simulator/keys.py makes them).
# At most 12 bytes, so DuckDB stores them inline (no pointer chase in joins).
KEY_PREFIX = {
    "transaction_id": "P",
    "customer_id": "C",
    "card_id": "K",
    "merchant_id": "M",
    "terminal_id": "T",
}
ENTITY_KEY_CHARS = 8  # 40 bits: a trillion keys per kind
# 50 bits: 4 characters for the day (20 bits, salted), then 6 for the row (30 bits, a
# bijection salted per day). A day's keys share their first 5 characters, so the
# column compresses to the row's 30 random bits (about 4 bytes instead of 6).
TRANSACTION_KEY_CHARS = 10
TRANSACTION_DAY_BITS, TRANSACTION_ROW_BITS = 20, 30
# Device tokens are hashes, not indices: 55 bits (11 characters) keep them at 12 bytes,
# and ~1.5 M devices collide with odds of about 1 in 30,000.
DEVICE_KEY_PREFIX, DEVICE_KEY_CHARS = "D", 11
KEY_LENGTH = {
    name: len(prefix) + (TRANSACTION_KEY_CHARS if name == "transaction_id" else ENTITY_KEY_CHARS)
    for name, prefix in KEY_PREFIX.items()
}

# name -> (dtype, description). The README's schema table is generated from this.
COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "transaction_id": (pl.String(), "Unique payment key: `P` + 10 base-32 characters, 4 for the day and 6 for the payment; never repeats on another day."),
    "event_timestamp": (UTC_MICROS, "When the payment was authorised (UTC, µs), inside the partition's day."),
    "customer_id": (pl.String(), "Cardholder key (`C` + 8 base-32 characters), stable across days for a seed."),
    "card_id": (pl.String(), "Card key (`K` + 8 base-32 characters): one plastic. A customer holds 1–3 cards; a card expired or blocked is replaced by a new key for the same customer."),
    "card_bin": (pl.String(), "The card's BIN (first 6 digits of the card number): brand, type and issuing programme."),
    "card_issued_on": (pl.Date(), "When this card was issued: at the start of its validity, or on reissue after a block."),
    "card_expiry": (pl.Date(), "First day of the card's expiry month (the card is valid until that month ends)."),
    "account_opened_on": (pl.Date(), "When the customer's account was opened (their tenure)."),
    "credit_limit_eur": (pl.Int32(), "The credit card's limit in euros; null for debit and prepaid cards."),
    "merchant_id": (pl.String(), "Merchant key (`M` + 8 base-32 characters)."),
    "terminal_id": (pl.String(), "Terminal key (`T` + 8 base-32 characters); online payments use the merchant's virtual terminal."),
    "merchant_name": (pl.String(), "Merchant trading name."),
    "mcc": (pl.String(), "ISO 18245 merchant category code, 4 digits."),
    "merchant_category": (pl.String(), "Name of the MCC."),
    "merchant_country": (pl.String(), "ISO 3166-1 alpha-2 country where the merchant is registered."),
    "amount": (pl.Int64(), "Amount in minor units (cents) of `currency`; always > 0."),
    "currency": (pl.String(), "ISO 4217 code of the merchant's currency."),
    "amount_eur": (pl.Float64(), "The amount converted to euros at a fixed rate, for comparing across currencies."),
    "channel": (pl.Enum(CHANNELS), "`chip`, `contactless`, `swipe` (card-present) or `online` (card-not-present)."),
    "card_brand": (pl.Enum(CARD_BRANDS), "`visa`, `mastercard` or `amex`."),
    "card_type": (pl.Enum(CARD_TYPES), "`debit`, `credit` or `prepaid`."),
    "latitude": (pl.Float32(), "Where the payment was made (degrees, to 1e-5 ≈ 1 m): the terminal for card-present, the buyer's geolocation online."),
    "longitude": (pl.Float32(), "See `latitude`."),
    "city": (pl.String(), "City of `latitude`/`longitude`."),
    "country": (pl.String(), "ISO 3166-1 alpha-2 country of `latitude`/`longitude`."),
    "distance_from_home_km": (pl.Float64(), "Great-circle distance (km, to 0.1 km) from the cardholder's home to where the payment was made."),
    "transaction_type": (pl.Enum(TRANSACTION_TYPES), "`purchase` or `refund` (money back to the card; `amount` is still positive)."),
    "entry_mode": (pl.Enum(ENTRY_MODES), "How the card reached the terminal: `chip`, `contactless`, `mobile_wallet`, `magstripe`, `ecommerce` or `credential_on_file`."),
    "sca": (pl.Boolean(), "Strong customer authentication was performed: 3-D Secure online, PIN for chip."),
    "device_id": (pl.String(), "Token of the device behind an online payment (`D` + 11 base-32 characters); null for card-present."),
    "auth_result": (pl.Enum(AUTH_RESULTS), "`approved` or `declined`; declined attempts stay in the feed, as in an authorisation log."),
    "response_code": (pl.Enum(RESPONSE_CODES), "ISO 8583 response code: `00` exactly when approved; why a payment was declined (`51` funds, `54` expired, `41`/`43`/`62` blocked card, `59` suspected fraud, …)."),
    "is_fraud": (pl.Boolean(), "The label (ground truth, known at once; the `fraud_reports` feed says when it became known)."),
    "fraud_scenario": (pl.Enum(FRAUD_SCENARIOS), "Set exactly when `is_fraud`: `compromised_terminal` (a skimmed card cloned), `compromised_card` (card details stolen, used online), `card_testing`, `account_takeover` or `lost_stolen` (the physical card)."),
}  # fmt: skip

SCHEMA = pl.Schema({name: dtype for name, (dtype, _) in COLUMNS.items()})
# What readers of the files see: Enums are stored, and read back, as strings.
FILE_SCHEMA = pl.Schema(
    {name: pl.String() if isinstance(dtype, pl.Enum) else dtype for name, dtype in SCHEMA.items()}
)
NULLABLE = frozenset({"fraud_scenario", "device_id", "credit_limit_eur"})


# The labels feed: fraud reports as they arrive (chargebacks, cardholder reports), one
# partition per day holding the reports made that day. name -> (dtype, description).
REPORT_COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "transaction_id": (pl.String(), "The reported payment (joins `transaction_id` of the payments feed)."),
    "payment_date": (pl.Date(), "The day of the reported payment: the payments partition that holds it."),
    "reported_on": (pl.Date(), "The day the report was made: this partition's day."),
    "delay_days": (pl.Int32(), "`reported_on` − `payment_date`, 1 to 120 days."),
    "report_type": (pl.String(), "`chargeback` (an approved payment disputed, money moved back) or `fraud_report` (a declined attempt of a fraud case: no money moved)."),
    "case_id": (pl.String(), "The case (`X` + 10 base-32 characters): every payment of one fraud case is reported on the same day; a friendly-fraud dispute (a genuine payment the cardholder disputes) is a case of its own, and looks like fraud here, as it does to an issuer."),
    "reason_code": (pl.String(), "The card network's chargeback reason code (Visa `10.4`, Mastercard `4837`, Amex `F29`, …); null for `fraud_report`."),
}  # fmt: skip

REPORT_SCHEMA = pl.Schema({name: dtype for name, (dtype, _) in REPORT_COLUMNS.items()})
REPORT_TYPES = ("chargeback", "fraud_report")
CASE_KEY_PREFIX, CASE_KEY_CHARS = "X", 10
