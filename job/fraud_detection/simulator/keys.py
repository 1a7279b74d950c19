"""Compact, opaque keys: a letter and a fixed number of Crockford base-32 characters.

A key is a keyed bijection of a small integer (an entity's index; a payment's day
and row), written in base 32. A bijection never maps two inputs to one output, so
keys are unique by construction, with no lookup and no retry; the key (seeded)
hides the index, so a key says nothing about an entity's age or a row's position.
Everything is vectorised numpy: no Python code runs per key.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from fraud_detection.schema import (
    ENTITY_KEY_CHARS,
    KEY_PREFIX,
    TRANSACTION_DAY_BITS,
    TRANSACTION_KEY_CHARS,
    TRANSACTION_ROW_BITS,
)
from fraud_detection.simulator.seeding import salt_for

# Crockford's alphabet: digits and capitals without I, L, O, U (no 0/O or 1/I/L mix-ups).
CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ALPHABET = np.frombuffer(CROCKFORD, dtype=np.uint8)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Odd multipliers (invertible modulo any power of two) from SplitMix64/Murmur3.
_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
MAX_KEY_CHARS = 12  # 60 bits: the most a 64-bit word holds in whole characters


def permute(values: np.ndarray, bits: int, salt: int) -> np.ndarray:
    """A keyed bijection on [0, 2**bits): add, xorshift and odd-multiply, all mod 2**bits.

    Each step is invertible on `bits`-bit words (uint64 products wrap mod 2**64,
    which 2**bits divides), so distinct inputs give distinct outputs.
    """
    if not 8 <= bits <= 64:
        raise ValueError(f"bits must be in [8, 64], got {bits}")
    mask = np.uint64((1 << bits) - 1)
    half, third = np.uint64(bits // 2), np.uint64(bits // 3 + 1)
    z = values.astype(np.uint64)  # a copy, then every step in place
    with np.errstate(over="ignore"):
        z += np.uint64(salt & ((1 << bits) - 1))
        z &= mask
        z ^= z >> half
        z *= _MULTIPLIERS[0]
        z &= mask
        z ^= z >> third
        z *= _MULTIPLIERS[1]
        z &= mask
        z ^= z >> half
    return z


def base32_keys(values: np.ndarray, prefix: str, chars: int) -> pl.Series:
    """`prefix` + `chars` Crockford characters of each value (most significant first)."""
    if not 1 <= chars <= MAX_KEY_CHARS:
        raise ValueError(f"chars must be in [1, {MAX_KEY_CHARS}], got {chars}")
    head = prefix.encode("ascii")
    out = np.empty((len(values), len(head) + chars), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    # Signed words index the alphabet without a cast per character. The arithmetic shift
    # only changes bits above 64 - shift, and a character never reads them (chars <= 12).
    v = values.astype(np.uint64, copy=False).view(np.int64)
    for i in range(chars):  # one vectorised step per character, not per key
        out[:, len(head) + i] = _ALPHABET[(v >> (5 * (chars - 1 - i))) & 31]
    # Each row's bytes as one key: polars takes the 2-D array as Array(UInt8), then casts
    # to bytes and to text (ASCII, so always valid UTF-8). No Python object per key, and
    # about twice as fast as building the column from numpy fixed-width bytes.
    return pl.Series(out).cast(pl.List(pl.UInt8)).cast(pl.Binary).cast(pl.String)


def entity_keys(seed: int, kind: str, n: int) -> pl.Series:
    """Keys of entities 0..n-1 of `kind` (`customer`, `card`, `merchant`, `terminal`).

    A function of (seed, kind, index) only: the same entity has the same key on every
    day, and growing a population keeps the existing keys.
    """
    bits = 5 * ENTITY_KEY_CHARS
    if n > 1 << bits:
        raise ValueError(f"{n:,} {kind}s do not fit {ENTITY_KEY_CHARS}-character keys")
    mixed = permute(np.arange(n, dtype=np.uint64), bits, salt_for(seed, "keys", kind))
    return base32_keys(mixed, KEY_PREFIX[f"{kind}_id"], ENTITY_KEY_CHARS).alias(f"{kind}_id")


def entity_keys_of(seed: int, kind: str, index: np.ndarray) -> pl.Series:
    """Keys of the entities with these indices: `entity_keys(seed, kind, n)[index]`."""
    mixed = permute(index, 5 * ENTITY_KEY_CHARS, salt_for(seed, "keys", kind))
    return base32_keys(mixed, KEY_PREFIX[f"{kind}_id"], ENTITY_KEY_CHARS).alias(f"{kind}_id")


def transaction_keys(seed: int, day: date, rows: np.ndarray) -> pl.Series:
    """Keys of a day's payments: a day part, then a row part, so no two days share one.

    The day part is the day's index plus a seeded offset (a bijection on 20 bits); the
    row part is a bijection of the row salted per day, so a key hides its row's position
    and row r gets a different tail every day.
    """
    day_index = day.toordinal() - _EPOCH_ORDINAL
    if not 0 <= day_index < 1 << TRANSACTION_DAY_BITS:
        raise ValueError(f"{day} is outside the days transaction keys can encode")
    if len(rows) and int(rows.max()) >= 1 << TRANSACTION_ROW_BITS:
        raise ValueError(f"row {int(rows.max()):,} does not fit a transaction key")
    day_part = (day_index + salt_for(seed, "keys", "transaction-day")) % (1 << TRANSACTION_DAY_BITS)
    row_part = permute(rows, TRANSACTION_ROW_BITS, salt_for(seed, "keys", "transaction", day))
    packed = (np.uint64(day_part) << np.uint64(TRANSACTION_ROW_BITS)) | row_part
    return base32_keys(packed, KEY_PREFIX["transaction_id"], TRANSACTION_KEY_CHARS).alias(
        "transaction_id"
    )
