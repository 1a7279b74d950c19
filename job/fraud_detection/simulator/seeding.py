"""Counter-based randomness: every stream is a pure function of its keys.

A stream is keyed by (seed, purpose, …) — e.g. (seed, "tx", day, block) — so any
block of any day can be generated alone, in any order, on any machine.
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np


def _key_words(*keys: int | str | date) -> list[int]:
    words: list[int] = []
    for key in keys:
        if isinstance(key, date):
            words.append(key.toordinal())
        elif isinstance(key, str):
            # A stable digest, unlike hash(), which is salted per process.
            words.append(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()))
        else:
            words.append(int(key))
    return words


def rng(seed: int, *keys: int | str | date) -> np.random.Generator:
    """An independent generator for one purpose, derived from the seed and keys."""
    # PCG64: numpy's default bit generator, fast, and identical on every platform.
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *_key_words(*keys)])))


def mix64(values: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on uint64, so distinct inputs stay distinct."""
    # In place on one copy (uint64 arithmetic wraps mod 2**64, so no mask is needed).
    z = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        z += np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def salt_for(seed: int, *keys: int | str | date) -> int:
    return int(np.random.SeedSequence([seed, *_key_words(*keys)]).generate_state(1, np.uint64)[0])


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex64(values: np.ndarray) -> np.ndarray:
    """uint64 → fixed-width 16-char lowercase hex, vectorised (bytes, dtype S16)."""
    raw = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    out = np.empty((len(values), 16), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    return out.view("S16").ravel()
