"""The episodes code replaced numpy calls by cheaper equivalents; these pin the equivalences."""

from __future__ import annotations

import numpy as np

from fraud_detection.simulator import episodes


def test_start_table_gives_np_interp_values_bit_for_bit() -> None:
    table = episodes._StartTable.build()
    g = np.random.default_rng(0)
    for weekday in range(7):
        knots = episodes._start_cdf(weekday)
        u = np.concatenate(
            [g.random(200_000), knots[:-1], np.nextafter(knots[1:], 0), [np.nextafter(1.0, 0)]]
        )
        u = u[(u >= 0) & (u < 1)]
        want = np.interp(u, knots, episodes._HOUR_EDGES)
        got = table.seconds(np.full(len(u), weekday), u)
        assert np.array_equal(want.view(np.int64), got.view(np.int64))


def test_detection_thresholds_pick_what_np_select_picks() -> None:
    cuts = np.concatenate(
        [
            episodes.P_ALERT,
            episodes.P_ALERT + episodes.P_NOTICE,
            1 - episodes.P_NEVER,
            [1 - episodes.P_NEVER_DEAD_TEST],
        ]
    )
    u = np.concatenate([np.random.default_rng(1).random(100_000), cuts, np.nextafter(cuts, 0)])
    for scenario in range(episodes.N_SCENARIOS):
        for dead in (False, True) if scenario == episodes.TESTING else (False,):
            never = episodes.P_NEVER_DEAD_TEST if dead else episodes.P_NEVER[scenario]
            a, notice = episodes.P_ALERT[scenario], episodes.P_NOTICE[scenario]
            want = np.select([u < a, u < a + notice, u < 1.0 - never], [0, 1, 2], 3)
            kind = episodes._DEAD_TEST if dead else scenario
            got = sum(
                (u >= t[kind]).astype(int)
                for t in (episodes._ALERT_BELOW, episodes._NOTICE_BELOW, episodes._STATEMENT_BELOW)
            )
            assert np.array_equal(want, got)


def test_scaled_standard_draws_are_numpys_scaled_draws() -> None:
    # exponential(scale) and normal(0, scale) are scale * a standard draw, from the same
    # place in the stream; the standard draws skip numpy's call per draw.
    for scale in (1.0, 7.0, 1_500.0, 21_600.0):
        want = np.random.default_rng(3).exponential(scale, 100_000)
        got = scale * np.random.default_rng(3).standard_exponential(100_000)
        assert np.array_equal(want, got)
    for scale in (0.002, 0.04, 0.06):
        g, h = np.random.default_rng(4), np.random.default_rng(4)
        want = g.normal(0.0, scale, (2, 50_000))
        got = scale * h.standard_normal((2, 50_000))
        assert np.array_equal(want, got)
        assert g.random() == h.random()  # and the stream goes on from the same place
