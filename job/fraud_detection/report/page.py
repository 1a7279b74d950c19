"""The report as one HTML string: every style and the one small script inside it."""

from __future__ import annotations

from html import escape

from fraud_detection import GENERATOR_VERSION
from fraud_detection.report import svg
from fraud_detection.report.reference import (
    BASELINE_DAYS,
    CALIBRATED_PROFILE,
    PSI_AMBER,
    PSI_RED,
    PUBLISHED_FRAUD_SHARE,
    PUBLISHED_SOURCE,
)
from fraud_detection.report.stats import DayReport

COLORS = {"green": "#2e8b57", "amber": "#e0a100", "red": "#c23b3b"}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1360px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0 12px} h2{font-size:15px;margin:0 0 6px}
.status{border-radius:8px;padding:14px 18px;color:#fff;margin-bottom:16px}
.status b{font-size:20px;text-transform:uppercase;letter-spacing:.05em;margin-right:12px}
.status ul{margin:6px 0 0;padding-left:20px}
.facts{display:flex;gap:24px;flex-wrap:wrap;margin:0 0 16px}
.facts div{background:#fff;border-radius:6px;padding:8px 14px}
.facts span{display:block;color:#667;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px}
figure{background:#fff;border-radius:8px;margin:0;padding:12px 14px}
figcaption{color:#556;font-size:12px;margin-top:4px}
svg.chart{max-width:100%;height:auto;font-size:11px;fill:#334}
svg .grid{stroke:#e3e6ea}
.legend{font-size:12px;color:#334} .key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;background:#fff;width:100%} td,th{padding:4px 8px;border-bottom:1px solid #eee;text-align:left}
.ok{color:#2e8b57;font-weight:600} .ko{color:#c23b3b;font-weight:600}
"""

# Marks the page once it has laid out: how many charts drew with a non-zero size. The
# headless-browser test reads it from the DOM; a person never sees it.
SCRIPT = """
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('figure svg.chart');
  var drawn = 0;
  charts.forEach(function (c) { var r = c.getBoundingClientRect(); if (r.width > 0 && r.height > 0 && c.childElementCount > 0) { drawn++; } });
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-charts-drawn', String(drawn));
});
"""


def _figure(title: str, chart: str, caption: str) -> str:
    return f"<figure><h2>{escape(title)}</h2>{chart}<figcaption>{caption}</figcaption></figure>"


def _psi_color(value: float) -> str:
    return (
        COLORS["red"]
        if value > PSI_RED
        else COLORS["amber"]
        if value > PSI_AMBER
        else COLORS["green"]
    )


def render(report: DayReport) -> str:
    m = report.manifest
    day_labels = [d.strftime("%m-%d") for d in report.days]
    figures = [
        _figure(
            "Rows per day",
            svg.bars("rows per day", day_labels, [float(r or 0) for r in report.rows],
                     colors=[svg.PALETTE[1] if d == report.day else svg.PALETTE[0] for d in report.days]),
            f"Payments of each published day, the last {BASELINE_DAYS} days and today (orange). A gap is a day not published.",
        ),
        _figure(
            "Fraud rate by channel",
            svg.lines("fraud rate by channel", day_labels, report.fraud_by_channel, unit="%"),
            "Share of each channel's payments that are fraud, per day.",
        ),
        _figure(
            "Fraud by scenario",
            svg.lines("fraud by scenario", day_labels, report.fraud_by_scenario, unit="%"),
            "Fraud payments of each scenario, as a share of all the day's payments.",
        ),
        _figure(
            "Amounts by merchant category (today)",
            svg.hbars(
                "amounts by MCC",
                [f"{r['mcc']} {r['merchant_category']}" for r in report.mcc.iter_rows(named=True)],
                [float(v) for v in report.mcc["amount_eur"]],
                notes=[f"€{r['amount_eur'] / 1e3:,.0f}k · {r['payments']:,} · fraud {100 * (r['fraud_share'] or 0):.2f}%" for r in report.mcc.iter_rows(named=True)],
            ),
            "Total EUR per MCC (the 12 largest), with payments and the fraud share of the value.",
        ),
        _figure(
            "Hourly rhythm, local time",
            svg.bars("hourly rhythm", [f"{h:02d}" for h in range(24)], report.hourly_today, unit="%",
                     overlay=report.hourly_baseline, bar_name="today", overlay_name="previous weeks"),
            "Share of the day's payments per hour of the merchant country's clock.",
        ),
        _figure(
            "Label delays (reports made today)",
            svg.bars("label delays", [str(d) for d in report.delays["delay_days"]], [float(n) for n in report.delays["reports"]])
            if report.delays is not None and report.delays.height
            else svg.bars("label delays", ["none"], [0.0]),
            "Fraud reports made on this day, by days since the payment." if report.delays is not None else "No labels feed read for this day.",
        ),
        _figure(
            "Drift against the previous four weeks",
            svg.hbars("drift", list(report.psi), list(report.psi.values()),
                      colors=[_psi_color(v) for v in report.psi.values()],
                      notes=[f"PSI {v:.3f}" for v in report.psi.values()], scale_max=PSI_RED * 1.2)
            if report.psi else svg.bars("drift", ["no baseline"], [0.0]),
            f"Population stability index per column, today against the previous {BASELINE_DAYS} days pooled: green &lt; {PSI_AMBER}, amber to {PSI_RED}, red above.",
        ),
        _figure(
            "Calibration against published fraud rates",
            svg.bars("calibration", ["count: today", "count: published", "value: today", "value: published"],
                     [100 * report.calibration["count"], 100 * PUBLISHED_FRAUD_SHARE["count"],
                      100 * report.calibration["value"], 100 * PUBLISHED_FRAUD_SHARE["value"]],
                     colors=[svg.PALETTE[1], "#999", svg.PALETTE[1], "#999"], unit="%"),
            f"Fraud share of the day by count and by value against {escape(PUBLISHED_SOURCE)}. "
            + (f"Profile <b>{escape(report.profile)}</b>: calibrated to these rates."
               if report.profile == CALIBRATED_PROFILE
               else f"Profile <b>{escape(report.profile or '?')}</b>: a training profile with more fraud on purpose, so not judged against them."),
        ),
    ]  # fmt: skip
    checks = "".join(
        f'<tr><td>{escape(c.name)}</td><td class="{"ok" if c.passed else "ko"}">{"passed" if c.passed else "FAILED"}</td><td>{escape(c.detail)}</td></tr>'
        for c in report.checks
    )
    findings = "".join(f"<li>{escape(f.text)}</li>" for f in report.findings)
    facts = [
        ("rows", f"{m.get('rows', 0):,}"),
        ("fraud rows", f"{m.get('fraud_rows', 0):,} ({100 * float(m.get('fraud_rate', 0)):.3f}%)"),
        ("profile", report.profile or "?"),
        ("seed", str(m.get("seed", "?"))),
        ("bytes", f"{m.get('bytes', 0) / 1e6:,.1f} MB"),
        ("generator", str(m.get("generator_version", "?"))),
    ]
    fact_html = "".join(f"<div><span>{escape(k)}</span>{escape(v)}</div>" for k, v in facts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>daily-synthetic {report.day} - {report.level}</title>
<style>{STYLE}</style></head>
<body data-level="{report.level}"><main>
<h1>daily-synthetic · {report.day} · {escape(str(m.get("dataset", "")))}</h1>
<section class="status" id="status" style="background:{COLORS[report.level]}"><b>{report.level}</b>
{"the day looks fine" if report.level == "green" else "look at this day"}<ul>{findings}</ul></section>
<div class="facts">{fact_html}</div>
<div class="grid">{"".join(figures)}</div>
<h2 style="margin-top:18px">Checks that ran</h2>
<table><tr><th>check</th><th>result</th><th>detail</th></tr>{checks}</table>
<p style="color:#667;font-size:12px">{escape(str(m.get("uri", "")))} · made by daily-report {GENERATOR_VERSION}</p>
</main><script>{SCRIPT}</script></body></html>
"""
