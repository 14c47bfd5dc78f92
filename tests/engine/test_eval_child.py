"""The `eval` child: batched greedy generation equal to one-at-a-time generation, the reference
loss, an item that fails alone, cancel then resume without redoing items, the judge phase (a
verdict it cannot parse is an item error), and a model or adapter that cannot load."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.engine.demo_corpus import shop_conversations
from tests.engine.engine_helpers import LiveChild, run_engine
from workbench.core.eval_records import EvalItem, GenerationSettings
from workbench.jobs.specs import EvalSpec, JudgeSpec

LONG = "Please read all of this carefully. " * 120  # far past the tiny model's 512 positions


def _items(n: int, long_at: int | None = None) -> list[EvalItem]:
    items = []
    for i, row in enumerate(shop_conversations(n, seed=5)):
        msgs = row["messages"]
        items.append(EvalItem(id=f"q{i}", messages=msgs[:-1], references=[msgs[-1]["content"]]))
    if long_at is not None:
        items.insert(long_at, EvalItem(id="long", messages=[{"role": "user", "content": LONG}],
                                       references=["ok"]))
    return items


def _spec(tmp_path, model: str, items: list[EvalItem], name: str = "ev", **extra) -> EvalSpec:
    path = tmp_path / f"{name}.items.jsonl"
    path.write_text("".join(json.dumps(i.to_json()) + "\n" for i in items), encoding="utf-8")
    extra.setdefault("generation", {"max_new_tokens": 24, "batch_size": 4})
    return EvalSpec(eval_run_id=name, base_model_path=model, items_path=str(path),
                    journal_path=str(tmp_path / f"{name}.journal.jsonl"), stop_file=str(tmp_path / f"{name}.STOP"),
                    **extra)


def _run(tmp_path, spec: EvalSpec, name: str = "ev"):
    return run_engine("eval", spec, str(tmp_path / f"{name}.spec.json"))


def _by_id(result, kind: str = "item") -> dict:
    return {e.payload["item_id"]: e.payload for e in result.events if e.kind == kind}


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # One thread: the tiny model's matmuls are too small to share, and on a busy machine two
    # spinning threads per process make each step many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.set_num_threads(threads)


def _one_at_a_time(model, tokenizer, messages, max_new: int) -> str:
    """A plain model.generate of one unpadded prompt: what batching must reproduce."""
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                             do_sample=False, temperature=None, top_p=None, top_k=None,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def _reference_nll(model, tokenizer, messages, reference) -> tuple[float, int]:
    """The unbatched teacher-forced loss of what follows the prompt (the reply and its end of turn,
    as training labels it), by the model's own loss."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": reference}], tokenize=False)
    assert full.startswith(prompt) and full.rstrip().endswith("<|im_end|>")
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
    labels = ids.clone()
    labels[0, :n_prompt] = -100
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=labels).loss
    count = int(ids.shape[1] - n_prompt)
    return float(loss) * count, count


def test_batched_generation_equals_one_at_a_time_and_sampling_is_seeded(tiny):
    from workbench.engine.eval_generate import BatchGenerator, Prompt, render_prompt

    model, tokenizer = tiny
    items = _items(7)
    gen = BatchGenerator(model, tokenizer, "cpu")
    prompts = [Prompt(i.id, render_prompt(tokenizer, i.messages)) for i in items]
    greedy = GenerationSettings(max_new_tokens=16, batch_size=3)
    batches, failures = gen.plan(prompts, greedy)
    assert not failures and [len(b) for b in batches] == [3, 3, 1]
    lengths = [len(p.ids) for b in batches for p in b]
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) > 1  # padding really happens
    out = {r.key: r for b in batches for r in gen.generate(b, greedy)}
    for item in items:
        assert out[item.id].text == _one_at_a_time(model, tokenizer, item.messages, 16), item.id
        assert out[item.id].finish_reason in ("stop", "length") and 0 < out[item.id].tokens <= 16

    sampled = GenerationSettings(max_new_tokens=16, temperature=1.0, seed=3, batch_size=3)
    first = [r.text for b in batches for r in gen.generate(b, sampled)]
    again = [r.text for b in batches for r in gen.generate(b, sampled)]
    assert first == again and first != [out[p.key].text for b in batches for p in b]

    examples = [gen.reference_example(i.messages, i.references[0]) for i in items[:5]]
    batched = gen.reference_nll(examples)
    for item, (nll, count) in zip(items[:5], batched):
        want_nll, want_count = _reference_nll(model, tokenizer, item.messages, item.references[0])
        assert count == want_count and nll == pytest.approx(want_nll, rel=1e-4)


@pytest.mark.slow
def test_child_generates_every_item_with_reference_loss_and_a_too_long_item_fails_alone(
        tmp_path, tiny_model_dir, tiny):
    model, tokenizer = tiny
    items = _items(6, long_at=2)
    spec = _spec(tmp_path, tiny_model_dir, items, reference_loss=True)
    result = _run(tmp_path, spec)
    assert result.rc == 0, result.stderr[-3000:]
    kinds = result.kinds()
    assert kinds[-1] == "completed" and kinds.index("started") < kinds.index("item")
    started = result.last("started").payload
    assert started == {"total_items": 7, "todo_items": 7, "device": "cpu", "model": tiny_model_dir, "adapter": None}
    got = _by_id(result)
    assert set(got) == {i.id for i in items}
    assert "512" in got["long"]["error"] and "output" not in got["long"] and got["long"]["idx"] == 2
    for idx, item in enumerate(items):
        if item.id == "long":
            continue
        p = got[item.id]
        assert p["idx"] == idx
        assert p["output"] == _one_at_a_time(model, tokenizer, item.messages, 24)
        nll, count = _reference_nll(model, tokenizer, item.messages, item.references[0])
        assert p["ref_tokens"] == count and p["ref_nll"] == pytest.approx(nll, rel=1e-4)
    assert result.last("completed").payload["items"] == 6 and result.last("completed").payload["failed"] == 1
    progress = [e.payload for e in result.events if e.kind == "progress" and e.payload["phase"] == "generate"]
    assert progress[-1] == {"phase": "generate", "done": 7, "total": 7}
    journal = [json.loads(line)["kind"] for line in open(spec.journal_path, encoding="utf-8")]
    assert journal == kinds


@pytest.mark.slow
def test_cancel_after_a_batch_then_resume_generates_only_the_rest(tmp_path, tiny_model_dir):
    # A copy of the model that never ends a reply: every batch takes max_new_tokens steps.
    model = tmp_path / "no-eos"
    shutil.copytree(tiny_model_dir, model)
    gen_path = model / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["suppress_tokens"] = [gen["eos_token_id"]]
    gen_path.write_text(json.dumps(gen))
    items = _items(10)
    spec = _spec(tmp_path, str(model), items, generation={"max_new_tokens": 16, "batch_size": 2})
    child = LiveChild("eval", spec, str(tmp_path / "ev.spec.json"))
    try:
        first = child.wait_for("item", "failed", timeout=120)
        assert first.kind == "item", first.payload
        open(spec.stop_file, "w").close()
        end = child.wait_for("cancelled", "completed", "failed", timeout=120)
        assert child.finish() == 0
    finally:
        child.kill()
    assert end.kind == "cancelled", end.payload
    done = {e.payload["item_id"]: e.payload["output"] for e in child.events if e.kind == "item"}
    assert 2 <= len(done) < 10 and len(done) % 2 == 0 and end.payload == {"done": len(done)}
    assert all(e.payload["finish_reason"] == "length" and e.payload["tokens"] == 16
               for e in child.events if e.kind == "item")

    os.remove(spec.stop_file)
    resumed = _spec(tmp_path, str(model), items, generation={"max_new_tokens": 16, "batch_size": 2},
                    done_outputs=done)
    result = _run(tmp_path, resumed)
    assert result.rc == 0, result.stderr[-3000:]
    assert result.last("started").payload["todo_items"] == 10 - len(done)
    again = _by_id(result)
    assert set(again) == {i.id for i in items} - set(done)  # nothing redone
    assert result.last("completed").payload["items"] == 10 - len(done)
    seqs = [json.loads(line)["seq"] for line in open(spec.journal_path, encoding="utf-8")]
    assert seqs == list(range(1, len(seqs) + 1))  # the resumed child numbers on


def _scripted_judge(tiny_model_dir: str, folder, text: str) -> str:
    """A copy of the tiny model whose generation config biases it to write `text` then stop:
    a real local model that answers with a verdict the parser reads."""
    from transformers import AutoTokenizer

    shutil.copytree(tiny_model_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    pairs = list(zip(ids, ids[1:]))
    assert len(set(pairs)) == len(pairs)  # the last two tokens name the next one
    # The first token, then the second after it, then each next one after the two before it.
    bias = [[ids[:1], 50.0], [ids[:2], 150.0]] + [[ids[i - 2:i + 1], 400.0] for i in range(2, len(ids))]
    gen_path = folder / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["sequence_bias"] = bias
    gen_path.write_text(json.dumps(gen))
    return str(folder)


@pytest.mark.slow
def test_judge_phase_end_to_end_with_unparseable_and_parsed_verdicts(tmp_path, tiny_model_dir):
    items = _items(3)
    rubric = "The reply helps the customer."
    # The tiny model judging itself (the loaded model is reused) writes no verdict: with verdicts
    # read from the text only, item errors.
    spec = _spec(tmp_path, tiny_model_dir, items, judge=JudgeSpec(model_path=tiny_model_dir, rubric=rubric,
                                                                  max_new_tokens=24, verdict="text"))
    result = _run(tmp_path, spec)
    assert result.rc == 0, result.stderr[-3000:]
    outputs = {k: v["output"] for k, v in _by_id(result).items()}
    judged = _by_id(result, "judged")
    assert set(judged) == {i.id for i in items} and result.kinds()[-1] == "completed"
    for verdict in judged.values():
        assert "verdict" in verdict["error"] and isinstance(verdict["reason"], str) and "score" not in verdict
    assert result.kinds().index("judged") > max(i for i, k in enumerate(result.kinds()) if k == "item")

    # Resume with every output done and one item judged: only the judge runs, on the other two,
    # with another model (a scripted one that writes a verdict).
    judge = _scripted_judge(tiny_model_dir, tmp_path / "judge", "Reasoning: good\nVerdict: PASS")
    again = _spec(tmp_path, tiny_model_dir, items, name="ev2", done_outputs=outputs, judged_ids=["q0"],
                  judge=JudgeSpec(model_path=judge, rubric=rubric, max_new_tokens=24))
    result = _run(tmp_path, again, name="ev2")
    assert result.rc == 0, result.stderr[-3000:]
    assert "item" not in result.kinds() and result.last("started").payload["todo_items"] == 0
    assert _by_id(result, "judged") == {"q1": {"item_id": "q1", "score": 1.0, "reason": "good"},
                                        "q2": {"item_id": "q2", "score": 1.0, "reason": "good"}}


@pytest.mark.slow
def test_a_model_that_cannot_load_and_an_adapter_for_another_base_fail_clearly(tmp_path, tiny_model_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    items = _items(2)
    missing = _spec(tmp_path, str(tmp_path / "gone"), items, name="missing")
    result = _run(tmp_path, missing, name="missing")
    assert result.rc == 1 and result.kinds()[-1] == "failed"
    failed = result.last("failed").payload
    assert failed["error_kind"] == "missing_model" and str(tmp_path / "gone") in failed["message"]
    assert failed["advice"]

    # A LoRA adapter made on another (smaller) GPT-2: the same module names, other sizes.
    torch.manual_seed(0)
    other = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=3, n_head=2))
    other.name_or_path = other.config.name_or_path = "other-gpt2"
    adapter = tmp_path / "adapter"
    get_peft_model(other, LoraConfig(r=4, target_modules=["c_attn", "c_proj"])).save_pretrained(
        str(adapter), save_embedding_layers=False)
    wrong = _spec(tmp_path, tiny_model_dir, items, name="wrong", adapter_path=str(adapter))
    result = _run(tmp_path, wrong, name="wrong")
    assert result.rc == 1 and "item" not in result.kinds()
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_config"
    assert f"The adapter {adapter} was trained on another base model (other-gpt2)" in failed["message"]
    assert "base model its run trained on" in failed["advice"] and "size mismatch" in failed["details"]


def test_a_reply_without_a_verdict_line_gets_the_verdict_the_judge_finds_most_likely(tiny_model_dir):
    """read_verdict (the default "auto" verdicts) in this process: its batched, left-padded
    scoring of the allowed answers picks the answer a plain unpadded forward pass over each full
    text finds most likely, and reports their probabilities."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.engine.eval_generate import BatchGenerator, Generated, Prompt, render_prompt
    from workbench.engine.eval_judge import verdict_examples, read_verdict
    from workbench.evaluation.judge import judge_messages

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    gen = BatchGenerator(model, tokenizer, "cpu")
    messages = judge_messages("The reply helps the customer.", "1-5",
                              [{"role": "user", "content": "Where is my order?"}], "It ships today.", "Tomorrow.")
    prompt = Prompt("q0", render_prompt(tokenizer, messages))
    reply = Generated("q0", text="Reasoning: the reply is short and helps a little.")
    score, reason = read_verdict(gen, prompt, reply, "1-5")
    expected = []
    for ids, labels in verdict_examples(tokenizer, list(prompt.ids), reply.text, "1-5"):
        with torch.inference_mode():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0, :-1].float(), -1)
        expected.append(sum(float(logp[i - 1, t]) for i, t in enumerate(ids) if labels[i] != -100 and i > 0))
    assert score == 1.0 + max(range(5), key=expected.__getitem__)
    assert "the reply is short" in reason and "read from the judge's probabilities" in reason
    probs = [float(p.split()[1]) for p in reason.rsplit(": ", 1)[1].rstrip("]").split(" / ")]
    assert len(probs) == 5 and abs(sum(probs) - 1.0) < 0.02
    pass_fail, why = read_verdict(gen, prompt, Generated("q0", text="Verdict: mayb"), "pass_fail")
    assert pass_fail in (0.0, 1.0) and why.startswith("[no verdict line")  # the broken verdict line is cut
