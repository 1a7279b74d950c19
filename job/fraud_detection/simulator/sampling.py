"""Fast inverse-CDF lookups for weighted draws over large tables, and a fast grouping order."""

from __future__ import annotations

from typing import Literal

import numpy as np


class GuideTable:
    """searchsorted(cdf, x, side="right") in O(1) expected time per query.

    A guide table (Chen & Asau) maps each of M equal buckets of [0, total) to
    the first index whose cumulative weight reaches it; a query starts there and
    steps forward, usually zero or one step. No sort, no binary search: the hot
    path of drawing customers and merchants by weight.
    """

    def __init__(
        self, cdf: np.ndarray, buckets_per_entry: int = 2, side: Literal["left", "right"] = "right"
    ) -> None:
        self.cdf = np.ascontiguousarray(cdf, dtype=np.float64)
        self.total = float(self.cdf[-1]) if len(self.cdf) else 0.0
        self.m = max(1, buckets_per_entry * len(self.cdf))
        self.side = side
        # Capped at the last entry here once, not per query.
        self.guide = np.minimum(build_guide(self.cdf, self.m, side), max(len(self.cdf) - 1, 0))

    def find(self, targets: np.ndarray) -> np.ndarray:
        """searchsorted(cdf, targets, side), capped at the last index; targets >= 0.

        side="right": the first cdf entry > target; side="left": the first >= target.
        """
        n = len(self.cdf)
        bucket = (targets * (self.m / self.total)).astype(np.int64)
        idx = self.guide[np.minimum(bucket, self.m - 1, out=bucket)]
        behind = np.less_equal if self.side == "right" else np.less
        # Step forward where the guess is still behind the target.
        pending = np.flatnonzero(behind(self.cdf[idx], targets))
        while len(pending):  # only the pending rows: most need no step, a few need several
            step = np.minimum(idx[pending] + 1, n - 1)
            idx[pending] = step
            still = behind(self.cdf[step], targets[pending])
            still &= step < n - 1
            pending = pending[still]
        return idx

    def search(self, targets: np.ndarray) -> np.ndarray:
        """np.searchsorted(cdf, targets, side), uncapped, for any targets; cdf >= 0.

        For many unsorted targets: a binary search per target mispredicts at every
        step, and costs several times more than the guide's one or two steps.
        """
        n = len(self.cdf)
        if not n or self.total <= 0:
            return np.searchsorted(self.cdf, targets, side=self.side)
        idx = self.find(np.clip(targets, 0.0, self.total))
        # Outside [0, total) the answer is an end: before every entry, or after them all.
        idx[targets < 0] = 0
        beyond = targets >= self.total if self.side == "right" else targets > self.total
        idx[beyond] = n
        return idx

    def draw(self, u: np.ndarray) -> np.ndarray:
        """Indices drawn in proportion to the weights, from uniforms u in [0, 1)."""
        return self.find(u * self.total)


def build_guide(cdf: np.ndarray, m: int, side: Literal["left", "right"]) -> np.ndarray:
    """searchsorted(cdf, k * (total / m), side) for every bucket k < m, for a sorted cdf.

    Built from the entries' side: each entry's first bucket whose edge reaches it (an
    estimate from a division, corrected against the very same float edges), then a
    running count. Several times cheaper than a binary search per edge.
    """
    total = float(cdf[-1]) if len(cdf) else 0.0
    step = total / m
    if not (0.0 < total < np.inf):  # nothing to divide by: the plain search
        edges = np.arange(m, dtype=np.float64) * step
        return np.searchsorted(cdf, edges, side=side).astype(np.int64)

    def reaches(k: np.ndarray, at: np.ndarray) -> np.ndarray:
        # Bucket k's edge is the product np.arange(m) * step would give; "right" counts
        # the entries <= the edge, "left" those < it.
        edge = k.astype(np.float64) * step
        return edge >= cdf[at] if side == "right" else edge > cdf[at]

    first = np.clip(np.ceil(cdf / step), 0, m).astype(np.int64)
    # The division may be an ulp off either way: step to the first bucket that reaches.
    down = np.flatnonzero(first > 0)
    while len(down := down[reaches(first[down] - 1, down)]):
        first[down] -= 1
        down = down[first[down] > 0]
    up = np.flatnonzero(first < m)
    while len(up := up[~reaches(first[up], up)]):
        first[up] += 1
        up = up[first[up] < m]
    # Bucket k's answer: how many entries reach it at k or before.
    return np.cumsum(np.bincount(first, minlength=m + 1)[:m])


def sort_with_order(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """(np.sort(keys), np.argsort(keys, kind="stable")) for integer keys in [0, bound).

    Each key is packed with its position into one word and the words are sorted: numpy
    sorts plain integers with SIMD, several times faster than it argsorts them.
    """
    n = len(keys)
    shift = max(n - 1, 0).bit_length()
    if max(bound - 1, 0).bit_length() + shift > 63:  # no room in a word: numpy's own
        order = np.argsort(keys, kind="stable")
        return keys[order].astype(np.int64), order
    packed = keys.astype(np.int64) << shift
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    return packed >> shift, packed & ((1 << shift) - 1)
