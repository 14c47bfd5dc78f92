"""The judge phase of the `eval` child: a local model reads each generated output against the
rubric (workbench.evaluation.judge renders the prompt and parses the verdict) and each verdict is
a `judged` event.

A small local judge (SmolLM2-135M) often writes its reasoning but no verdict line the parser can
read. With JudgeSpec.verdict "auto" (the default) such a reply is then asked for its verdict the
way G-Eval reads scores: the cue ("Verdict:" / "Score:") is appended to what it wrote and the
verdict is the allowed answer (PASS / FAIL, 1-5) the judge model itself finds most likely — one
teacher-forced pass, no extra generation; the reason says so, with the probabilities. With
"text" a reply without a readable verdict is a `judged` event with the error and the raw text.
Either way never a crash."""

from __future__ import annotations

import contextlib
import gc
import os
from typing import TYPE_CHECKING

import math
import re

from workbench.core.eval_records import PASS_FAIL, GenerationSettings
from workbench.engine.eval_generate import BatchGenerator, Generated, Prompt, render_prompt

# scale -> (the cue the judge prompt asks for, the allowed answers, their scores)
VERDICT_CHOICES = {
    PASS_FAIL: ("Verdict:", (" PASS", " FAIL"), (1.0, 0.0)),
    "1-5": ("Score:", (" 1", " 2", " 3", " 4", " 5"), (1.0, 2.0, 3.0, 4.0, 5.0)),
}
_CUT = re.compile(r"(verdict|score|rating)\s*[:=]", re.IGNORECASE)


def _reasoning(reply: str) -> str:
    """The reply up to a verdict line it began (and could not finish readably)."""
    match = _CUT.search(reply)
    return (reply[:match.start()] if match else reply).strip()


def verdict_examples(tokenizer, prompt_ids: list[int], reply: str, scale: str) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) per allowed answer: the judge prompt, its reply up to any verdict line it
    began, the cue, then the answer (only the answer's tokens labelled)."""
    from workbench.engine.train_data import IGNORE_INDEX

    cue, answers, _scores = VERDICT_CHOICES[scale]
    reasoning = _reasoning(reply)
    prefix = prompt_ids + tokenizer(f"{reasoning}\n{cue}" if reasoning else cue, add_special_tokens=False)["input_ids"]
    out = []
    for answer in answers:
        tail = tokenizer(answer, add_special_tokens=False)["input_ids"]
        out.append((prefix + tail, [IGNORE_INDEX] * len(prefix) + tail))
    return out


def read_verdict(gen: BatchGenerator, prompt: Prompt, result: Generated, scale: str) -> tuple[float, str]:
    """(score, reason) from the judge's own probabilities of the allowed answers after the cue."""
    _cue, answers, scores = VERDICT_CHOICES[scale]
    examples = verdict_examples(gen.tokenizer, list(prompt.ids), result.text, scale)
    if gen.limit is not None and max(len(e[0]) for e in examples) > gen.limit:
        raise ValueError("the judge prompt and its reply fill the judge's context")
    nll = [n for n, _count in gen.reference_nll(examples)]
    low = min(nll)
    weights = [math.exp(low - n) for n in nll]
    total = sum(weights)
    best = min(range(len(nll)), key=nll.__getitem__)
    probs = " / ".join(f"{a.strip()} {w / total:.2f}" for a, w in zip(answers, weights))
    reasoning = _reasoning(result.text)
    note = f"[no verdict line; read from the judge's probabilities: {probs}]"
    return scores[best], f"{reasoning}\n{note}" if reasoning else note

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
    by_key = {p.key: p for p in prompts}
    auto = getattr(judge, "verdict", "auto") != "text"
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
                    if not auto:
                        child.writer.emit("judged", item_id=result.key, error=exc.user_message, reason=result.text)
                        continue
                    try:
                        score, reason = read_verdict(gen, by_key[result.key], result, judge.scale)
                    except Exception as inner:  # noqa: BLE001 - this item's verdict only
                        child.writer.emit("judged", item_id=result.key, reason=result.text,
                                          error=f"{exc.user_message} Reading it from the judge's probabilities "
                                                f"failed too: {inner}")
                        continue
                child.writer.emit("judged", item_id=result.key, score=float(score), reason=reason)
            done += len(batch)
            child.progress("judge", done, len(prompts))
    return True
