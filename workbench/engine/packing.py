"""Packing: several tokenised conversations per training row, without cross-attention.

Conversations are placed into rows of at most max_length tokens (best-fit decreasing), each
with position ids that restart at 0. Without an attention mask, transformers reads the restarts
as sequence boundaries and builds a block-diagonal causal mask (masking_utils
.find_packed_sequence_indices), so no conversation sees another. A row costs what a padded row of
max_length costs, but holds several conversations: that is the speed-up on mixed lengths.

Why not transformers' DataCollatorWithFlattening alone: it flattens a whole batch into one row of
batch x length tokens, which removes the padding but makes attention quadratic in the batch's
total length; without flash attention's variable-length kernels (CPUs, most consumer GPUs under
sdpa) that is slower than padding.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from workbench.engine.train_data import IGNORE_INDEX, Example


@dataclass(frozen=True)
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    sequences: int


def pack(examples: list[Example], max_length: int) -> list[PackedRow]:
    """Best-fit decreasing: longest first, each into the fullest row it still fits in."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].input_ids))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (tokens still free, row index), sorted
    for i in order:
        n = len(examples[i].input_ids)
        at = bisect.bisect_left(free, (n, -1))
        if at < len(free):
            space, row = free.pop(at)
            rows[row].append(i)
            bisect.insort(free, (space - n, row))
        else:
            rows.append([i])
            bisect.insort(free, (max_length - n, len(rows) - 1))
    out = []
    for members in rows:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in members:
            ex = examples[i]
            ids += ex.input_ids
            # The first token of a conversation is never a target: it would be "predicted" from
            # the end of the one before it in the row.
            labels += [IGNORE_INDEX] + ex.labels[1:]
            positions += range(len(ex.input_ids))
        out.append(PackedRow(ids, labels, positions, len(members)))
    return out


class PackedDataset:
    def __init__(self, rows: list[PackedRow]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.rows[i]
        return {"input_ids": r.input_ids, "labels": r.labels, "position_ids": r.position_ids,
                "sequences": r.sequences}


class PackedCollator:
    """Pads packed rows to the batch's longest; the padding is a sequence of its own (its
    positions restart too), so it attends only to itself and carries no labels. No attention
    mask: the position ids say where each conversation starts. Items without position ids (the
    evaluation set, not packed) are one sequence each.

    Counts the real tokens and conversations of the packed rows it collates (the Trainer's own
    count compares ids with the pad id, which is often the end-of-turn token itself)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id
        self.tokens = 0
        self.sequences = 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        positions = torch.zeros((len(features), width), dtype=torch.long)
        for k, f in enumerate(features):
            n = len(f["input_ids"])
            ids[k, :n] = torch.tensor(f["input_ids"], dtype=torch.long)
            labels[k, :n] = torch.tensor(f["labels"], dtype=torch.long)
            positions[k, :n] = torch.tensor(f.get("position_ids") or list(range(n)), dtype=torch.long)
            positions[k, n:] = torch.arange(width - n, dtype=torch.long)
            if "position_ids" in f:
                self.tokens += n
                self.sequences += int(f.get("sequences", 1))
        return {"input_ids": ids, "labels": labels, "position_ids": positions}
