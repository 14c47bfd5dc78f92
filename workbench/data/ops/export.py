"""Export a dataset version as JSONL or Parquet, in OpenAI-messages or Alpaca form (a
preference version: the prompt and the chosen reply), or, for a preference version, as pairs in
the shapes of export_pairs (TRL conversational or text, ShareGPT).

Alpaca follows the multi-turn convention of LLaMA-Factory: `system` (the system prompt),
`instruction` (the last user turn), `input` (always empty: prompts are already merged),
`output` (the last assistant reply) and `history` (earlier [user, assistant] pairs). For a
single-turn conversation that is simply first user -> instruction, assistant -> output.
Every row has every field (empty when absent), so `datasets` infers one schema.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.ops.export_pairs import PAIR_SCHEMAS, PAIR_STYLES, to_pair_record
from workbench.data.storage.parquet_io import REJECTED, count_rows, is_preference_blob
from workbench.data.storage.rowio import BATCH_ROWS, DataOpError, iter_rows

FORMATS = ("jsonl", "parquet")
SFT_STYLES = ("openai", "alpaca")
STYLES = SFT_STYLES + PAIR_STYLES
_SCHEMAS = {
    "openai": pa.schema([pa.field("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))]),
    "alpaca": pa.schema([
        ("system", pa.string()), ("instruction", pa.string()), ("input", pa.string()),
        ("output", pa.string()), ("history", pa.list_(pa.list_(pa.string()))),
    ]),
    **PAIR_SCHEMAS,
}


@dataclass(frozen=True)
class ExportResult:
    path: str
    format: str
    style: str
    rows: int  # rows written
    skipped: int  # rows that have no form in this style (Alpaca: no assistant reply)
    skipped_rows: list[int] = field(default_factory=list)  # first few indices


def to_alpaca(messages: list[dict[str, str]]) -> Optional[dict[str, Any]]:
    """One conversation as an Alpaca record, or None when it has no assistant reply.

    Consecutive turns of one role are joined with a blank line; an assistant reply with no
    user turn before it pairs with an empty instruction (plain-text rows).
    """
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    pairs: list[list[str]] = []
    user: list[str] = []
    reply: list[str] = []
    for m in messages:
        if m["role"] == "user":
            if reply:
                pairs.append(["\n\n".join(user), "\n\n".join(reply)])
                user, reply = [], []
            user.append(m["content"])
        elif m["role"] == "assistant":
            reply.append(m["content"])
    if reply:
        pairs.append(["\n\n".join(user), "\n\n".join(reply)])
    if not pairs:
        return None
    *history, (instruction, output) = pairs
    return {"system": system, "instruction": instruction, "input": "", "output": output, "history": history}


def _records(messages: list[dict[str, str]], rejected: Optional[list[dict[str, Any]]],
             style: str) -> Optional[dict[str, Any]]:
    if style in PAIR_STYLES:
        return to_pair_record(messages, rejected or [], style)
    if style == "openai":
        return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    return to_alpaca(messages)


def _batches(path: str | Path, pairs: bool, cancel: Optional[CancelToken]):
    """Batches of (messages, rejected or None)."""
    batch: list[tuple[list[dict[str, Any]], Optional[list[dict[str, Any]]]]] = []
    for row in iter_rows(path, columns=("messages", REJECTED) if pairs else ("messages",), cancel=cancel):
        batch.append((json.loads(row.messages_json), row.rejected))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def export(path_in: str | Path, path_out: str | Path, *, format: str = "jsonl", style: str = "openai",
           progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> ExportResult:
    """Write the version's rows to path_out (a temp file beside it, renamed when complete)."""
    if format not in FORMATS:
        raise DataOpError(f"Unknown export format '{format}'.", advice=f"Use one of: {', '.join(FORMATS)}.")
    if style not in STYLES:
        raise DataOpError(f"Unknown export style '{style}'.", advice=f"Use one of: {', '.join(STYLES)}.")
    pairs = style in PAIR_STYLES
    if pairs and not is_preference_blob(path_in):
        raise DataOpError(f"The {style} style writes preference pairs; this version holds conversations.",
                          advice=f"Export a preference version in it, or use one of: {', '.join(SFT_STYLES)}.")
    out = Path(path_out)
    if out.is_dir():
        raise DataOpError(f"{out} is a folder.", advice="Give a file name to export to, e.g. data.jsonl.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    total = count_rows(path_in)
    rows = skipped = index = 0
    skipped_rows: list[int] = []
    writer: Optional[pq.ParquetWriter] = None
    try:
        text = open(tmp, "w", encoding="utf-8", newline="\n") if format == "jsonl" else None
        if format == "parquet":
            writer = pq.ParquetWriter(tmp, _SCHEMAS[style], compression="zstd")
        try:
            for batch in _batches(path_in, pairs, cancel):
                records = []
                for msgs, rejected in batch:
                    rec = _records(msgs, rejected, style)
                    if rec is None:
                        skipped += 1
                        if len(skipped_rows) < 20:
                            skipped_rows.append(index)
                    else:
                        records.append(rec)
                    index += 1
                if text is not None:
                    text.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                elif writer is not None and records:
                    writer.write_table(pa.Table.from_pylist(records, schema=_SCHEMAS[style]))
                rows += len(records)
                report(progress, index / max(1, total), f"Exported {rows:,} rows")
        finally:
            if text is not None:
                text.close()
            if writer is not None:
                writer.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    report(progress, 1.0, f"Exported {rows:,} rows to {out.name}")
    return ExportResult(str(out), format, style, rows, skipped, skipped_rows)
