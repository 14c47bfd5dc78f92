"""What the Chat page can load (chat_choices) and a conversation continued with another model
(ChatClient history): the real store, no chat child."""

from __future__ import annotations

from workbench.services import paths
from workbench.services.chat import ChatClient, chat_choices

DEMO_DATA = paths.demo_dataset_path()


def _run(store, name, model_id, status, adapter):
    version_id = store.list_versions()[0].id
    return store.add_run(id=f"{name}-id", name=name, dataset_version_id=version_id,
                         base_model_id=model_id, config={}, status=status, work_dir=f"runs/{name}",
                         adapter_path=adapter)


def test_choices_list_base_models_then_runs_with_an_adapter(store, tmp_path):
    from workbench.services import datasets

    datasets.import_dataset(store, DEMO_DATA, name="chats")
    tiny = store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    smol = store.add_base_model("smol", "hf_folder", str(tmp_path / "smol"), "f2")
    _run(store, "done", smol.id, "completed", "runs/done/adapter")
    _run(store, "stopped", tiny.id, "cancelled", "runs/stopped/adapter")
    _run(store, "training", tiny.id, "running", "runs/training/adapter")
    _run(store, "no-adapter", tiny.id, "completed", None)
    choices = chat_choices(store)
    # Base models in the order they were added, then runs newest first (also when two were
    # made in the same millisecond: the store breaks ties by insertion order).
    assert [c.label for c in choices] == ["tiny  (base model)", "smol  (base model)",
                                          "stopped  (adapter on tiny)", "done  (adapter on smol)"]
    assert [c.key for c in choices] == [(tiny.id, None), (smol.id, None), (tiny.id, "stopped-id"),
                                        (smol.id, "done-id")]
    assert [c.name for c in choices][2:] == ["stopped", "done"]
    # The client describes what it loaded in the same terms (the page matches on it).
    assert ChatClient(store, smol.id, "done-id").choice == choices[3]


def test_a_continued_conversation_is_copied_into_the_new_session(store, tmp_path):
    model = store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    first = ChatClient(store, model.id)
    question = store.add_turn(first.session.id, "user", "def f():\n    return 1")
    store.add_turn(first.session.id, "assistant", "It returns 1.", parent_id=question.id)
    history = first.history() + [{"role": "model-change", "content": "smol from here on"},
                                 {"role": "assistant", "content": ""}]
    second = ChatClient(store, model.id, history=history)
    assert second.session.id != first.session.id
    # Only real messages are copied (no view markers, no reply that never came).
    assert second.history() == first.history() == [
        {"role": "user", "content": "def f():\n    return 1"},
        {"role": "assistant", "content": "It returns 1."}]
    assert ChatClient(store, model.id).history() == []
