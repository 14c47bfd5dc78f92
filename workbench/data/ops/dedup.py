"""Exact and near duplicate detection over conversations.

Exact: a 128-bit digest of the normalised messages (roles kept, whitespace collapsed, case
folded unless asked otherwise); a row repeats an earlier row when the digests match.

Near: MinHash over word shingles with banded LSH (numpy only). Word and shingle hashes come
from crc32 and fixed arithmetic, never Python's salted hash(), so a preview and an apply in
different processes find the same duplicates. A row is a near duplicate when its estimated
Jaccard similarity to an earlier row *that is kept* reaches the threshold (no chains: if A~B
and B~C but not A~C, only B goes). Memory: 4 bytes per permutation per row for signatures.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import zlib
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from workbench.core.progress import CancelToken

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_MASK32 = np.uint64(0xFFFFFFFF)
_FNV = np.uint64(0x100000001B3)
MAX_GROUP_COMPARE = 64  # each bucket member is checked against at most this many earlier ones


def normalise_text(text: str, case_sensitive: bool = False) -> str:
    text = _WS.sub(" ", text).strip()
    return text if case_sensitive else text.casefold()


def exact_key(messages: list[dict[str, str]], case_sensitive: bool = False) -> bytes:
    """16-byte digest of a conversation after normalisation (roles and order kept)."""
    norm = [[m.get("role", ""), normalise_text(m.get("content", ""), case_sensitive)] for m in messages]
    return hashlib.blake2b(json.dumps(norm, ensure_ascii=False).encode("utf-8"), digest_size=16).digest()


def exact_keys(batch: list[list[dict[str, str]]], case_sensitive: bool = False) -> np.ndarray:
    """(n, 2) uint64 keys for a batch of conversations (compact: 16 bytes a row)."""
    raw = b"".join(exact_key(m, case_sensitive) for m in batch)
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 2).copy() if batch else np.zeros((0, 2), np.uint64)


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """For each row, the index of the first row with the same key (itself when unique)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def conversation_text(messages: list[dict[str, str]], include_system: bool = False) -> str:
    """The words that count for near duplicates. A shared system prompt is boilerplate that
    would make every pair of short conversations look alike, so it is left out by default."""
    return "\n".join(m.get("content", "") for m in messages if include_system or m.get("role") != "system")


def batch_shingles(texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """All texts' 32-bit word `size`-gram hashes concatenated, and how many each text has.

    A text shorter than `size` words is one shingle of all its words; an empty text is one
    shingle shared by every empty text. Repeats inside a text are kept (MinHash ignores them).
    """
    words = [_WORD.findall(t.casefold()) for t in texts]
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    flat = list(itertools.chain.from_iterable(words))
    w = np.fromiter(map(zlib.crc32, map(str.encode, flat)), dtype=np.uint64, count=len(flat))
    starts = np.cumsum(lens) - lens
    m = max(0, len(w) - size + 1)
    h = w[:m].copy()
    for j in range(1, size):
        h = (h * _FNV) ^ w[j:m + j]  # uint64 wraps: a fixed mixing function
    long = lens >= size
    counts = np.where(long, lens - size + 1, 1)
    offsets = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), dtype=np.uint64)
    if long.any():
        n_long = counts[long]
        within = np.arange(int(n_long.sum())) - np.repeat(np.cumsum(n_long) - n_long, n_long)
        out[np.repeat(offsets[long], n_long) + within] = h[np.repeat(starts[long], n_long) + within]
    for r in np.flatnonzero(~long):  # short texts: rare, one shingle each
        v = 0
        for x in w[starts[r]:starts[r] + lens[r]].tolist():
            v = ((v * int(_FNV)) ^ x) & 0xFFFFFFFFFFFFFFFF  # the same mixing as above, in Python ints
        out[offsets[r]] = v
    return (out ^ (out >> np.uint64(32))) & _MASK32, counts


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Distinct shingle hashes of one text (the set MinHash estimates Jaccard over)."""
    return np.unique(batch_shingles([text], size)[0])


@dataclass(frozen=True)
class MinHasher:
    """Multiply-shift hashing ((a*x + b) mod 2**64) >> 32 with odd 64-bit a: a universal
    family that needs no modulo, so numpy hashes 128 permutations of 8k shingles at a time quickly."""

    num_perm: int = 128
    shingle_size: int = 3
    seed: int = 1

    def __post_init__(self) -> None:
        rng = np.random.Generator(np.random.PCG64(self.seed))
        a = rng.integers(0, 2**63, self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", rng.integers(0, 2**63, self.num_perm, dtype=np.uint64))

    def signatures(self, texts: list[str], chunk: int = 8192) -> np.ndarray:
        """(len(texts), num_perm) uint32 MinHash signatures, computed ~`chunk` shingles at a time."""
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        if not texts:
            return out
        hashes, counts = batch_shingles(texts, self.shingle_size)
        ends = np.cumsum(counts)
        a, b = self._a[:, None], self._b[:, None]  # type: ignore[attr-defined]
        row = 0
        while row < len(texts):
            first = int(ends[row - 1]) if row else 0
            stop = max(row + 1, int(np.searchsorted(ends, first + chunk, side="right")))
            part = hashes[first:int(ends[stop - 1])]
            hv = ((a * part[None, :] + b) >> np.uint64(32)).astype(np.uint32)
            starts = (ends[row:stop] - counts[row:stop]) - first
            out[row:stop] = np.minimum.reduceat(hv, starts, axis=1).T
            row = stop
        return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) minimising false positives + false negatives around threshold."""
    s = np.linspace(0.0, 1.0, 401)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - s ** r) ** b
            fp = np.trapezoid(np.where(s < threshold, p, 0.0), s)
            fn = np.trapezoid(np.where(s >= threshold, 1.0 - p, 0.0), s)
            # False negatives cost more: a missed duplicate is never looked at again, while a
            # false candidate is only verified and dropped.
            err = fp + 2.0 * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


def candidate_pairs(sigs: np.ndarray, bands: int, rows: int,
                    cancel: Optional[CancelToken] = None) -> np.ndarray:
    """(m, 2) int64 unique pairs (i < j) sharing at least one LSH bucket."""
    n = len(sigs)
    found: list[np.ndarray] = []
    for band in range(bands):
        if cancel is not None:
            cancel.raise_if_cancelled()
        part = sigs[:, band * rows:(band + 1) * rows].astype(np.uint64)
        h = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
        for c in range(part.shape[1]):
            h = (h ^ part[:, c]) * _FNV
        order = np.argsort(h, kind="stable")
        hs = h[order]
        bounds = np.flatnonzero(np.diff(hs)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [n]))
        for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
            members = np.sort(order[s:e])
            for k in range(1, len(members)):
                earlier = members[max(0, k - MAX_GROUP_COMPARE):k]
                found.append(np.stack([earlier, np.full(len(earlier), members[k])], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found).astype(np.int64), axis=0)


def similarities(sigs: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Estimated Jaccard similarity of each pair (share of equal signature slots)."""
    out = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out[s:s + chunk] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


@dataclass(frozen=True)
class NearMatch:
    index: int  # the row that goes
    duplicate_of: int  # the earlier kept row it repeats
    similarity: float


def near_duplicates(sigs: np.ndarray, threshold: float, cancel: Optional[CancelToken] = None) -> list[NearMatch]:
    """Rows to remove: each is similar (>= threshold) to an earlier row that is kept."""
    bands, rows = lsh_params(threshold, sigs.shape[1])
    pairs = candidate_pairs(sigs, bands, rows, cancel)
    if len(pairs) == 0:
        return []
    sims = similarities(sigs, pairs)
    keep = sims >= threshold
    pairs, sims = pairs[keep], sims[keep]
    order = np.lexsort((-sims, pairs[:, 0], pairs[:, 1]))  # by later row, then earlier row
    removed: dict[int, NearMatch] = {}
    for (i, j), sim in zip(pairs[order].tolist(), sims[order].tolist()):
        if j in removed or i in removed:
            continue  # j already goes, or i goes and so cannot be what j repeats
        removed[j] = NearMatch(j, i, round(sim, 4))
    return sorted(removed.values(), key=lambda m: m.index)


def cross_pairs(sigs: np.ndarray, groups: np.ndarray, threshold: float,
                cancel: Optional[CancelToken] = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows in different groups with similarity >= threshold, and their similarities."""
    bands, rows = lsh_params(threshold, sigs.shape[1])
    pairs = candidate_pairs(sigs, bands, rows, cancel)
    if len(pairs) == 0:
        return pairs, np.zeros(0)
    pairs = pairs[groups[pairs[:, 0]] != groups[pairs[:, 1]]]
    sims = similarities(sigs, pairs)
    keep = sims >= threshold
    return pairs[keep], sims[keep]


def texts_of(batch: Iterable[list[dict[str, str]]], include_system: bool) -> list[str]:
    return [conversation_text(m, include_system) for m in batch]
