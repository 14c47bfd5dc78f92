"""Eval suites (issue 10): frozen, versioned sets of items built from a dataset version (a
split's test part or any version), from items typed by hand, or from a JSONL file, plus the
metrics to compute and the generation settings. Editing a suite makes a new version.

A dataset row becomes an item by cutting it at its last assistant turn: the messages before it
are the prompt, its content the reference (a tool-call turn without text: its calls as JSON).
A row with no assistant turn is an item without references (only reference-free metrics apply).
These read whole dataset versions: call them from a worker.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Optional, Sequence, Union

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import RATING_SCALES, EvalItem, EvalSuite, GenerationSettings, MetricSpec
from workbench.core.records import MESSAGE_ROLES, DatasetVersion
from workbench.core.tool_calls import TOOL_CALLS_KEY, call_function
from workbench.store import ProjectStore
from workbench.store.evals import new_item_id

_READ_CHUNK = 5000  # rows read from the Parquet blob at a time


# -- items ---------------------------------------------------------------------------------------
def _reply_text(message: dict[str, Any]) -> str:
    content = str(message.get("content") or "")
    calls = message.get(TOOL_CALLS_KEY) or []
    if content.strip() or not calls:
        return content
    functions = [call_function(c) for c in calls]
    return json.dumps(functions[0] if len(functions) == 1 else functions, ensure_ascii=False)


def cut_at_last_reply(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(prompt messages, references) of a conversation: the messages before its last assistant
    turn and that turn's text; the whole conversation and no reference when it has none."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        return [dict(m) for m in messages], []
    reference = _reply_text(messages[last])
    return [dict(m) for m in messages[:last]], ([reference] if reference.strip() else [])


def _label_of(value: Any) -> Optional[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False) \
        if isinstance(value, (dict, list)) else str(value)


def items_from_rows(rows: Iterable[dict[str, Any]], label_field: Optional[str] = None) -> tuple[list[EvalItem], int]:
    """Items of dataset rows ({index, messages, source}); also how many rows had no prompt (a
    conversation that opens with the reply it should produce) and were left out."""
    items, skipped = [], 0
    for row in rows:
        prompt, references = cut_at_last_reply(row["messages"])
        if not any(m.get("role") != "system" for m in prompt):
            skipped += 1
            continue
        source = row.get("source") if isinstance(row.get("source"), dict) else {}
        label = _label_of(source.get(label_field)) if label_field else None
        items.append(EvalItem(id=str(row["index"]), messages=prompt, references=references, label=label))
    return items, skipped


def _dataset_rows(store: ProjectStore, version: DatasetVersion, limit: Optional[int]) -> Iterable[dict[str, Any]]:
    from workbench.data import read_rows

    total = version.row_count if limit is None else min(limit, version.row_count)
    path = store.abspath(version.blob_path)
    for offset in range(0, total, _READ_CHUNK):
        yield from read_rows(path, offset, min(_READ_CHUNK, total - offset))


def _check_messages(messages: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise WorkbenchError(f"{where}: the prompt has no messages.",
                             advice='Give "messages" as a list of {"role", "content"} objects, or "prompt" as text.')
    out = []
    for n, m in enumerate(messages, 1):
        if not isinstance(m, dict) or m.get("role") not in MESSAGE_ROLES or not isinstance(m.get("content", ""), str):
            raise WorkbenchError(f"{where}: message {n} is not a {{role, content}} message.",
                                 details=json.dumps(m, ensure_ascii=False)[:300],
                                 advice=f"Each message needs a role ({', '.join(MESSAGE_ROLES)}) and text content.")
        out.append(dict(m))
    return out


def _strings(value: Any, what: str, where: str) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise WorkbenchError(f"{where}: {what} must be text or a list of texts.")
    return [str(v) for v in values if str(v).strip()]


def item_from_dict(data: dict[str, Any], where: str = "Item", default_id: Optional[str] = None) -> EvalItem:
    """An item from {messages | prompt, references | reference, label, tags, id}. Messages that
    end with the assistant's reply and no references given: that reply is the reference."""
    if not isinstance(data, dict):
        raise WorkbenchError(f"{where} is not an object.", advice='Write each item as {"prompt": ..., "reference": ...}.')
    if "messages" in data:
        messages = _check_messages(data["messages"], where)
    elif isinstance(data.get("prompt"), str) and data["prompt"].strip():
        messages = [{"role": "user", "content": data["prompt"]}]
    else:
        raise WorkbenchError(f"{where} has no prompt.", advice='Give "prompt" (text) or "messages" (a conversation).')
    references = _strings(data.get("references", data.get("reference")), "the references", where)
    if messages[-1].get("role") == "assistant":
        if references:
            raise WorkbenchError(f"{where}: the conversation ends with the assistant's reply and has references too.",
                                 advice="Leave out the last assistant message (the model writes it) or the references.")
        messages, references = cut_at_last_reply(messages)
    if not any(m.get("role") != "system" for m in messages):
        raise WorkbenchError(f"{where}: the prompt has no user message.", advice="Add the question the model answers.")
    item_id = data.get("id")
    return EvalItem(id=str(item_id) if item_id not in (None, "") else (default_id or new_item_id()),
                    messages=messages, references=references, label=_label_of(data.get("label")),
                    tags=_strings(data.get("tags"), "the tags", where))


def _as_items(items: Sequence[Union[EvalItem, dict[str, Any]]]) -> list[EvalItem]:
    return [i if isinstance(i, EvalItem) else item_from_dict(i, f"Item {n}") for n, i in enumerate(items, 1)]


# -- metrics -------------------------------------------------------------------------------------
def check_metrics(store: ProjectStore, metrics: Sequence[MetricSpec]) -> list[MetricSpec]:
    """The metrics, each known to the registry (a clear error names the unknown one) and, for
    the judge, naming a base model of this project and a rating scale."""
    from workbench.evaluation import registry

    out = []
    for spec in metrics:
        spec = spec if isinstance(spec, MetricSpec) else MetricSpec(str(spec))
        registry.get(spec.name)
        if spec.name == "judge":
            model_id = spec.params.get("model_id")
            if model_id:
                store.get_base_model(model_id)
            scale = spec.params.get("scale")
            if scale is not None and scale not in RATING_SCALES:
                raise WorkbenchError(f"The judge's scale {scale!r} is not one Workbench knows.",
                                     advice=f"Use one of: {', '.join(RATING_SCALES)}.")
        out.append(spec)
    keys = [json.dumps([m.name, m.params], sort_keys=True, default=str) for m in out]
    if len(set(keys)) != len(keys):
        raise WorkbenchError("A metric is listed twice in the suite with the same settings.", advice="Keep one of each.")
    return out


def metric_choices(has_references: bool = True) -> list[tuple[str, str, str, bool]]:
    """(name, title, description, needs_references) of each metric a suite can compute."""
    from workbench.evaluation import registry

    return [(m.name, m.title, m.description, m.needs_references) for m in registry.available(has_references)]


def has_references(items: Iterable[EvalItem]) -> bool:
    return any(item.references for item in items)


def references_note(suite: EvalSuite, store: Optional[ProjectStore] = None) -> Optional[str]:
    """What the suite cannot compute for want of reference answers (None: nothing is dropped)."""
    from workbench.evaluation import scoring

    refs = suite.source.get("with_references")
    if refs is None:
        if store is None:
            return None
        refs = sum(1 for i in store.suite_items(suite.id) if i.references)
    return scoring.usable_metrics(suite.metrics, bool(refs))[1]


# -- making and editing suites -------------------------------------------------------------------
def _add(store: ProjectStore, name: str, items: list[EvalItem], metrics: Sequence[MetricSpec],
         generation: GenerationSettings, source: dict[str, Any], parent_id: Optional[str] = None,
         description: str = "") -> EvalSuite:
    if not items:
        raise WorkbenchError("The suite has no items.", advice="Add at least one prompt to evaluate.")
    source = {**source, "with_references": sum(1 for i in items if i.references)}
    return store.add_suite(name, items, check_metrics(store, metrics), check_generation(generation), source,
                           parent_id=parent_id, description=description)


def suite_from_version(store: ProjectStore, version_id: str, name: str, metrics: Sequence[MetricSpec],
                       generation: GenerationSettings = GenerationSettings(), limit: Optional[int] = None,
                       label_field: Optional[str] = None, description: Optional[str] = None) -> EvalSuite:
    """A suite of a dataset version's rows (the first `limit` of them): kind "test_split" when the
    version is a split's test part, else "dataset_version"."""
    from workbench.services.dataset_ops import title_of

    version = store.get_version(version_id)
    if limit is not None and limit < 1:
        raise WorkbenchError("The suite's row limit must be at least 1.")
    items, skipped = items_from_rows(_dataset_rows(store, version, limit), label_field)
    title = title_of(store, version)
    if not items:
        raise WorkbenchError(f"No row of {title} has a prompt, so the suite would be empty.",
                             advice="Choose a version whose conversations have a user turn before the reply.")
    if label_field and not any(i.label for i in items):
        raise WorkbenchError(f"No row of {title} has a value in the field {label_field!r}.",
                             advice="Check the field's name in the dataset's original rows, or leave the label out.")
    source = {"kind": "test_split" if version.derivation.is_test_part else "dataset_version",
              "dataset_version_id": version.id, "dataset_id": version.dataset_id,
              "dataset_hash": version.content_hash, "rows": len(items), "skipped_rows": skipped,
              "limit": limit, "label_field": label_field}
    return _add(store, name, items, metrics, generation, source,
                description=title if description is None else description)


def suite_from_items(store: ProjectStore, name: str, items: Sequence[Union[EvalItem, dict[str, Any]]],
                     metrics: Sequence[MetricSpec], generation: GenerationSettings = GenerationSettings(),
                     description: str = "", kind: str = "hand", source: Optional[dict[str, Any]] = None) -> EvalSuite:
    """A suite of items typed by hand (a probe set); `kind`/`source` for other makers (cv_fold)."""
    return _add(store, name, _as_items(items), metrics, generation, {**(source or {}), "kind": kind},
                description=description)


def read_items_file(path: str) -> list[EvalItem]:
    """Items of a JSONL file, one {messages | prompt, references | reference, label, tags, id} per
    line; an error names the file and the line."""
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"Could not read {name}.", details=str(exc),
                             advice="Choose a UTF-8 JSONL file with one item per line.") from exc
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise WorkbenchError(f"{name}, line {n}: not valid JSON.", details=str(exc),
                                 advice="Each line must be one JSON object.") from exc
        items.append(item_from_dict(data, f"{name}, line {n}", default_id=str(n - 1)))
    if not items:
        raise WorkbenchError(f"{name} has no items.", advice="Write one JSON object per line.")
    return items


def suite_from_file(store: ProjectStore, path: str, metrics: Sequence[MetricSpec], name: Optional[str] = None,
                    generation: GenerationSettings = GenerationSettings()) -> EvalSuite:
    items = read_items_file(path)
    return _add(store, name or os.path.splitext(os.path.basename(path))[0], items, metrics, generation,
                {"kind": "file", "file": os.path.basename(path)})


def edit_suite(store: ProjectStore, suite_id: str, items: Optional[Sequence[Union[EvalItem, dict[str, Any]]]] = None,
               metrics: Optional[Sequence[MetricSpec]] = None, generation: Optional[GenerationSettings] = None,
               name: Optional[str] = None, description: Optional[str] = None) -> EvalSuite:
    """A new version of the suite with what was given changed; the same suite when nothing changed
    (an item given as a dict without an id is a new item)."""
    old = store.get_suite(suite_id)
    old_items = store.suite_items(suite_id)
    new_items = old_items if items is None else _as_items(items)
    new_metrics = old.metrics if metrics is None else [m if isinstance(m, MetricSpec) else MetricSpec(str(m))
                                                        for m in metrics]
    new_generation = old.generation if generation is None else generation
    new_name = old.name if name is None else name.strip()
    new_description = old.description if description is None else description
    if (new_items == old_items and new_metrics == old.metrics and new_generation == old.generation
            and new_name == old.name and new_description == old.description):
        return old
    source = {**old.source, "edited_from": old.id}
    return _add(store, new_name, new_items, new_metrics, new_generation, source, parent_id=old.id,
                description=new_description)


def test_part_versions(store: ProjectStore) -> list[DatasetVersion]:
    """The dataset versions that are a split's test part (the usual source of a suite)."""
    return [v for v in store.list_versions() if v.derivation.is_test_part]


test_part_versions.__test__ = False  # type: ignore[attr-defined]  # not a test, for all its name


def check_generation(generation: GenerationSettings) -> GenerationSettings:
    """The settings, or a clear error for a value the child cannot generate with."""
    if generation.max_new_tokens < 1 or generation.batch_size < 1:
        raise WorkbenchError("Max new tokens and the batch size must be at least 1.")
    if not 0 < generation.top_p <= 1 or generation.temperature < 0:
        raise WorkbenchError("The temperature must be 0 or more and top-p above 0 and at most 1.")
    return generation
