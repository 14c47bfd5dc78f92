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
import re
import zlib
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from workbench.core.progress import CancelToken

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_PRIME = np.uint64(4294967291)  # largest prime < 2**32: a*x + b stays below 2**64
_MASK32 = np.uint64(0xFFFFFFFF)
_FNV = np.uint64(0x100000001B3)
MAX_GROUP_COMPARE = 64  # each bucket member is checked against at most this many earlier ones


def normalise_text(text: str, case_sensitive: bool = False) -> str:
    text = _WS.sub(" ", text).strip()
    return text if case_sensitive else text.casefold()


def exact_key(messages: list[dict[str, str]], case_sensitive: bool = False) -> bytes:
    """16-byte digest of a conversation after normalisation (roles and order kept)."""
    h = hashlib.blake2b(digest_size=16)
    for m in messages:
        for part in (m.get("role", ""), normalise_text(m.get("content", ""), case_sensitive)):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
    return h.digest()


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


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the word `size`-grams of text (whole text when shorter)."""
    words = _WORD.findall(text.casefold())
    if not words:
        return np.zeros(1, dtype=np.uint64)  # every empty text shares one shingle
    w = np.fromiter((zlib.crc32(x.encode("utf-8")) for x in words), dtype=np.uint64, count=len(words))
    k = min(size, len(w))
    h = w[: len(w) - k + 1].copy()
    for j in range(1, k):
        h = (h * _FNV) ^ w[j: len(w) - k + 1 + j]  # uint64 wraps: a fixed mixing function
    h = (h ^ (h >> np.uint64(32))) & _MASK32
    return np.unique(h)


@dataclass(frozen=True)
class MinHasher:
    num_perm: int = 128
    shingle_size: int = 3
    seed: int = 1

    def __post_init__(self) -> None:
        rng = np.random.Generator(np.random.PCG64(self.seed))
        object.__setattr__(self, "_a", rng.integers(1, int(_PRIME), self.num_perm, dtype=np.uint64))
        object.__setattr__(self, "_b", rng.integers(0, int(_PRIME), self.num_perm, dtype=np.uint64))

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 MinHash signatures, computed in chunks of shingles."""
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        parts = [shingle_hashes(t, self.shingle_size) for t in texts]
        chunk: list[np.ndarray] = []
        rows: list[int] = []
        size = 0
        for i, p in enumerate(parts):
            chunk.append(p)
            rows.append(i)
            size += len(p)
            if size >= 65536 or i == len(parts) - 1:
                allh = np.concatenate(chunk)
                starts = np.cumsum([0] + [len(c) for c in chunk[:-1]])
                hv = (self._a[:, None] * allh[None, :] + self._b[:, None]) % _PRIME  # type: ignore[attr-defined]
                out[rows] = np.minimum.reduceat(hv, starts, axis=1).T.astype(np.uint32)
                chunk, rows, size = [], [], 0
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
