"""Training data: Parquet conversations -> token ids with labels on assistant tokens only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from workbench.engine.errors import BadConfigError, BadDataError
from workbench.engine.messages import Message, check_messages
from workbench.engine.tool_check import check_tool_support

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


@dataclass
class TokenizedData:
    examples: list[Example]
    rows: int  # rows in the file
    dropped_rows: int  # rows with no assistant token left (none at all, or truncated away)
    truncated_rows: int  # rows longer than max_length (kept if an assistant token remains)
    dropped_row_numbers: list[int] = field(default_factory=list)  # 1-based, first few only

    @classmethod
    def merge(cls, parts: list["TokenizedData"], source: str, max_length: int,
              conversations: list[list[Message]]) -> "TokenizedData":
        """Chunks tokenised separately, in order, as one; bad data if nothing is left."""
        data = cls([e for p in parts for e in p.examples], sum(p.rows for p in parts),
                   sum(p.dropped_rows for p in parts), sum(p.truncated_rows for p in parts),
                   [n for p in parts for n in p.dropped_row_numbers][:20])
        check_trainable(data, conversations, max_length, source)
        return data


def read_parquet_conversations(path: str, name: str = "the dataset") -> list[list[Message]]:
    """The `messages` column of a dataset Parquet file, validated row by row. Messages name the
    dataset as the user knows it (`name`: the version's title); the file path goes to details."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        columns = pq.ParquetFile(path).schema_arrow.names
        if "messages" not in columns:
            raise BadDataError(
                f"The file of {name} has no `messages` column.",
                details=f"File: {path}\nColumns: {columns}",
                advice="Re-import the dataset so it is converted to conversations.",
            )
        table = pq.read_table(path, columns=["messages"])  # skip the lineage columns
    except (OSError, pa.ArrowException) as exc:
        raise BadDataError(
            f"Cannot read the file of {name}.",
            details=f"File: {path}\n{type(exc).__name__}: {exc}",
            advice="Check that the dataset version exists in the project and is a Parquet file.",
        ) from exc
    return [
        check_messages(value, f"row {i + 1} of {name}")
        for i, value in enumerate(table.column("messages").to_pylist())
    ]


def _render(tokenizer, messages: list[Message], add_generation_prompt: bool) -> str:
    from workbench.core.tool_calls import split_tools

    plain, tools = split_tools(messages)  # a tool-calling conversation keeps its tools on the first message
    return tokenizer.apply_chat_template(
        plain, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def assistant_char_spans(tokenizer, messages: list[Message]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of assistant replies (the rule is
    workbench.data.model_view.template.assistant_spans, shared with the dataset view)."""
    from workbench.data.model_view.template import assistant_spans

    full, spans = assistant_spans(lambda m, gen: _render(tokenizer, m, gen), messages,
                                  tokenizer.eos_token or "")
    return full, [(start, end) for start, end, _i in spans]


def _labelled(ids: list[int], offsets, spans: list[tuple[int, int]], max_length: int,
              loss_on: str) -> tuple[Example, bool]:
    """(example, truncated): labels are the ids of tokens that start inside an assistant span."""
    labels = [IGNORE_INDEX] * len(ids)
    for j, (start, _end) in enumerate(offsets):
        if loss_on == "all" or any(s <= start < e for s, e in spans):
            labels[j] = ids[j]
    return Example(ids[:max_length], labels[:max_length]), len(ids) > max_length


def tokenize_conversation(tokenizer, messages: list[Message], max_length: int,
                          loss_on: str = "assistant") -> tuple[Example, bool]:
    """(example, truncated). Labels are the token ids inside assistant spans, else -100
    (loss_on="all": every token is a label, the prompt and role markers too)."""
    text, spans = assistant_char_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return _labelled(list(enc["input_ids"]), enc["offset_mapping"], spans, max_length, loss_on)


# Texts per call of the fast tokenizer's batch encoder, which spreads a batch over all cores. Small,
# because the call holds every text's encoding and offsets at once (512 long rows raised a
# small run's peak memory by 0.35 GB, more than training itself).
ENCODE_BATCH = 64


class _RustThreads:
    """Lets the fast tokenizer use its thread pool for one batch call. Children keep it off
    (TOKENIZERS_PARALLELISM=false) because a forked pool deadlocks; nothing forks after this:
    worker processes are spawned and the DataLoader runs in-process."""

    def __enter__(self) -> None:
        import os

        self._was = os.environ.get("TOKENIZERS_PARALLELISM")
        os.environ["TOKENIZERS_PARALLELISM"] = "true"

    def __exit__(self, *exc: object) -> None:
        import os

        if self._was is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = self._was


def _rendered(tokenizer, messages: list[Message], row: int, source: str) -> tuple[str, list[tuple[int, int]]]:
    try:
        return assistant_char_spans(tokenizer, messages)
    except Exception as exc:  # jinja errors from templates that reject a role order
        if type(exc).__name__ not in ("TemplateError", "TemplateSyntaxError", "UndefinedError"):
            raise
        raise BadDataError(
            f"Row {row} of {source} cannot be rendered with the model's chat template.",
            details=str(exc),
            advice="This model's template rejects that conversation (often: roles must "
            "alternate user/assistant, or no system role). Clean those rows or pick another base model.",
        ) from exc


def tokenize_all(tokenizer, conversations: list[list[Message]], max_length: int, source: str,
                 loss_on: str = "assistant", allow_empty: bool = False, row_offset: int = 0) -> TokenizedData:
    """`source` names the dataset in messages (the version's title, never a file path).
    `row_offset`: the first conversation's index in the whole dataset (for a chunk's messages).

    Each conversation is rendered (Python: the chat template), then the texts are encoded in
    batches by the fast tokenizer, which is the same per text as encoding one at a time."""
    check_tool_support(tokenizer, conversations, source, lambda m, gen: _render(tokenizer, m, gen), row_offset)
    examples, dropped = [], []
    truncated_rows = 0
    for first in range(0, len(conversations), ENCODE_BATCH):
        chunk = conversations[first:first + ENCODE_BATCH]
        rendered = [_rendered(tokenizer, m, row_offset + first + k + 1, source) for k, m in enumerate(chunk)]
        with _RustThreads():
            enc = tokenizer([text for text, _ in rendered], add_special_tokens=False, return_offsets_mapping=True)
        for k, (_text, spans) in enumerate(rendered):
            example, truncated = _labelled(list(enc["input_ids"][k]), enc["offset_mapping"][k], spans,
                                           max_length, loss_on)
            truncated_rows += truncated
            if all(label == IGNORE_INDEX for label in example.labels):
                dropped.append(row_offset + first + k + 1)
            else:
                examples.append(example)
    data = TokenizedData(examples, len(conversations), len(dropped), truncated_rows, dropped[:20])
    if not allow_empty:
        check_trainable(data, conversations, max_length, source)
    return data


def check_trainable(data: TokenizedData, conversations: list[list[Message]], max_length: int, source: str) -> None:
    """A dataset with no row left to train on is bad data, with why."""
    if data.examples:
        return
    no_reply = sum(1 for m in conversations if not any(x["role"] == "assistant" for x in m))
    why = ("none has an assistant reply" if no_reply == len(conversations) else
           f"no assistant reply starts within the max length of {max_length:,} tokens")
    raise BadDataError(
        f"No row of {source} is left to train on: {why} "
        f"({len(conversations):,} rows, all dropped).",
        details=f"Dropped rows (first 20): {data.dropped_row_numbers[:20]}",
        advice="Training learns the assistant turns: each row needs at least one message with "
        "role 'assistant' that starts within the max length "
        f"({max_length:,} tokens). Raise max length, or check the dataset's format.",
    )


class Collator:
    """Pads a batch on the right: input_ids with the pad id, labels with -100."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[Any]) -> dict[str, Any]:
        import torch

        rows = [f if isinstance(f, Example) else Example(f["input_ids"], f["labels"]) for f in features]
        width = max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            n = len(r.input_ids)
            ids[k, :n] = torch.tensor(r.input_ids, dtype=torch.long)
            labels[k, :n] = torch.tensor(r.labels, dtype=torch.long)
            mask[k, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def pad_id_for(tokenizer) -> int:
    pad: Optional[int] = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    if pad is None:
        raise BadConfigError(
            "The base model's tokenizer has neither a pad nor an end-of-sequence token.",
            advice="Pick a chat model whose tokenizer defines eos_token.",
        )
    return int(pad)


class ExampleDataset:
    """A map-style dataset the Trainer's DataLoader can index."""

    def __init__(self, examples: list[Example]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        ex = self.examples[i]
        return {"input_ids": ex.input_ids, "labels": ex.labels}
