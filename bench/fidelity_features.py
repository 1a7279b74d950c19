"""What `make fidelity` computes from the feed: causal history features, rules, statistics.

Everything here reads only what a consumer of the two feeds has: the payments (the columns
of `schema.SCHEMA` present in the frame) and the labels feed (`schema.REPORT_SCHEMA`).
Nothing imports the simulator. History features use, for each payment, only the rows
before it in time, and only the fraud reports made before the payment's day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

TS = "event_timestamp"
MS_PER_HOUR = 3_600_000
REPORT_WINDOW_DAYS = 28  # fraud reported at a terminal or merchant: over the last 4 weeks
# The history features this module adds (prefix h_); the history model uses all but
# NOT_MODELLED.
HISTORY_FEATURES: tuple[str, ...] = (
    "h_card_n_before",
    "h_card_n_1h",
    "h_card_n_24h",
    "h_card_secs_since_prev",
    "h_amount_vs_card_mean",
    "h_card_declines_1h",
    "h_card_declines_10m",
    "h_new_merchant_for_card",
    "h_new_device_for_card",
    "h_device_other_customer",
    "h_km_from_usual",
    "h_terminal_reported",
    "h_merchant_reported",
)


# The card's count of earlier payments only grows over the period: in the test days it
# takes values the training days never had. Rules may read it; the model does not.
NOT_MODELLED = frozenset({"h_card_n_before"})


def past_in_window(
    group: np.ndarray, t_ms: np.ndarray, window_ms: int, weight: np.ndarray | None = None
) -> np.ndarray:
    """Per row: the rows (or their `weight`) earlier in the same group within `window_ms`.

    Rows must be sorted by (group, time). "Earlier" is earlier in that order, so a row
    never counts itself or anything after it; the window is [t - window, t].
    """
    if len(group) == 0:
        return np.zeros(0, np.int64)
    span = int(t_ms.max()) + window_ms + 1
    if int(group.max()) + 1 > np.iinfo(np.int64).max // span:
        raise ValueError("past_in_window: too many groups for the time span")
    key = group.astype(np.int64) * span + t_ms.astype(np.int64)
    first = np.searchsorted(key, key - window_ms, side="left")
    idx = np.arange(len(key))
    if weight is None:
        return idx - first
    cum = np.concatenate([[0], np.cumsum(weight.astype(np.int64))])
    return cum[idx] - cum[first]


def _haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    rad = math.pi / 180
    dlat, dlon = (lat2 - lat1) * rad, (lon2 - lon1) * rad
    a = (dlat / 2).sin() ** 2 + (lat1 * rad).cos() * (lat2 * rad).cos() * (dlon / 2).sin() ** 2
    return 2 * 6371.0 * a.sqrt().arcsin()


def _reported_before_day(
    frame: pl.DataFrame, reports: pl.DataFrame, entity: str, name: str
) -> pl.DataFrame:
    """Per row: reports on payments at the row's `entity` made in the REPORT_WINDOW_DAYS
    before the row's day (a window, not the whole past: a count that only grows would
    mean something else at the end of the period than at its start)."""
    known = (
        reports.select("transaction_id", "reported_on")
        .join(frame.select("transaction_id", entity), on="transaction_id", how="inner")
        .group_by(entity, "reported_on")
        .agg(n=pl.len())
        .sort(entity, "reported_on")
        .with_columns(cum=pl.col("n").cum_sum().over(entity))
        .sort("reported_on")
        .select(entity, "reported_on", "cum")
    )
    rows = frame.select("_i", entity, "_day").with_columns(
        _from=pl.col("_day") - pl.duration(days=REPORT_WINDOW_DAYS)
    )

    def known_before(day: str, alias: str) -> pl.DataFrame:
        return (
            rows.sort(day)
            .join_asof(
                known,
                left_on=day,
                right_on="reported_on",
                by=entity,
                strategy="backward",
                allow_exact_matches=False,  # reported on the day itself: not known yet
                check_sortedness=False,  # both sides sorted by date, so within each `by`
            )
            .select("_i", pl.col("cum").fill_null(0).alias(alias))
            .sort("_i")
        )

    upto, before_window = known_before("_day", "a"), known_before("_from", "b")
    return upto.select("_i", (upto["a"] - before_window["b"]).alias(name))


def history_features(payments: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """The payments in time order with the HISTORY_FEATURES columns added.

    `reports` is the labels feed over any span of days (rows for payments not in
    `payments` are ignored). Only reports with `reported_on` before a payment's day count.
    """
    # The days come in time order already; sorting would copy the wide frame.
    in_order = payments if payments[TS].is_sorted() else payments.sort(TS, maintain_order=True)
    frame = in_order.with_row_index("_i").with_columns(
        _day=pl.col(TS).dt.date(),
        _ms=(pl.col(TS) - pl.col(TS).min()).dt.total_milliseconds(),
        _declined=(pl.col("auth_result").cast(pl.String) == "declined")
        if "auth_result" in payments.columns
        else pl.lit(False),
    )
    # Each block works on the few columns it needs and comes back in time order (`_i`),
    # so the wide frame is never copied by a sort or a join.
    parts = [
        _card_history(frame),
        _usual_place(frame),
        _shared_devices(frame),
        _reported_before_day(frame, reports, "terminal_id", "h_terminal_reported"),
        _reported_before_day(frame, reports, "merchant_id", "h_merchant_reported"),
    ]
    added = [col for part in parts for col in part.drop("_i").iter_columns()]
    return frame.hstack(added).drop("_i", "_ms", "_declined").rename({"_day": "day"})


def _card_history(frame: pl.DataFrame) -> pl.DataFrame:
    """Velocity, declines, amount and novelty on the card: rows sorted by card, then time."""
    by_card = (
        frame.select("_i", "card_id", "merchant_id", "device_id", TS, "_ms", "_declined", "amount_eur")
        .sort("card_id", "_i")
        .with_columns(_card=pl.col("card_id").rank("dense"))
    )  # fmt: skip
    group, t_ms = by_card["_card"].to_numpy(), by_card["_ms"].to_numpy()
    declined = by_card["_declined"].to_numpy()
    n_before = pl.int_range(pl.len()).over("card_id")
    mean_before = (pl.col("amount_eur").cum_sum().over("card_id") - pl.col("amount_eur")) / n_before
    by_card = by_card.with_columns(
        h_card_n_1h=pl.Series(past_in_window(group, t_ms, MS_PER_HOUR)),
        h_card_n_24h=pl.Series(past_in_window(group, t_ms, 24 * MS_PER_HOUR)),
        h_card_declines_1h=pl.Series(past_in_window(group, t_ms, MS_PER_HOUR, declined)),
        h_card_declines_10m=pl.Series(past_in_window(group, t_ms, MS_PER_HOUR // 6, declined)),
        h_card_n_before=n_before,
        h_card_secs_since_prev=pl.col(TS).diff().over("card_id").dt.total_seconds(),
        # No earlier payment on the card: no mean to compare with.
        h_amount_vs_card_mean=pl.when(n_before > 0).then(pl.col("amount_eur") / mean_before),
        h_new_merchant_for_card=pl.int_range(pl.len()).over("card_id", "merchant_id") == 0,
        h_new_device_for_card=pl.col("device_id").is_not_null()
        & (pl.int_range(pl.len()).over("card_id", "device_id") == 0),
    )
    names = [c for c in HISTORY_FEATURES if c in by_card.columns]
    return by_card.select("_i", *names).sort("_i")


def _usual_place(frame: pl.DataFrame) -> pl.DataFrame:
    """Distance from the running mean position of the customer's earlier payments."""

    def running_mean(col: str) -> pl.Expr:
        n = pl.int_range(pl.len()).over("customer_id")
        return (pl.col(col).cast(pl.Float64).cum_sum().over("customer_id") - pl.col(col)) / n

    return (
        frame.select("_i", "customer_id", "latitude", "longitude")
        .sort("customer_id", "_i")
        .with_columns(_lat0=running_mean("latitude"), _lon0=running_mean("longitude"))
        .select(
            "_i",
            h_km_from_usual=_haversine_km(
                pl.col("_lat0"), pl.col("_lon0"), pl.col("latitude"), pl.col("longitude")
            ),
        )
        .sort("_i")
    )


def _shared_devices(frame: pl.DataFrame) -> pl.DataFrame:
    """A device seen before with another customer.

    True when the earliest sighting of the device by a customer other than this one is
    before this payment.
    """
    rows = frame.select("_i", "device_id", "customer_id", TS)
    firsts = (
        rows.filter(pl.col("device_id").is_not_null())
        .group_by("device_id", "customer_id")
        .agg(_first=pl.col(TS).min())
        .sort("device_id", "_first", "customer_id")
    )
    top2 = firsts.group_by("device_id", maintain_order=True).agg(
        _c1=pl.col("customer_id").first(),
        _t1=pl.col("_first").first(),
        _t2=pl.col("_first").get(1, null_on_oob=True),
    )
    other_first = (
        pl.when(pl.col("_c1") == pl.col("customer_id")).then(pl.col("_t2")).otherwise(pl.col("_t1"))
    )  # fmt: skip
    return (
        rows.join(top2, on="device_id", how="left")
        .select("_i", h_device_other_customer=(other_first < pl.col(TS)).fill_null(False))
        .sort("_i")
    )


# ---- rules ------------------------------------------------------------------------------

CARD_PRESENT = pl.col("channel").cast(pl.String) != "online"
ONLINE = pl.col("channel").cast(pl.String) == "online"
HIGH_AMOUNT = pl.col("amount_eur") > 3 * pl.col("r_card_median_eur")


def rule_context(frame: pl.DataFrame) -> pl.DataFrame:
    """The period-level facts the rules read, beside the history features.

    Home country: the customer's most frequent country of card-present payments over
    the period. Local hour: solar time from the longitude (UTC + lon/15 h), which a
    reader can compute without a time-zone table.
    """
    home = (
        frame.select("customer_id", "country", "channel")
        .filter(CARD_PRESENT)
        .group_by("customer_id", "country")
        .agg(n=pl.len())
        .sort("customer_id", "n", "country", descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(r_home_country=pl.col("country").first())
    )
    hours = pl.col(TS).dt.hour() + pl.col(TS).dt.minute() / 60 + pl.col("longitude") / 15
    # Joined on the one column, then set beside the wide frame: a join would copy it.
    home_of_row = (
        frame.select("customer_id")
        .with_row_index("_r")
        .join(home, on="customer_id", how="left")
        .sort("_r")["r_home_country"]
    )
    return frame.with_columns(
        r_home_country=home_of_row,
        r_card_median_eur=pl.col("amount_eur").median().over("card_id"),
        r_local_hour=(hours % 24).floor().cast(pl.Int8),
    )


@dataclass(frozen=True)
class Rule:
    name: str
    what: str
    expr: pl.Expr


# One line per rule; each expression reads the feed's columns, the history features and
# rule_context's r_ columns. A null (e.g. no home country) means "not flagged".
RULES: tuple[Rule, ...] = (
    Rule("shared_device", "device seen before with another customer", pl.col("h_device_other_customer")),
    Rule("cof_with_sca", "entry_mode = credential_on_file and sca", (pl.col("entry_mode").cast(pl.String) == "credential_on_file") & pl.col("sca")),
    Rule("card_present_far", "card-present > 100 km from home", CARD_PRESENT & (pl.col("distance_from_home_km") > 100)),
    Rule("foreign_merchant", "merchant_country ≠ home country", pl.col("merchant_country") != pl.col("r_home_country")),
    Rule("amount_3x_median", "amount > 3× the card's median", HIGH_AMOUNT),
    Rule("new_device", "new device for the card", pl.col("h_new_device_for_card")),
    Rule("velocity_3_in_1h", "≥ 3 payments on the card within 1 h", pl.col("h_card_n_1h") >= 2),
    Rule("decline_then_approve", "approved ≤ 10 min after a decline on the card", (pl.col("auth_result").cast(pl.String) == "approved") & (pl.col("h_card_declines_10m") >= 1)),
    Rule("night_online", "online at local hour 0–5", ONLINE & (pl.col("r_local_hour") < 6)),
    Rule("new_merchant_high", "new merchant for the card and amount > 3× median", pl.col("h_new_merchant_for_card") & HIGH_AMOUNT),
    Rule("new_device_high", "new device and amount > 3× median", pl.col("h_new_device_for_card") & HIGH_AMOUNT),
    Rule("new_device_foreign", "new device and merchant abroad", pl.col("h_new_device_for_card") & (pl.col("merchant_country") != pl.col("r_home_country"))),
    Rule("terminal_reported", "terminal with fraud reported in the 4 weeks before the day", pl.col("h_terminal_reported") >= 1),
    Rule("merchant_reported_3", "merchant with ≥ 3 frauds reported in the 4 weeks before the day", pl.col("h_merchant_reported") >= 3),
    Rule("tiny_online", "online, under 2 EUR (card testing)", ONLINE & (pl.col("amount_eur") < 2)),
    Rule("magstripe", "entry_mode = magstripe", pl.col("entry_mode").cast(pl.String) == "magstripe"),
    Rule("burst_new_merchants", "new merchant, ≥ 2 earlier payments within 1 h", pl.col("h_new_merchant_for_card") & (pl.col("h_card_n_1h") >= 2)),
    Rule("dormant_wakes", "first payment on the card in 14 days, amount > 3× median", (pl.col("h_card_secs_since_prev") > 14 * 86_400) & HIGH_AMOUNT),
    Rule("far_from_usual", "> 500 km from the customer's running usual place", pl.col("h_km_from_usual") > 500),
    Rule("testing_codes", "declined as an invalid number or expired card (`14`, `54`)", pl.col("response_code").cast(pl.String).is_in(["14", "54"])),
    Rule("blocked_codes", "declined on a blocked card (`41`, `43`, `62`)", pl.col("response_code").cast(pl.String).is_in(["41", "43", "62"])),
)  # fmt: skip

# The bar for a shortcut: a rule this good would not exist on real data.
TOO_GOOD = ((0.5, 0.2), (0.9, 0.02))  # (precision at least, recall at least)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    flagged: int
    frauds_flagged: int
    precision: float | None
    recall: float | None
    note: str = ""

    @property
    def too_good(self) -> bool:
        if self.precision is None or self.recall is None:
            return False
        return any(self.precision >= p and self.recall >= r for p, r in TOO_GOOD)


def evaluate_rules(frame: pl.DataFrame, rules: Sequence[Rule] = RULES) -> list[RuleResult]:
    """Precision and recall of each rule over the whole frame (label: is_fraud)."""
    frauds = int(frame["is_fraud"].sum())
    out = []
    for rule in rules:
        try:
            hit = frame.select(rule.expr.fill_null(False).alias("hit"), "is_fraud")
        except pl.exceptions.ColumnNotFoundError as e:
            out.append(RuleResult(rule, 0, 0, None, None, f"skipped: {str(e).splitlines()[0]}"))
            continue
        flagged = int(hit["hit"].sum())
        tp = int((hit["hit"] & hit["is_fraud"]).sum())
        out.append(
            RuleResult(
                rule,
                flagged,
                tp,
                tp / flagged if flagged else None,
                tp / frauds if frauds else None,
            )
        )
    return out


# ---- data statistics ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    name: str
    value: float | None
    fmt: str  # format spec of the value, e.g. ".3f", ",.0f", ".2%"
    target: str = ""  # the "Done when", in words
    check: Callable[[float], bool] | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or self.check is None:
            return None
        return self.check(self.value)

    @property
    def shown(self) -> str:
        return "–" if self.value is None else format(self.value, self.fmt)


def _num(value: object) -> float | None:
    """A polars scalar (mean, median, sum) as a float; None when empty."""
    return None if value is None else float(value)  # type: ignore[arg-type]


def _needs(frame: pl.DataFrame, columns: Sequence[str]) -> str:
    missing = [c for c in columns if c not in frame.columns]
    return f"skipped: the feed has no {', '.join(missing)}" if missing else ""


def _fraud_reports(payments: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """Reports joined to their payments (only payments in the frame)."""
    cols = [c for c in ("transaction_id", "card_id", "is_fraud", "auth_result", TS) if c in payments.columns]  # fmt: skip
    return reports.join(payments.select(cols), on="transaction_id", how="inner")


def data_statistics(payments: pl.DataFrame, reports: pl.DataFrame) -> list[Stat]:
    """The issue's "Done when" figures about the data, measured from the two feeds.

    `payments` carries the history features (h_new_merchant_for_card); `reports` is the
    labels feed covering the period and the days after it.
    """
    stats: list[Stat] = []
    # Only the columns read below: a filter of the wide frame would copy all of it.
    wanted = ["customer_id", "card_id", "device_id", "amount_eur", "channel", "h_new_merchant_for_card", TS]  # fmt: skip
    legit = payments.select([c for c in wanted if c in payments.columns]).filter(~payments["is_fraud"])  # fmt: skip
    fraud = payments.filter(pl.col("is_fraud"))

    # Devices of legit payments seen with two or more customers (over legit payments).
    if note := _needs(payments, ["device_id"]):
        stats.append(Stat("legit devices seen with ≥ 2 customers", None, ".2%", note=note))
    else:
        per_device = (
            legit.filter(pl.col("device_id").is_not_null())
            .group_by("device_id")
            .agg(n=pl.col("customer_id").n_unique())
        )
        share = _num((per_device["n"] >= 2).mean())
        stats.append(
            Stat(
                "legit devices seen with ≥ 2 customers",
                share,
                ".2%",
                "≥ 0.5 %",
                lambda v: v >= 0.005,
            )
        )

    # Episodes: frauds per fraud-affected card and their span.
    per_card = fraud.group_by("card_id").agg(
        n=pl.len(), span_h=(pl.col(TS).max() - pl.col(TS).min()).dt.total_seconds() / 3600
    )
    stats += [
        Stat("fraud-affected cards", float(per_card.height), ",.0f"),
        Stat(
            "frauds per fraud-affected card (median)",
            _num(per_card["n"].median()),
            ".1f",
            "≥ 3",
            lambda v: v >= 3,
        ),
        Stat(
            "first → last fraud on a card, hours (median)",
            _num(per_card["span_h"].median()),
            ".2f",
            "≥ 1 h",
            lambda v: v >= 1,
        ),
    ]

    # Fraud tickets against legit ones, within each channel (no target: a shortcut to watch).
    by_channel = (
        payments.group_by(pl.col("channel").cast(pl.String))
        .agg(
            ratio=pl.col("amount_eur").filter(pl.col("is_fraud")).median()
            / pl.col("amount_eur").filter(~pl.col("is_fraud")).median()
        )
        .sort("channel")
    )
    stats += [
        Stat(f"median fraud / legit amount, {channel}", _num(ratio), ".2f")
        for channel, ratio in by_channel.iter_rows()
    ]

    joined = _fraud_reports(payments, reports)
    # Frauds approved more than a day after the card's first fraud report (a dispute of a
    # genuine payment does not stop a card).
    if note := _needs(payments, ["auth_result"]):
        stats.append(Stat("frauds approved > 1 day after the card's first report", None, ",.0f", note=note))  # fmt: skip
    else:
        first = (
            joined.filter(pl.col("is_fraud"))
            .group_by("card_id")
            .agg(first_report=pl.col("reported_on").min())
        )
        after = (
            payments.select("card_id", TS, "auth_result", "is_fraud").join(
                first, on="card_id", how="inner"
            )
        ).filter(
            pl.col(TS).dt.date() > pl.col("first_report") + pl.duration(days=1),
            pl.col("auth_result").cast(pl.String) == "approved",
        )
        n_fraud = float(after["is_fraud"].sum())
        stats += [
            Stat(
                "frauds approved > 1 day after the card's first report",
                n_fraud,
                ",.0f",
                "0",
                lambda v: v == 0,
            ),
            Stat(
                "legit payments approved > 1 day after the card's first report",
                float(after.height - n_fraud),
                ",.0f",
            ),
        ]

    # Reporting: multi-fraud cards reported on one date.
    reported = (
        joined.filter(pl.col("is_fraud"))
        .group_by("card_id")
        .agg(n=pl.len(), dates=pl.col("reported_on").n_unique())
    )
    multi = reported.filter(pl.col("n") >= 2)
    stats.append(
        Stat(
            "multi-fraud cards whose frauds were reported on one date",
            _num((multi["dates"] == 1).mean()),
            ".1%",
            "≥ 70 %",
            lambda v: v >= 0.7,
        )
    )

    if note := _needs(reports, ["report_type"]):
        stats.append(Stat("chargebacks", None, ",.0f", note=note))
    else:
        cb = joined.filter(pl.col("report_type") == "chargeback")
        stats.append(Stat("chargebacks on the period's payments", float(cb.height), ",.0f"))
        if note := _needs(payments, ["auth_result"]):
            stats.append(Stat("chargebacks on declined payments", None, ",.0f", note=note))
        else:
            declined = cb.filter(pl.col("auth_result").cast(pl.String) == "declined").height
            stats.append(Stat("chargebacks on declined payments", float(declined), ",.0f", "0", lambda v: v == 0))  # fmt: skip
        delays = cb["delay_days"]
        stats += [
            Stat(
                "chargeback delay, days (median)",
                _num(delays.median()),
                ".1f",
                "15–60",
                lambda v: 15 <= v <= 60,
            ),
            Stat(
                "chargebacks after 60 days",
                _num((delays > 60).mean()),
                ".1%",
                "≥ 10 %",
                lambda v: v >= 0.10,
            ),
        ]

    # Legit behaviour: merchant loyalty and bursts.
    if "h_new_merchant_for_card" in legit.columns and legit.height:
        repeat = _num((~legit["h_new_merchant_for_card"]).mean())
        stats.append(Stat("legit payments to a merchant the card used before", repeat, ".1%", "35–80 %", lambda v: 0.35 <= v <= 0.80))  # fmt: skip
    stats.append(
        Stat(
            "legit card-days with ≥ 2 payments / Poisson",
            _burst_ratio(legit),
            ".2f",
            "≥ 1.2×",
            lambda v: v >= 1.2,
        )
    )
    return stats


def _burst_ratio(legit: pl.DataFrame) -> float | None:
    """Observed card-days with ≥ 2 payments over the count a Poisson process would give.

    Per card, λ = its payments / days in the period; the expected card-days with N ≥ 2
    are days × (1 − e^−λ − λe^−λ). Summed over the cards that pay at all.
    """
    if legit.height == 0:
        return None
    days = legit.select(pl.col(TS).dt.date().n_unique()).item()
    per_day = legit.group_by("card_id", pl.col(TS).dt.date().alias("d")).agg(n=pl.len())
    observed = per_day.filter(pl.col("n") >= 2).height
    lam = per_day.group_by("card_id").agg(lam=pl.col("n").sum() / days)["lam"].to_numpy()
    expected = float(days * (1 - np.exp(-lam) - lam * np.exp(-lam)).sum())
    return observed / expected if expected > 0 else None


def fraud_share(frame: pl.DataFrame) -> tuple[float, float]:
    """(share of payments that are fraud, share of amount_eur that is fraud)."""
    row = frame.select(
        count=pl.col("is_fraud").mean(),
        value=pl.col("amount_eur").filter(pl.col("is_fraud")).sum() / pl.col("amount_eur").sum(),
    ).row(0)
    return _num(row[0]) or 0.0, _num(row[1]) or 0.0
