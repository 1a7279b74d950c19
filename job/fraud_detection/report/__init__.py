"""The daily report page: one self-contained HTML file per day, beside the datasets.

cli (arguments, I/O: reads the published days, writes the page) → stats (pure polars) →
page (pure HTML) → svg (pure plotting). The page holds every style and script it uses.
"""
