"""`make fidelity`: how hard the feed is for a fraud model, measured as a fraud team would.

Generates a few weeks of payments in this process with the package's public API
(`generate_dataset`) and the labels feed for the same days plus the reporting horizon
after them (`reports_frame`), then:

1. trains a raw-columns model and a history model with each learner (scikit-learn's
   HistGradientBoostingClassifier, LightGBM as a fraud team would tune it) on the first
   ~70 % of the days and scores the rest;
2. measures simple fraud rules (precision, recall) over the whole period;
3. computes the data statistics of issue 17's "Done when" list from the two feeds;
4. measures the realistic profile's fraud share by count and by value.

Writes docs/fidelity.md, each figure beside its target. Nothing here asserts a score.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.fidelity_features import (
    HISTORY_FEATURES,
    NOT_MODELLED,
    REPORT_WINDOW_DAYS,
    TS,
    RuleResult,
    Stat,
    data_statistics,
    evaluate_rules,
    fraud_share,
    history_features,
    rule_context,
)
from bench.run import machine_facts, markdown_table
from fraud_detection import GENERATOR_VERSION
from fraud_detection.schema import KEY_PREFIX, SCHEMA
from fraud_detection.simulator import DaySpec, PopulationSizes, generate_dataset
from fraud_detection.simulator.dataset import reports_frame
from fraud_detection.simulator.profiles import PROFILES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "fidelity.md"
LABEL_HORIZON_DAYS = 120  # the labels feed's longest delay: every report of the period
TRAIN_SHARE = 0.7
WARMUP_DAYS = 7  # history features are young at first: training starts on the 8th day
MAX_ITER = 100  # HGB's boosting rounds (no early stopping: see "How it is measured")
# LightGBM as a fraud team would run it: more, smaller steps and row/column sampling.
LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 500, "learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 100,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
}  # fmt: skip
LEARNERS = ("hgb", "lgbm")
MAX_CATEGORIES = 254  # HistGradientBoosting's limit per categorical feature (max_bins - 1)
# Not features of the raw model: keys (identities, not behaviour), the labels, free text
# whose content the MCC and coordinates already carry, and the time itself (replaced by
# hour and weekday).
NOT_RAW = {*KEY_PREFIX, "device_id", "is_fraud", "fraud_scenario", "merchant_name", "city", TS}
PROFILE = "training"  # the fraud team's profile; the realistic one is for calibration only
QUICK_POPULATION = PopulationSizes(customers=5_000, merchants=500)


@dataclass(frozen=True)
class ModelResult:
    name: str
    learner: str
    features: int
    train_rows: int
    train_frauds: int
    test_rows: int
    test_frauds: int
    auc: float
    ap: float
    seconds: float
    gain: tuple[tuple[str, float], ...]  # LightGBM's share of the total gain, by feature


def raw_features(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[bool], list[str]]:
    """The payment's own columns as a numeric matrix, and which ones are categorical.

    Columns come from schema.SCHEMA (whatever the frame holds), minus NOT_RAW: numbers and
    booleans as they are, dates as days before the payment, Enums and strings as category
    codes (a column with more than MAX_CATEGORIES values is left out, with a note).
    """
    exprs: list[pl.Expr] = [
        pl.col(TS).dt.hour().cast(pl.Float64).alias("hour_utc"),
        pl.col(TS).dt.weekday().cast(pl.Float64).alias("weekday"),
    ]
    categorical = [False, False]
    notes: list[str] = []
    for name, dtype in SCHEMA.items():
        if name in NOT_RAW or name not in frame.columns:
            continue
        col = pl.col(name)
        if dtype.is_numeric() or dtype == pl.Boolean:
            exprs.append(col.cast(pl.Float64))
            categorical.append(False)
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            exprs.append((pl.col(TS).dt.date() - col.cast(pl.Date)).dt.total_days().cast(pl.Float64).alias(name))  # fmt: skip
            categorical.append(False)
        elif isinstance(dtype, pl.Enum) or dtype == pl.String:
            if frame[name].n_unique() > MAX_CATEGORIES:
                notes.append(f"`{name}` left out: more than {MAX_CATEGORIES} values")
                continue
            # Codes from the sorted values: the same value gets the same code in both splits.
            exprs.append((col.cast(pl.String).rank("dense") - 1).cast(pl.Float64).alias(name))
            categorical.append(True)
        else:
            notes.append(f"`{name}` left out: type {dtype}")
    return frame.select(exprs), categorical, notes


def fit_and_score(
    name: str,
    x: pl.DataFrame,
    categorical: list[bool],
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    legit_cap: int,
    seed: int,
    max_iter: int,
    learner: str,
) -> ModelResult:
    """Train on the `train` rows (legit downsampled to `legit_cap`, weighted back), test on the rest."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score

    started = time.perf_counter()
    g = np.random.default_rng(seed)
    train_idx = np.flatnonzero(train)
    legit_idx = train_idx[~y[train_idx]]
    fraud_idx = train_idx[y[train_idx]]
    keep = min(legit_cap, len(legit_idx))
    sampled = np.sort(np.concatenate([fraud_idx, g.choice(legit_idx, keep, replace=False)]))
    weight = np.where(y[sampled], 1.0, len(legit_idx) / max(keep, 1))
    x_train = x[sampled].to_numpy().astype(np.float64)
    gain: tuple[tuple[str, float], ...] = ()
    model: Any
    if learner == "hgb":
        model = HistGradientBoostingClassifier(
            categorical_features=np.array(categorical),
            max_iter=max_iter,
            learning_rate=0.1,
            early_stopping=False,  # on the weighted loss it stops after a dozen rounds
            random_state=seed,
        )
        model.fit(x_train, y[sampled], sample_weight=weight)
    else:
        import lightgbm

        params = {
            **LGBM_PARAMS,
            "n_estimators": min(int(LGBM_PARAMS["n_estimators"]), 5 * max_iter),
        }
        model = lightgbm.LGBMClassifier(
            objective="binary", **params, n_jobs=2, random_state=seed, verbose=-1
        )
        model.fit(
            x_train, y[sampled], sample_weight=weight, feature_name=x.columns,
            categorical_feature=[i for i, c in enumerate(categorical) if c],
        )  # fmt: skip
        total = model.booster_.feature_importance(importance_type="gain")
        share = total / (float(total.sum()) or 1.0)
        gain = tuple((x.columns[i], float(share[i])) for i in np.argsort(-share))
    test_idx = np.flatnonzero(test)
    x_test = x[test_idx].to_numpy().astype(np.float64)
    # LightGBM's booster scores the plain matrix itself (its scikit-learn wrapper would
    # warn that the matrix has no column names).
    score = (
        model.predict_proba(x_test)[:, 1] if learner == "hgb" else model.booster_.predict(x_test)
    )
    y_test = y[test_idx]
    result = ModelResult(
        name, learner, x.width, len(sampled), len(fraud_idx), len(test_idx), int(y_test.sum()),
        float(roc_auc_score(y_test, score)), float(average_precision_score(y_test, score)),
        time.perf_counter() - started, gain,
    )  # fmt: skip
    print(f"  … {name} [{learner}]: AUC {result.auc:.3f}, AP {result.ap:.3f}", file=sys.stderr)
    return result


def generate(
    start: date, days: int, rows: int, seed: int, profile: str, population: PopulationSizes,
    columns: Sequence[str] | None = None, log: bool = True,
) -> pl.DataFrame:  # fmt: skip
    frames = []
    for i in range(days):
        day = start + timedelta(days=i)
        lazy = generate_dataset(
            day, rows, seed=seed, population=population, profile=profile,
            fraud_rate=PROFILES[profile].fraud_rate,  # as the CLI does: the profile's own rate
        )  # fmt: skip
        frames.append((lazy.select(columns) if columns else lazy).collect())
        if log:
            print(f"  … {profile} {day} ({i + 1}/{days})", file=sys.stderr, flush=True)
    return pl.concat(frames)


def labels(
    start: date, days: int, after: int, rows: int, seed: int, population: PopulationSizes
) -> pl.DataFrame:
    """The labels feed's days start+1 … start+days-1+after (no report is made on a payment's own day)."""
    frames = []
    total = days - 1 + after
    for i in range(1, total + 1):
        day = start + timedelta(days=i)
        spec = DaySpec(day, rows, seed, PROFILES[PROFILE].fraud_rate, population, PROFILE)
        frames.append(reports_frame(spec))
        if i % 10 == 0 or i == total:
            print(f"  … labels {i}/{total}", file=sys.stderr, flush=True)
    return pl.concat(frames)


def pct(v: float) -> str:
    return f"{v:.4%}"


def yes_no(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__)
    parser.add_argument("--days", type=int, default=35, help="days of payments (default 35)")
    parser.add_argument("--rows", type=int, default=300_000, help="rows per day (default 300,000)")  # fmt: skip
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 5, 1), help="first day (default 2025-05-01)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--realistic-days", type=int, default=14, help="days of the realistic-profile run (default 14)")  # fmt: skip
    parser.add_argument("--label-days-after", type=int, default=LABEL_HORIZON_DAYS, help=f"labels feed days after the period (default {LABEL_HORIZON_DAYS}: every report)")  # fmt: skip
    parser.add_argument("--train-legit", type=int, default=500_000, help="legit training rows kept (all fraud is kept; default 500,000)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny run (3 days x 5,000 rows, a small world, 1 label day after) to check the report; writes nothing unless --out is given")  # fmt: skip
    parser.add_argument("--learners", default=",".join(LEARNERS), help=f"comma-separated learners of {', '.join(LEARNERS)} (default all)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help=f"where to write the report (default {DEFAULT_OUT.relative_to(REPO)})")  # fmt: skip
    args = parser.parse_args(argv)
    population = PopulationSizes()
    if args.quick:
        args.days, args.rows, args.realistic_days, args.label_days_after = 3, 5_000, 2, 1
        population = QUICK_POPULATION
    out: Path | None = args.out or (None if args.quick else DEFAULT_OUT)
    learners = [w.strip() for w in args.learners.split(",") if w.strip()]
    if not learners or set(learners) - set(LEARNERS):
        parser.error(f"--learners takes some of {', '.join(LEARNERS)}")
    if args.days < 2:
        parser.error("--days must be at least 2 (a training and a test split)")
    command = "python -m bench.fidelity " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []

    def lap(what: str, since: float) -> float:
        now = time.perf_counter()
        timings.append((what, now - since))
        return now

    t = time.perf_counter()
    payments = generate(args.start, args.days, args.rows, args.seed, PROFILE, population)
    t = lap(f"generate {args.days} days x {args.rows:,} rows (training)", t)
    reports = labels(args.start, args.days, args.label_days_after, args.rows, args.seed, population)
    t = lap(f"labels feed, {args.days - 1 + args.label_days_after} days", t)
    frame = rule_context(history_features(payments, reports))
    del payments
    t = lap("history features and rule context", t)

    # Models: a time split by day. Quick runs only check that the report is whole.
    max_iter = 10 if args.quick else MAX_ITER
    days = sorted(frame["day"].unique().to_list())
    cut_at = max(1, min(len(days) - 1, round(TRAIN_SHARE * len(days))))
    cut, warm = days[cut_at], days[min(WARMUP_DAYS, cut_at - 1)]
    # The first days train nothing: there, every device and merchant is new to the card.
    train = ((frame["day"] >= warm) & (frame["day"] < cut)).to_numpy()
    test = (frame["day"] >= cut).to_numpy()
    y = frame["is_fraud"].to_numpy()
    raw, raw_cat, notes = raw_features(frame)
    hist = frame.select(
        [pl.col(c).cast(pl.Float64) for c in HISTORY_FEATURES if c not in NOT_MODELLED]
    )
    both = pl.concat([raw, hist], how="horizontal")
    models = [
        fit_and_score(name, x, cat, y, train, test, args.train_legit, args.seed, max_iter, learner)
        for learner in learners
        for name, x, cat in (
            ("raw columns", raw, raw_cat),
            ("raw + history", both, raw_cat + [False] * hist.width),
        )
    ]
    t = lap(f"{len(models)} models", t)
    rules = evaluate_rules(frame)
    stats = data_statistics(frame, reports)
    train_share = fraud_share(frame)
    del frame
    t = lap("rules and statistics", t)
    realistic = generate(
        args.start, args.realistic_days, args.rows, args.seed, "realistic", population,
        columns=["is_fraud", "amount_eur"], log=False,
    )  # fmt: skip
    real_share = fraud_share(realistic)
    n_real_fraud = int(realistic["is_fraud"].sum())
    lap(f"realistic profile, {args.realistic_days} days", t)
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    report = render(
        args, command, population, warm, cut, models, notes, rules, stats, train_share, real_share,
        n_real_fraud, timings, wall, peak_mib,
    )  # fmt: skip
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        print(f"fidelity: wrote {out}", file=sys.stderr)
    return 0


def render(
    args: argparse.Namespace, command: str, population: PopulationSizes, warm: date, cut: date,
    models: list[ModelResult], notes: list[str], rules: list[RuleResult], stats: list[Stat],
    train_share: tuple[float, float], real_share: tuple[float, float], n_real_fraud: int,
    timings: list[tuple[str, float]], wall: float, peak_mib: float,
) -> str:  # fmt: skip
    end = args.start + timedelta(days=args.days - 1)
    facts = [*machine_facts(), ("generator_version", GENERATOR_VERSION)]
    run = [
        ("command", f"`{command.strip()}`"),
        (
            "period",
            f"{args.start} … {end} ({args.days} days x {args.rows:,} rows, seed {args.seed}, profile training)",
        ),
        ("world", f"{population.customers:,} customers, {population.merchants:,} merchants"),
        ("time split", f"train: {warm} … {cut - timedelta(days=1)}; test: {cut} … {end}"),
        (
            "labels feed",
            f"reports made {args.start + timedelta(days=1)} … {end + timedelta(days=args.label_days_after)}",
        ),
        ("wall time", f"{wall:,.0f} s"),
        ("peak RSS", f"{peak_mib:,.0f} MiB"),
    ]
    auc_targets = {"raw columns": ("AUC ≤ 0.90", lambda m: m.auc <= 0.90),
                   "raw + history": ("AUC 0.80–0.95, AP ≤ 0.50", lambda m: 0.80 <= m.auc <= 0.95 and m.ap <= 0.50)}  # fmt: skip
    model_rows = [
        [m.name, m.learner, str(m.features), f"{m.train_rows:,}", f"{m.train_frauds:,}", f"{m.test_rows:,}",
         f"{m.test_frauds:,}", f"{m.auc:.3f}", f"{m.ap:.3f}", auc_targets[m.name][0],
         yes_no(auc_targets[m.name][1](m))]
        for m in models
    ]  # fmt: skip
    rule_rows = [
        [f"`{r.rule.name}`", r.rule.what, f"{r.flagged:,}", f"{r.frauds_flagged:,}",
         "–" if r.precision is None else f"{r.precision:.3f}",
         "–" if r.recall is None else f"{r.recall:.3f}",
         "**yes**" if r.too_good else ("–" if r.note else "no"), r.note]
        for r in rules
    ]  # fmt: skip
    too_good = [r.rule.name for r in rules if r.too_good]
    stat_rows = [
        [
            s.name,
            s.shown,
            s.target or "–",
            yes_no(s.met),
            s.note or ("no rows to measure" if s.value is None else ""),
        ]
        for s in stats
    ]
    real_rows = [
        ["training: fraud share by count", pct(train_share[0]), "–", "–", "the enrichment"],
        ["training: fraud share by value (amount_eur)", pct(train_share[1]), "–", "–", ""],
        ["realistic: fraud share by count", pct(real_share[0]), "0.01–0.03 %",
         yes_no(0.0001 <= real_share[0] <= 0.0003), f"{n_real_fraud:,} frauds in {args.realistic_days} days"],
        ["realistic: fraud share by value (amount_eur)", pct(real_share[1]), "0.02–0.06 %",
         yes_no(0.0002 <= real_share[1] <= 0.0006), ""],
        ["training / realistic, by count", f"{train_share[0] / real_share[0]:,.0f}×" if real_share[0] else "–", "–", "–", "how much the training profile enriches fraud"],
    ]  # fmt: skip
    checks = [auc_targets[m.name][1](m) for m in models] + [not too_good]
    checks += [s.met for s in stats if s.met is not None]
    checks += [0.0001 <= real_share[0] <= 0.0003, 0.0002 <= real_share[1] <= 0.0006]
    lines = [
        "# Fidelity",
        "",
        "Generated by `make fidelity` (`python -m bench.fidelity`); do not edit by hand, re-run it. "
        "How hard the feed is for a fraud model, measured from the two feeds as a fraud team "
        'would, each figure beside the target of issue 17\'s "Done when" list.',
        "",
        f"**{sum(checks)} of {len(checks)} targets met.**",
        "",
        "## Run",
        "",
        markdown_table(["fact", "value"], [*run, *facts], right=2),
        "",
        "## Models",
        "",
        markdown_table(
            [
                "model",
                "learner",
                "features",
                "train rows",
                "train frauds",
                "test rows",
                "test frauds",
                "AUC",
                "AP",
                "target",
                "met",
            ],
            model_rows,
        ),
        "",
        *([f"- {n}" for n in notes] + [""] if notes else []),
        *[
            line
            for m in models
            if m.gain
            for line in (
                f"Gain importance, {m.name} [{m.learner}], top 10 (share of the total gain):",
                "",
                markdown_table(["feature", "gain"], [[f, f"{g:.1%}"] for f, g in m.gain[:10]]),
                "",
            )
        ],
        "## Rules",
        "",
        "Over the whole period. A rule is too good when precision ≥ 0.5 at recall ≥ 0.2, or "
        "precision ≥ 0.9 at recall ≥ 0.02; target: none is. "
        + (f"Too good: {', '.join(f'`{n}`' for n in too_good)}." if too_good else "None is."),
        "",
        markdown_table(
            [
                "rule",
                "flags",
                "flagged",
                "of them fraud",
                "precision",
                "recall",
                "too good",
                "note",
            ],
            rule_rows,
            right=2,
        ),
        "",
        "## Data statistics",
        "",
        markdown_table(["statistic", "value", "target", "met", "note"], stat_rows),
        "",
        "## Fraud share and calibration",
        "",
        markdown_table(["figure", "value", "target", "met", "note"], real_rows),
        "",
        "## Time",
        "",
        markdown_table(["step", "seconds"], [[w, f"{s:,.1f}"] for w, s in timings]),
        "",
        "## How it is measured",
        "",
        "- Days are generated in this process with `generate_dataset` (default world unless "
        "`--quick`), the labels feed with `reports_frame` for every day from the day after "
        "the first payment day to the reporting horizon after the last, so late reports "
        "count. Everything else reads only the feeds' columns, never the simulator.",
        f"- Models: scikit-learn's `HistGradientBoostingClassifier` (`hgb`: {MAX_ITER} rounds, "
        "31 leaves a tree, learning rate 0.1, no early stopping: on the weighted loss it "
        "stopped after about a dozen rounds, well short of the model's skill) and LightGBM "
        f"(`lgbm`: {', '.join(f'{k}={v}' for k, v in LGBM_PARAMS.items())}, the raw categorical "
        f"columns as categories), each trained on the first {TRAIN_SHARE:.0%} of the days less the first {WARMUP_DAYS} (while every device and merchant is still new to its card) with all their fraud and "
        f"up to {args.train_legit:,} legit rows (weighted back to their share), scored on every "
        "payment of the later days. Raw columns: the schema's columns minus keys, labels, "
        "names and the timestamp (hour and weekday instead); categories as categories.",
        "- History features, each from earlier rows only, in time order: the card's payments "
        "in the last hour and 24 h, seconds since its previous payment, amount over "
        "its running mean, its declines in the last hour and 10 minutes, new merchant and new "
        "device for the card, device seen before with another customer, distance from the "
        "running mean position of the customer's earlier payments, and the fraud reported "
        f"at the terminal and the merchant in the {REPORT_WINDOW_DAYS} days before the payment's "
        "day (labels feed, `reported_on` < the payment's date). Features whose values only "
        "grow over the period (the card's count of earlier payments) are left out of the "
        "model: the test days would hold values the training days never had.",
        "- Rules: home country is the customer's most frequent country of card-present "
        "payments over the period; local hour is solar time (UTC + longitude / 15); the card's "
        "median amount is over the period. Rules are one line each in "
        "`bench/fidelity_features.py` (`RULES`).",
        "- Statistics: fraud-affected cards are cards with a fraud payment; a card's first "
        "report is the earliest `reported_on` of the reports on its fraud payments; multi-fraud "
        "cards are those with two or more reported frauds; repeat merchant means an earlier "
        "payment of the card at that merchant within the period; the Poisson expectation "
        "per card uses λ = its legit payments / days.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
