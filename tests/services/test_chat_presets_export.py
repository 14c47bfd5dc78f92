"""Chat presets per model (kept in the project folder, surviving a reopen; a broken file is an
error and left alone), conversation search, and export as OpenAI-messages JSONL and Markdown."""

from __future__ import annotations

import json

import pytest

from workbench.core.chat_records import ChatTarget, SamplingSettings
from workbench.core.errors import WorkbenchError
from workbench.services import chat_export, chat_presets
from workbench.store import ProjectStore

A = ChatTarget("m1").key
B = ChatTarget("m1", "run1", "checkpoint-20").key


def test_presets_are_per_model_and_persist(store):
    warm = SamplingSettings(temperature=1.1, top_p=0.9, stop=("###",), seed=5)
    chat_presets.save_preset(store, A, "  Warm  story ", warm, "Tell stories.")
    chat_presets.save_preset(store, A, "exact", SamplingSettings(temperature=0.0))
    chat_presets.save_preset(store, B, "exact", SamplingSettings(temperature=0.0, max_new_tokens=32))
    assert [p.name for p in chat_presets.list_presets(store, A)] == ["exact", "Warm story"]
    assert chat_presets.list_presets(store, B)[0].settings.max_new_tokens == 32
    assert chat_presets.list_presets(store, ChatTarget("other").key) == []

    path = store.path
    store.close()
    reopened = ProjectStore.open(path)
    try:
        warm_again = chat_presets.list_presets(reopened, A)[1]
        assert warm_again.settings == warm and warm_again.system_prompt == "Tell stories."
        chat_presets.delete_preset(reopened, A, "exact")
        assert [p.name for p in chat_presets.list_presets(reopened, A)] == ["Warm story"]
        assert [p.name for p in chat_presets.list_presets(reopened, B)] == ["exact"]  # B's is B's
        with pytest.raises(WorkbenchError):
            chat_presets.delete_preset(reopened, A, "exact")
        with pytest.raises(WorkbenchError, match="name"):
            chat_presets.save_preset(reopened, A, "  ", warm)
        with pytest.raises(WorkbenchError):
            chat_presets.save_preset(reopened, A, "bad", SamplingSettings(max_new_tokens=0))
    finally:
        reopened.close()


def test_a_broken_presets_file_is_reported_and_never_overwritten(store):
    path = chat_presets.presets_path(store)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"presets": {"m1::": {"mine": ')  # cut off mid-write by something else
    with pytest.raises(WorkbenchError, match="cannot be read"):
        chat_presets.list_presets(store, A)
    with pytest.raises(WorkbenchError):
        chat_presets.save_preset(store, A, "new", SamplingSettings())
    assert open(path, encoding="utf-8").read() == '{"presets": {"m1::": {"mine": '


def _conversation(store, title, pairs, system=""):
    model = store.list_base_models()[0]
    c = store.add_conversation(title, model.id, system_prompt=system)
    parent = None
    for user, reply in pairs:
        parent = store.add_turn(c.id, "user", user, parent_id=parent).id
        parent = store.add_turn(c.id, "assistant", reply, parent_id=parent, tokens=5, seconds=1.0, ttft=0.2).id
    return store.get_conversation(c.id)


def test_search_and_export(store, tmp_path):
    store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    first = _conversation(store, "Orders", [("Where is my order?", "On its way.")], system="Be brief.")
    second = _conversation(store, "Returns", [("Can I return a kettle?", "Yes, within 30 days.")])
    # A regenerated reply off the branch shown is not exported (the branch shown is).
    user = store.branch(second.id)[0]
    store.add_turn(second.id, "assistant", "No.", parent_id=user.id, make_head=False)
    assert [c.id for c in store.list_conversations("KETTLE")] == [second.id]
    assert [c.id for c in store.list_conversations("orders")] == [first.id]

    out = tmp_path / "chats.jsonl"
    assert chat_export.export_conversations(store, [first.id, second.id], str(out)) == 2
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my order?"},
                      {"role": "assistant", "content": "On its way."}]},
        {"messages": [{"role": "user", "content": "Can I return a kettle?"},
                      {"role": "assistant", "content": "Yes, within 30 days."}]}]
    import datasets  # the usual consumer of this shape

    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded[1]["messages"][1]["content"] == "Yes, within 30 days."

    md = tmp_path / "chats.md"
    chat_export.export_conversations(store, [first.id], str(md))
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Orders")
    assert "### System\n\nBe brief." in text and "### You\n\nWhere is my order?" in text
    assert "### Assistant _(5 tokens, 5.0 tok/s)_\n\nOn its way." in text
    with pytest.raises(WorkbenchError, match="format"):
        chat_export.export_conversations(store, [first.id], str(tmp_path / "chats.txt"))
    with pytest.raises(WorkbenchError):
        chat_export.export_conversations(store, [], str(out))
