"""The judge phase of the `eval` child: a local model reads each generated output against the
rubric (workbench.evaluation.judge renders the prompt and parses the verdict) and each verdict is
a `judged` event. A verdict that cannot be parsed is a `judged` event with the error and the raw
text, never a crash."""

from __future__ import annotations

import contextlib
import gc
import os
from typing import TYPE_CHECKING

from workbench.core.eval_records import GenerationSettings
from workbench.engine.eval_generate import BatchGenerator, Prompt, render_prompt

if TYPE_CHECKING:
    from workbench.engine.eval_load import Loaded
    from workbench.engine.evaluate import EvalChild


def _same(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return not a and not b
    return os.path.realpath(a) == os.path.realpath(b)


def judge_model(child: "EvalChild", loaded: "Loaded", plan):
    """(model, tokenizer, context): the evaluated model itself when the judge is the same folder
    (with its adapter switched off when only the evaluated model has one), else the judge loaded
    in its place (the evaluated model is freed first: two models may not fit)."""
    from workbench.engine.eval_load import load_model, load_tokenizer

    judge = child.spec.judge
    if _same(judge.model_path, loaded.path) and _same(judge.adapter_path, loaded.adapter):
        return loaded.model, loaded.tokenizer, contextlib.nullcontext()
    if _same(judge.model_path, loaded.path) and not judge.adapter_path and hasattr(loaded.model, "disable_adapter"):
        return loaded.model, load_tokenizer(judge.model_path, None), loaded.model.disable_adapter()
    loaded.model = None
    gc.collect()
    if plan.device == "cuda":
        import torch

        torch.cuda.empty_cache()
    other = load_model(judge.model_path, judge.adapter_path, plan, role="judge model")
    return other.model, other.tokenizer, contextlib.nullcontext()


def run_judge(child: "EvalChild", loaded: "Loaded", plan) -> bool:
    """Judges every generated item not judged yet; False when stopped before the end."""
    from workbench.evaluation.judge import JudgeParseError, judge_messages, parse_verdict

    judge = child.spec.judge
    judged = set(child.spec.judged_ids)
    todo = [i for i in child.items if i.id in child.outputs and i.id not in judged]
    if not todo:
        return True
    child.progress("load", 0, 1)
    model, tokenizer, context = judge_model(child, loaded, plan)
    child.progress("load", 1, 1)
    settings = GenerationSettings(max_new_tokens=int(judge.max_new_tokens), temperature=0.0,
                                  batch_size=child.settings.batch_size)
    prompts = []
    for item in todo:
        messages = judge_messages(judge.rubric, judge.scale, item.messages,
                                  item.references[0] if item.references else None, child.outputs[item.id])
        prompts.append(Prompt(item.id, render_prompt(tokenizer, messages)))
    done = 0
    with context:
        gen = BatchGenerator(model, tokenizer, plan.device)
        batches, too_long = gen.plan(prompts, settings)
        for result in too_long:
            child.writer.emit("judged", item_id=result.key, error=f"The judge cannot read it: {result.error}",
                              reason="")
        done += len(too_long)
        for batch in batches:
            if child.stop.requested():
                return False
            for result in child.batch(gen, batch, settings):
                if result.error is not None:
                    child.writer.emit("judged", item_id=result.key, error=result.error, reason="")
                    continue
                try:
                    score, reason = parse_verdict(result.text, judge.scale)
                except JudgeParseError as exc:
                    child.writer.emit("judged", item_id=result.key, error=exc.user_message, reason=result.text)
                    continue
                child.writer.emit("judged", item_id=result.key, score=float(score), reason=reason)
            done += len(batch)
            child.progress("judge", done, len(prompts))
    return True
