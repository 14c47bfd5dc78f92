"""The `eval` verb: generate (and judge) every item of a suite with one model.

Items are generated in batches (eval_generate), each item reported as an `item` event as its
batch ends; an item that fails alone (a prompt longer than the context) is an `item` with an
error and the others go on. A stop request (the stop file or "stop" on stdin) ends the child after
the running batch with `cancelled`; a new child given the done outputs (EvalSpec.done_outputs,
judged_ids) carries on without redoing them. Events: workbench.jobs.protocol.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from typing import Any

from workbench.core.eval_records import EvalItem, GenerationSettings
from workbench.core.records import from_dict
from workbench.engine.control import StopSignal
from workbench.engine.errors import BadConfigError, BadDataError, failure_payload, is_oom
from workbench.engine.eval_generate import BatchGenerator, Generated, Prompt, render_prompt, set_cpu_threads
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import EvalSpec

EVAL_OOM_ADVICE = "Out of memory while generating. Lower the suite's batch size or max new tokens."


def read_items(path: str) -> list[EvalItem]:
    """The suite's items (JSONL, one EvalItem per line); a bad line is a clear error."""
    items: list[EvalItem] = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as exc:
        raise BadDataError(f"Cannot read the suite's items {path}.", details=str(exc),
                           advice="This is a launcher bug: the parent writes the items file.") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            item = from_dict(EvalItem, obj)
            if not isinstance(item.messages, list) or not item.messages or not str(item.id):
                raise ValueError("an item needs an id and a non-empty messages list")
        except (ValueError, TypeError) as exc:
            raise BadDataError(f"Line {n} of {path} is not an eval item.", details=str(exc),
                               advice="Each line must be a JSON object {id, messages, references, ...}.") from exc
        items.append(item)
    return items


def generation_settings(raw: dict[str, Any]) -> GenerationSettings:
    settings = from_dict(GenerationSettings, raw or {})
    for f in fields(GenerationSettings):
        value = getattr(settings, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadConfigError(f"The generation setting {f.name} must be a number, got {value!r}.")
    if int(settings.max_new_tokens) < 1 or int(settings.batch_size) < 1:
        raise BadConfigError("max_new_tokens and batch_size must be at least 1.",
                             details=f"max_new_tokens={settings.max_new_tokens}, batch_size={settings.batch_size}")
    if not 0 < settings.top_p <= 1:
        raise BadConfigError(f"top_p must be in (0, 1], got {settings.top_p}.")
    return GenerationSettings(int(settings.max_new_tokens), float(settings.temperature), float(settings.top_p),
                              int(settings.seed), int(settings.batch_size))


class EvalChild:
    def __init__(self, spec: EvalSpec, writer: EventWriter):
        self.spec = spec
        self.writer = writer
        self.stop = StopSignal(spec.stop_file)
        self.settings = generation_settings(spec.generation)
        self.items = read_items(spec.items_path)
        self.outputs: dict[str, str] = dict(spec.done_outputs)  # item id -> output, for the judge
        self.done = sum(1 for i in self.items if i.id in self.outputs)
        self.generated = 0
        self.failed = 0

    def progress(self, phase: str, done: int, total: int) -> None:
        self.writer.emit("progress", phase=phase, done=done, total=total)

    # -- generation ----------------------------------------------------------------------
    def _prompts(self, gen: BatchGenerator, todo: list[EvalItem]) -> tuple[list[Prompt], list[Generated]]:
        prompts, failures = [], []
        for item in todo:
            try:
                prompts.append(Prompt(item.id, render_prompt(gen.tokenizer, item.messages)))
            except Exception as exc:  # a template that rejects this item's messages
                failures.append(Generated(item.id, error=f"The chat template cannot render this item: {exc}"))
        return prompts, failures

    def batch(self, gen: BatchGenerator, batch: list[Prompt], settings: GenerationSettings) -> list[Generated]:
        """One batch's results; a batch that fails is retried one item at a time, so one bad item
        (or one too big for memory) fails alone."""
        try:
            return gen.generate(batch, settings)
        except Exception as exc:
            if len(batch) == 1:
                return [Generated(batch[0].key, error=failure_payload(exc, oom_advice=EVAL_OOM_ADVICE)["message"])]
            if is_oom(exc) and gen.device == "cuda":
                gen.torch.cuda.empty_cache()
            return [r for p in batch for r in self.batch(gen, [p], settings)]

    def _reference_losses(self, gen: BatchGenerator, keys: list[str]) -> dict[str, tuple[float, int]]:
        if not self.spec.reference_loss:
            return {}
        by_id = {i.id: i for i in self.items}
        examples = {}
        for key in keys:
            item = by_id[key]
            if item.references:
                example = gen.reference_example(item.messages, item.references[0])
                if example is not None:
                    examples[key] = example
        if not examples:
            return {}
        try:
            values = gen.reference_nll(list(examples.values()))
        except Exception:  # one batch too big: item by item, one that still fails has no loss
            values = []
            for example in examples.values():
                try:
                    values.extend(gen.reference_nll([example]))
                except Exception:
                    values.append(None)
        return {k: v for k, v in zip(examples, values) if v is not None}

    def _emit_items(self, gen: BatchGenerator, results: list[Generated], index: dict[str, int]) -> None:
        losses = self._reference_losses(gen, [r.key for r in results if r.error is None])
        for r in sorted(results, key=lambda r: index[r.key]):
            self.done += 1
            if r.error is not None:
                self.failed += 1
                self.writer.emit("item", item_id=r.key, idx=index[r.key], error=r.error)
                continue
            self.generated += 1
            self.outputs[r.key] = r.text
            nll, count = losses.get(r.key, (None, None))
            self.writer.emit("item", item_id=r.key, idx=index[r.key], output=r.text, tokens=r.tokens,
                             seconds=r.seconds, finish_reason=r.finish_reason,
                             ref_nll=None if nll is None else round(nll, 6), ref_tokens=count)

    def generate(self, loaded, device: str) -> bool:
        """Generates every item not done yet; False when stopped before the end."""
        gen = BatchGenerator(loaded.model, loaded.tokenizer, device)
        index = {item.id: n for n, item in enumerate(self.items)}
        todo = [i for i in self.items if i.id not in self.outputs]
        prompts, failures = self._prompts(gen, todo)
        batches, too_long = gen.plan(prompts, self.settings)
        total = len(self.items)
        if failures or too_long:
            self._emit_items(gen, failures + too_long, index)
        for batch in batches:
            if self.stop.requested():
                return False
            self._emit_items(gen, self.batch(gen, batch, self.settings), index)
            self.progress("generate", self.done, total)
        return True

    # -- the child -----------------------------------------------------------------------
    def run(self) -> int:
        from workbench.engine.devices import pick_device
        from workbench.engine.eval_load import check_folders, load_model

        started = time.monotonic()
        self.stop.watch_stdin()
        check_folders(self.spec.base_model_path, self.spec.adapter_path)
        if self.spec.judge is not None:
            check_folders(self.spec.judge.model_path, self.spec.judge.adapter_path, role="judge model")
        plan = pick_device(self.spec.device)
        if plan.device == "cpu":
            set_cpu_threads()
        self.progress("load", 0, 1)
        loaded = load_model(self.spec.base_model_path, self.spec.adapter_path, plan)
        self.progress("load", 1, 1)
        todo = sum(1 for i in self.items if i.id not in self.outputs)
        self.writer.emit("started", total_items=len(self.items), todo_items=todo, device=plan.device,
                         model=self.spec.base_model_path, adapter=self.spec.adapter_path)
        gen_started = time.monotonic()
        finished = self.generate(loaded, plan.device)
        gen_seconds = time.monotonic() - gen_started
        if finished and self.spec.judge is not None:
            from workbench.engine.eval_judge import run_judge

            finished = run_judge(self, loaded, plan)
        if not finished:
            self.writer.emit("cancelled", done=self.done)
            return 0
        self.writer.emit("completed", items=self.generated, failed=self.failed,
                         seconds=round(time.monotonic() - started, 3),
                         items_per_s=round(self.generated / gen_seconds, 4) if gen_seconds > 0 else None)
        return 0


def run_eval(spec: EvalSpec, writer: EventWriter) -> int:
    return EvalChild(spec, writer).run()
