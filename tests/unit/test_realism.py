"""Is the feed realistic enough to learn from, without giving the label away?

The multi-week checks follow the Fraud Detection Handbook's baseline protocol:
per-card windows (velocity, spending level) and per-terminal fraud risk known only
after a feedback delay, a model trained on one week and tested on a later one.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from fraud_detection.simulator import generate_dataset

from .conftest import DAY, SMALL, small_day


def test_activity_is_skewed(day_frame: pl.DataFrame) -> None:
    per_customer = day_frame.group_by("customer_id").len()["len"].sort(descending=True)
    top_decile = per_customer.head(len(per_customer) // 10).sum()
    assert top_decile > 0.25 * day_frame.height


def test_nights_are_quiet_and_weekends_start_late() -> None:
    weekday = small_day(DAY, rows=40_000)  # Thursday
    sunday = small_day(DAY + timedelta(days=3), rows=40_000)

    def hours(df: pl.DataFrame) -> pl.Series:
        return df["event_timestamp"].dt.hour().value_counts().sort("event_timestamp")["count"]

    wd, su = hours(weekday), hours(sunday)
    assert wd[2] * 8 < wd[11]
    assert wd[6] > su[6] * 1.3  # Monday–Friday mornings are busier


def test_amounts_are_heavy_tailed_and_depend_on_category(day_frame: pl.DataFrame) -> None:
    legit = day_frame.filter(~pl.col("is_fraud"))
    eur = legit["amount_eur"]
    assert eur.quantile(0.99) > 8 * eur.median()  # type: ignore[operator]
    medians = legit.group_by("mcc").agg(pl.col("amount_eur").median()).sort("mcc")
    by_mcc = dict(medians.iter_rows())
    assert by_mcc["5944"] > 10 * by_mcc["4111"]  # jewellery vs commuter fares


def test_each_scenario_has_its_signature(day_frame: pl.DataFrame) -> None:
    df = day_frame
    testing = df.filter(pl.col("fraud_scenario") == "card_testing")
    assert testing["channel"].eq("online").all()
    assert testing["amount_eur"].median() < 5  # type: ignore[operator]
    bursts = testing.group_by("card_id").len()["len"]
    assert bursts.median() >= 3  # type: ignore[operator]
    takeover = df.filter(pl.col("fraud_scenario") == "account_takeover")
    assert takeover["channel"].eq("online").all()
    # Counterfeits of skimmed cards: mostly card-present, far from the victim's home.
    counterfeit = df.filter(pl.col("fraud_scenario") == "compromised_terminal")
    assert counterfeit["channel"].ne("online").mean() > 0.5  # type: ignore[operator]
    assert counterfeit["distance_from_home_km"].median() > 50  # type: ignore[operator]


# --- several weeks, Handbook-style ----------------------------------------------

ROWS = 25_000
SEED = 11
DELAY_DAYS = 7  # the terminal's fraud history is known only after this feedback delay
# Early: train week 3 of June (two weeks of history before it), test the week after.
# Late: the same week-day span in late July, after the 1 July takeover variant.
EARLY = date(2025, 6, 1)
LATE = date(2025, 7, 7)
TRAIN = (date(2025, 6, 15), date(2025, 6, 21))
NEXT = (date(2025, 6, 22), date(2025, 6, 28))
LATER = (date(2025, 7, 21), date(2025, 7, 27))


def _days(first: date, count: int) -> pl.DataFrame:
    return pl.concat(
        generate_dataset(first + timedelta(days=i), ROWS, seed=SEED, population=SMALL).collect()
        for i in range(count)
    )


def handbook_features(df: pl.DataFrame) -> pl.DataFrame:
    """The row's own columns, plus per-card windows and the terminal's delayed fraud risk."""
    ts = "event_timestamp"
    df = df.sort(ts).with_columns(
        day=pl.col(ts).dt.date(),
        hour=pl.col(ts).dt.hour(),
        log_amount=pl.col("amount_eur").log1p(),
        online=(pl.col("channel") == "online").cast(pl.Int8),
        swipe=(pl.col("channel") == "swipe").cast(pl.Int8),
        chip=(pl.col("channel") == "chip").cast(pl.Int8),
        mcc_code=pl.col("mcc").cast(pl.Int32),
        credit=(pl.col("card_type") == "credit").cast(pl.Int8),
        cross_border=(pl.col("country") != pl.col("merchant_country")).cast(pl.Int8),
        one=pl.lit(1.0),
    )
    card = pl.col("one")
    df = df.with_columns(
        card_n_1h=card.rolling_sum_by(ts, window_size="1h").over("card_id"),
        card_n_1d=card.rolling_sum_by(ts, window_size="1d").over("card_id"),
        card_n_7d=card.rolling_sum_by(ts, window_size="7d").over("card_id"),
        card_mean_7d=pl.col("amount_eur").rolling_mean_by(ts, window_size="7d").over("card_id"),
        card_mean_1d=pl.col("amount_eur").rolling_mean_by(ts, window_size="1d").over("card_id"),
        since_prev_s=pl.col(ts).diff().dt.total_seconds().over("card_id").fill_null(10**7),
        new_merchant=pl.col("merchant_id").is_first_distinct().over("card_id").cast(pl.Int8),
        card_dist_7d=pl.col("distance_from_home_km")
        .rolling_mean_by(ts, window_size="7d")
        .over("card_id"),
    ).with_columns(
        amount_vs_card=pl.col("amount_eur") / pl.col("card_mean_7d"),
        dist_vs_card=pl.col("distance_from_home_km") - pl.col("card_dist_7d"),
    )
    # Terminal risk: frauds among its payments in a 7-day window ending DELAY days ago.
    daily = (
        df.group_by("terminal_id", "day")
        .agg(n=pl.len(), f=pl.col("is_fraud").sum())
        .sort("day")
        .with_columns(
            tn=pl.col("n").rolling_sum_by("day", window_size="7d").over("terminal_id"),
            tf=pl.col("f").rolling_sum_by("day", window_size="7d").over("terminal_id"),
            known_from=pl.col("day") + pl.duration(days=DELAY_DAYS),
        )
        .select("terminal_id", "known_from", "tn", "tf")
        .sort("known_from")
    )
    df = (
        df.sort("day")
        .join_asof(daily, left_on="day", right_on="known_from", by="terminal_id")
        .with_columns(
            terminal_n_7d=pl.col("tn").fill_null(0),
            terminal_risk_7d=(pl.col("tf") / pl.col("tn")).fill_null(0.0),
        )
    )
    return df


RAW = ["hour", "log_amount", "online", "swipe", "chip", "mcc_code", "credit",
       "cross_border", "distance_from_home_km"]  # fmt: skip
HISTORY = [*RAW, "card_n_1h", "card_n_1d", "card_n_7d", "card_mean_7d", "card_mean_1d",
                 "since_prev_s", "new_merchant", "amount_vs_card", "dist_vs_card",
                 "terminal_n_7d", "terminal_risk_7d"]  # fmt: skip


def _week(df: pl.DataFrame, span: tuple[date, date]) -> pl.DataFrame:
    return df.filter(pl.col("day").is_between(*span))


@pytest.fixture(scope="module")
def weeks() -> dict[str, pl.DataFrame]:
    early = handbook_features(_days(EARLY, (NEXT[1] - EARLY).days + 1))
    late = handbook_features(_days(LATE, (LATER[1] - LATE).days + 1))
    return {"train": _week(early, TRAIN), "next": _week(early, NEXT), "later": _week(late, LATER)}


def _fit_score(
    train: pl.DataFrame, tests: list[pl.DataFrame], features: list[str]
) -> list[tuple[float, float]]:
    model = HistGradientBoostingClassifier(max_iter=120, learning_rate=0.1, random_state=0)
    model.fit(train.select(features).to_numpy(), train["is_fraud"].to_numpy())
    out = []
    for test in tests:
        y = test["is_fraud"].to_numpy()
        p = model.predict_proba(test.select(features).to_numpy())[:, 1]
        out.append((float(roc_auc_score(y, p)), float(average_precision_score(y, p))))
    return out


def test_a_model_trained_on_one_week_finds_fraud_the_next(weeks: dict[str, pl.DataFrame]) -> None:
    [(auc, ap)] = _fit_score(weeks["train"], [weeks["next"]], HISTORY)
    base = weeks["next"]["is_fraud"].mean()
    assert auc > 0.85  # learnable...
    assert ap > 20 * base  # type: ignore[operator]  # ...far above the base rate
    assert auc < 0.995  # ...yet not trivial


def test_drift_is_real_a_late_week_scores_lower(weeks: dict[str, pl.DataFrame]) -> None:
    (auc_next, ap_next), (auc_later, ap_later) = _fit_score(
        weeks["train"], [weeks["next"], weeks["later"]], HISTORY
    )
    assert auc_later < auc_next - 0.015, (auc_next, auc_later)
    assert ap_later < 0.8 * ap_next, (ap_next, ap_later)


def test_history_carries_more_signal_than_the_row_alone(weeks: dict[str, pl.DataFrame]) -> None:
    [(auc_raw, ap_raw)] = _fit_score(weeks["train"], [weeks["next"]], RAW)
    [(auc_hist, ap_hist)] = _fit_score(weeks["train"], [weeks["next"]], HISTORY)
    assert auc_hist > auc_raw + 0.02, (auc_raw, auc_hist)
    assert ap_hist > 1.25 * ap_raw, (ap_raw, ap_hist)


def single_column_auc(train: pl.DataFrame, test: pl.DataFrame, col: str) -> float:
    y = test["is_fraud"].to_numpy()
    dtype = train.schema[col]
    if dtype.is_numeric():
        auc = roc_auc_score(y, test[col].to_numpy())
        return float(max(auc, 1 - auc))
    key = pl.col(col).dt.hour() if dtype == pl.Datetime("us", "UTC") else pl.col(col)
    # The best any single column can do: its per-value fraud rate learned on the train week.
    rate = train.group_by(key.alias("k")).agg(pl.col("is_fraud").mean().alias("r"))
    scored = test.select(key.alias("k")).join(rate, on="k", how="left", maintain_order="left")
    return float(roc_auc_score(y, scored["r"].fill_null(train["is_fraud"].mean()).to_numpy()))


def _feed_columns(df: pl.DataFrame) -> list[str]:
    feed = generate_dataset(DAY, 1_000, seed=SEED, population=SMALL).collect_schema()
    return [c for c in feed if c in df.columns and c not in ("is_fraud", "fraud_scenario")]


def test_no_single_column_gives_the_label_away(weeks: dict[str, pl.DataFrame]) -> None:
    train, test = weeks["train"], weeks["next"]
    aucs = {c: single_column_auc(train, test, c) for c in _feed_columns(train)}
    assert max(aucs.values()) < 0.9, aucs
    assert aucs["transaction_id"] == pytest.approx(0.5, abs=0.02)  # ids carry no signal
    assert np.isfinite(list(aucs.values())).all()


def test_within_online_payments_no_single_column_scores_above_085(
    weeks: dict[str, pl.DataFrame],
) -> None:
    online = pl.col("channel") == "online"
    train, test = weeks["train"].filter(online), weeks["next"].filter(online)
    aucs = {c: single_column_auc(train, test, c) for c in _feed_columns(train)}
    assert max(aucs.values()) <= 0.85, aucs
    # Legit online payments are geolocated near home, not exactly at it.
    legit = test.filter(~pl.col("is_fraud"))
    assert (legit["distance_from_home_km"] == 0).mean() < 0.01  # type: ignore[operator]
