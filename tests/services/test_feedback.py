"""Feedback into data on a real project store: ratings and corrections become SFT rows and
pairs, arena votes become pairs naming the right models after the blind shuffle is undone,
make_version writes a deduplicated, leakage-checked version, and the JSONL export loads with
datasets.load_dataset and passes TRL's data preparation."""

from __future__ import annotations

import json

import pytest

from workbench.core.chat_records import ArenaSide, ChatTarget
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalItem, GenerationSettings, MetricSpec
from workbench.services import datasets, feedback

SYSTEM = "Answer in one sentence."


@pytest.fixture
def targets(store):
    # Three base models stand in for base / adapter / checkpoint (a run needs a real dataset).
    return {name: ChatTarget(store.add_base_model(name, name, f"/nowhere/{name}", f"fp-{name}").id).key
            for name in ("base", "tuned", "ckpt")}


def _chat(store, targets, prompt="Where is Paris?", reply="Paris is in Spain.", model="base"):
    target = ChatTarget.from_key(targets[model])
    conv = store.add_conversation("c", target.base_model_id, target.run_id, system_prompt=SYSTEM)
    first = store.add_turn(conv.id, "user", "Hi")
    hello = store.add_turn(conv.id, "assistant", "Hello!", parent_id=first.id, model_key=targets[model])
    user = store.add_turn(conv.id, "user", prompt, parent_id=hello.id)
    return store.add_turn(conv.id, "assistant", reply, parent_id=user.id, model_key=targets[model],
                          settings={"temperature": 0.0, "seed": 7})


def _arena_round(store, targets, prompt, replies: dict[str, str], display: list[str], side_system=SYSTEM):
    """A blind round whose display positions (A, B, ...) show the models in `display` order."""
    names = list(replies)
    arena = store.add_arena("arena", [targets[n] for n in names], blind=True, system_prompt=SYSTEM)
    sessions = {}
    for name in names:
        t = ChatTarget.from_key(targets[name])
        sessions[name] = store.add_conversation(name, t.base_model_id, t.run_id, system_prompt=side_system,
                                                arena_id=arena.id)
    sides = [ArenaSide(pos, targets[name], sessions[name].id) for pos, name in enumerate(display)]
    rnd = store.add_round(arena.id, prompt, sides, blind=True)
    for pos, name in enumerate(display):
        user = store.add_turn(sessions[name].id, "user", prompt)
        reply = store.add_turn(sessions[name].id, "assistant", replies[name], parent_id=user.id,
                               model_key=targets[name], settings={"temperature": 0.7})
        rnd = store.set_round_reply(rnd.id, pos, reply.id)
    return rnd


def test_a_correction_is_an_sft_row_and_a_pair_with_its_provenance(store, targets):
    reply = _chat(store, targets)
    feedback.save_rating(store, reply.id, thumbs=-1, correction="Paris is in France.", rater="ann")
    items = {i.kind: i for i in feedback.feedback_items(store)}
    assert set(items) == {"sft", "preference"}
    sft, pair = items["sft"], items["preference"]
    prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"},
              {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Where is Paris?"}]
    assert list(sft.prompt) == prompt and sft.messages[-1]["content"] == "Paris is in France."
    assert pair.chosen[0]["content"] == "Paris is in France." and pair.rejected[0]["content"] == "Paris is in Spain."
    source = pair.provenance.to_dict()
    assert source["session_id"] == reply.session_id and source["message_ids"] == [reply.id]
    assert source["models"] == [targets["base"]] and source["settings"] == {"temperature": 0.0, "seed": 7}
    assert source["rater"] == "ann" and source["rated_at"] and source["origin"] == "correction"
    assert sft.id.startswith("fb:") and pair.id == f"{sft.id}:pair"


def test_a_reply_rated_good_is_an_sft_row_and_a_mixed_or_bad_rating_is_not(store, targets):
    good = _chat(store, targets, prompt="2+2?", reply="4.")
    so_so = _chat(store, targets, prompt="3+3?", reply="6.")
    bad = _chat(store, targets, prompt="4+4?", reply="9.")
    feedback.save_rating(store, good.id, scale=5)
    feedback.save_rating(store, so_so.id, thumbs=1, scale=2)  # contradicting itself: not a good reply
    feedback.save_rating(store, bad.id, thumbs=-1)
    items = feedback.feedback_items(store)
    assert [(i.kind, i.chosen[0]["content"], i.provenance.origin) for i in items] == [("sft", "4.", "rated_good")]
    feedback.save_rating(store, good.id, scale=None)  # withdrawn: nothing left
    assert feedback.feedback_items(store) == []


def test_blind_votes_become_pairs_that_name_the_right_models(store, targets):
    replies = {"base": "Paris is in Spain.", "tuned": "Paris is in France.", "ckpt": "Paris? No idea."}
    # Shown as A = tuned, B = ckpt, C = base: the display order is not the arena's order.
    rnd = _arena_round(store, targets, "Where is Paris?", replies, display=["tuned", "ckpt", "base"])
    vote = store.add_vote(rnd.id, "a", rater="ann", blind=True)
    pairs = sorted(feedback.feedback_items(store, "preference"), key=lambda i: i.id)
    assert [p.id for p in pairs] == [f"vote:{vote.id}:1", f"vote:{vote.id}:2"]
    by_loser = {p.provenance.models[1]: p for p in pairs}
    assert set(by_loser) == {targets["ckpt"], targets["base"]}
    for loser, pair in by_loser.items():
        assert pair.provenance.models[0] == targets["tuned"]
        assert pair.chosen[0]["content"] == "Paris is in France."
        assert pair.rejected[0]["content"] == replies["ckpt" if loser == targets["ckpt"] else "base"]
        assert pair.prompt == ({"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is Paris?"})
        source = pair.provenance.to_dict()
        assert source["blind"] is True and source["round_id"] == rnd.id and source["voted_at"] == vote.created_at
        assert source["rater"] == "ann" and source["settings"] == {"temperature": 0.7}


def test_a_side_without_a_system_prompt_takes_its_arenas(store, targets):
    rnd = _arena_round(store, targets, "Q?", {"base": "one", "tuned": "two"}, display=["base", "tuned"],
                       side_system="")
    store.add_vote(rnd.id, "a", rater="ann", blind=True)
    [pair] = feedback.feedback_items(store, "preference")
    assert pair.prompt[0] == {"role": "system", "content": SYSTEM}


def test_a_later_vote_replaces_the_earlier_one_and_ties_make_no_pair(store, targets):
    rnd = _arena_round(store, targets, "Q?", {"base": "one", "tuned": "two"}, display=["base", "tuned"])
    store.add_vote(rnd.id, "a", rater="ann", blind=True)
    second = store.add_vote(rnd.id, "b", rater="ann", blind=False)  # changed her mind after the reveal
    pairs = feedback.feedback_items(store, "preference")
    assert [(p.chosen[0]["content"], p.rejected[0]["content"], p.provenance.blind) for p in pairs] == [
        ("two", "one", False)]
    assert pairs[0].provenance.models == (targets["tuned"], targets["base"]) and second.id in pairs[0].id
    tied = _arena_round(store, targets, "Q2?", {"base": "x", "tuned": "y"}, display=["tuned", "base"])
    store.add_vote(tied.id, "tie", rater="bob", blind=True)
    both = _arena_round(store, targets, "Q3?", {"base": "x", "tuned": "y"}, display=["tuned", "base"])
    store.add_vote(both.id, "both_bad", rater="bob", blind=True)
    assert len(feedback.feedback_items(store, "preference")) == 1


def _suite(store, prompt):
    item = EvalItem(id="i1", messages=[{"role": "system", "content": "Other system."},
                                       {"role": "user", "content": prompt}], references=["x"])
    return store.add_suite("geo", [item], [MetricSpec("rouge_l")], GenerationSettings(), {"kind": "hand"})


def test_make_version_writes_pairs_and_drops_duplicates_and_leaks(store, targets):
    rnd = _arena_round(store, targets, "Where is Paris?", {"base": "Spain.", "tuned": "France."},
                       display=["tuned", "base"])
    store.add_vote(rnd.id, "a", rater="ann", blind=True)
    leak = _arena_round(store, targets, "What is the capital of Peru?", {"base": "Rome.", "tuned": "Lima."},
                        display=["base", "tuned"])
    store.add_vote(leak.id, "b", rater="ann", blind=True)
    dup = _arena_round(store, targets, "Where is Rome?", {"base": "Italy.", "tuned": "Spain."},
                       display=["base", "tuned"])
    store.add_vote(dup.id, "a", rater="ann", blind=True)
    _suite(store, "what is the  capital of PERU?")  # the same prompt, spelled differently
    items = {i.provenance.round_id: i for i in feedback.feedback_items(store, "preference")}
    # The Rome pair is already in the project's data.
    datasets.create_version_from_rows(store, dataset_name="earlier", rows=[items[dup.id].row()],
                                      kind="preference", source_name="earlier")
    result = feedback.make_version(store, [i.id for i in items.values()], "preference", "From the arena")
    assert (result.written, result.duplicates, result.kind) == (1, (items[dup.id].id,), "preference")
    assert [(x.item_id, x.suite, x.similarity) for x in result.leaks] == [(items[leak.id].id, "geo v1", 1.0)]
    version = store.get_version(result.version_id)
    assert version.kind == "preference" and version.row_count == 1
    [row] = datasets.read_rows(store, version.id, 0, 10)
    assert row["messages"][-1]["content"] == "France." and row["rejected"][0]["content"] == "Spain."
    assert row["source"]["models"] == [targets["tuned"], targets["base"]] and row["source"]["blind"] is True
    assert "1 row written" in result.summary() and "geo v1" in result.summary()
    # Asked to keep them, a leaking row is written and flagged.
    kept = feedback.make_version(store, [items[leak.id].id], "preference", "Kept", drop_leaks=False)
    [row] = datasets.read_rows(store, kept.version_id, 0, 10)
    assert kept.written == 1 and row["source"]["leaks_into_suite"] == "geo v1"


def test_make_version_sft_and_its_errors(store, targets):
    reply = _chat(store, targets)
    feedback.save_rating(store, reply.id, correction="Paris is in France.")
    ids = [i.id for i in feedback.feedback_items(store)]
    result = feedback.make_version(store, ids, "sft", "Corrections")
    assert result.written == 1 and len(result.skipped) == 1  # the pair is left out of an SFT version
    assert store.get_version(result.version_id).kind == "sft"
    again = feedback.make_version(store, ids, "sft", "Corrections")
    assert again.written == 0 and again.version_id is None and len(again.duplicates) == 1
    with pytest.raises(WorkbenchError, match="no longer exist"):
        feedback.make_version(store, ["fb:gone"], "sft", "x")
    with pytest.raises(WorkbenchError, match="No feedback is selected"):
        feedback.make_version(store, [], "sft", "x")
    with pytest.raises(WorkbenchError, match="Unknown kind"):
        feedback.make_version(store, ids, "kto", "x")
    pair_only = [i for i in ids if i.endswith(":pair")]
    with pytest.raises(WorkbenchError, match="is an SFT row"):
        feedback.make_version(store, pair_only, "sft", "x")


def test_the_export_loads_with_datasets_and_trl_accepts_it(store, targets, tmp_path, tiny_model_dir):
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    rnd = _arena_round(store, targets, "Where is Paris?", {"base": "Spain.", "tuned": "France."},
                       display=["base", "tuned"])
    store.add_vote(rnd.id, "b", rater="ann", blind=True)
    reply = _chat(store, targets)
    feedback.save_rating(store, reply.id, correction="Paris is in France.")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for kind, count in (("preference", 2), ("sft", 1)):
        out = tmp_path / f"{kind}.jsonl"
        assert feedback.export_feedback(store, kind, str(out)) == count
        data = load_dataset("json", data_files=str(out), split="train")
        assert len(data) == count
        for row in data:
            assert is_conversational(row)
            rendered = maybe_apply_chat_template(row, tokenizer)
            if kind == "preference":
                assert set(rendered) >= {"prompt", "chosen", "rejected"}
                assert "Where is Paris?" in rendered["prompt"] and rendered["chosen"] != rendered["rejected"]
            else:
                assert "Paris is in France." in rendered["text"]
            assert json.loads(row["source"])["session_id"]
    pairs = [json.loads(line) for line in (tmp_path / "preference.jsonl").read_text().splitlines()]
    vote_pair = next(p for p in pairs if json.loads(p["source"])["origin"] == "vote")
    assert vote_pair["chosen"] == [{"role": "assistant", "content": "France."}]
    assert vote_pair["rejected"] == [{"role": "assistant", "content": "Spain."}]
    with pytest.raises(WorkbenchError, match="no sft feedback"):
        feedback.export_feedback(store.__class__.create(str(tmp_path / "Empty.wbproj")), "sft", str(tmp_path / "e.jsonl"))


def test_models_are_named_by_their_model_and_run(store, targets):
    base = ChatTarget.from_key(targets["base"]).base_model_id
    version = datasets.create_version_from_rows(store, dataset_name="d", rows=[{"messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}], kind="sft", source_name="t")
    run = store.add_run(name="support-lora-1", dataset_version_id=version.id, base_model_id=base, config={},
                        work_dir="runs/r")
    keys = [targets["base"], ChatTarget(base, run.id).key, ChatTarget(base, run.id, "checkpoint-40").key,
            "gone::"]
    assert feedback.target_titles(store, keys) == {
        targets["base"]: "base", keys[1]: "support-lora-1", keys[2]: "support-lora-1 @ checkpoint-40",
        "gone::": "gone::"}


@pytest.mark.slow
def test_trl_dpo_trainer_trains_on_the_exported_pairs(store, targets, tmp_path, tiny_model_dir):
    import math

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    for i in range(2):
        rnd = _arena_round(store, targets, f"Question {i}?", {"base": "No idea.", "tuned": "The answer."},
                           display=["base", "tuned"])
        store.add_vote(rnd.id, "b", rater="ann", blind=True)
    out = tmp_path / "pairs.jsonl"
    assert feedback.export_feedback(store, "preference", str(out)) == 2
    data = load_dataset("json", data_files=str(out), split="train")
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                         args=DPOConfig(output_dir=str(tmp_path / "dpo"), max_steps=1, per_device_train_batch_size=2,
                                        report_to=[], use_cpu=True, save_strategy="no", dataloader_num_workers=0),
                         train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    assert math.isfinite(trainer.train().training_loss)
