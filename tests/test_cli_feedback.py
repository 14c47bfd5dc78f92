"""`workbench feedback list | export | make-version` on a real project with chat feedback and
an arena vote (cli.main in this process, as a shell runs it)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from workbench.core.chat_records import ArenaSide, ChatTarget
from workbench.services import feedback
from workbench.store import ProjectStore


@pytest.fixture
def wb(capsys):
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def project(tmp_path):
    """A correction on a chat reply, and a blind vote where side A (shown first) is the tuned model."""
    store = ProjectStore.create(str(tmp_path / "Fb.wbproj"))
    base, tuned = (ChatTarget(store.add_base_model(n, n, f"/nowhere/{n}", f"fp-{n}").id).key for n in ("base", "tuned"))
    conv = store.add_conversation("c", ChatTarget.from_key(base).base_model_id)
    user = store.add_turn(conv.id, "user", "Where is Paris?")
    reply = store.add_turn(conv.id, "assistant", "In Spain.", parent_id=user.id, model_key=base)
    feedback.save_rating(store, reply.id, correction="In France.")
    arena = store.add_arena("a", [base, tuned], blind=True)
    sessions = {k: store.add_conversation(k, ChatTarget.from_key(k).base_model_id, arena_id=arena.id).id
                for k in (base, tuned)}
    rnd = store.add_round(arena.id, "Capital of Peru?", [ArenaSide(0, tuned, sessions[tuned]),
                                                         ArenaSide(1, base, sessions[base])], blind=True)
    for pos, (key, text) in enumerate(((tuned, "Lima."), (base, "Rome."))):
        u = store.add_turn(sessions[key], "user", "Capital of Peru?")
        rnd = store.set_round_reply(rnd.id, pos, store.add_turn(sessions[key], "assistant", text,
                                                                parent_id=u.id, model_key=key).id)
    store.add_vote(rnd.id, "a", rater="ann", blind=True)
    path = store.path
    store.close()
    return {"path": path, "base": base, "tuned": tuned}


def test_list_shows_the_items_of_each_kind(project, wb):
    result = wb("feedback", "list", "--project", project["path"], "--json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert sorted(i["kind"] for i in items) == ["preference", "preference", "sft"]
    vote = next(i for i in items if i["source"]["origin"] == "vote")
    assert vote["source"]["models"] == [project["tuned"], project["base"]] and vote["source"]["blind"]
    assert vote["chosen"][0]["content"] == "Lima." and vote["rejected"][0]["content"] == "Rome."
    pairs = wb("feedback", "list", "--kind", "preference", "--project", project["path"])
    assert pairs.returncode == 0 and len(pairs.stdout.splitlines()) == 2
    assert "'Lima.' over 'Rome.'" in pairs.stdout and "[tuned vs base; ann blind]" in pairs.stdout


def test_export_writes_trl_rows(project, wb, tmp_path):
    out = tmp_path / "pairs.jsonl"
    result = wb("feedback", "export", "--kind", "preference", str(out), "--project", project["path"])
    assert result.returncode == 0, result.stderr
    assert "wrote 2 preference rows" in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(r) == {"prompt", "chosen", "rejected", "source"} for r in rows)
    assert wb("feedback", "export", "--kind", "kto", str(out), "--project", project["path"]).returncode == 2


def test_make_version_then_again_drops_the_duplicates(project, wb):
    first = wb("feedback", "make-version", "--kind", "preference", "--name", "Pairs", "--project", project["path"],
               "--json")
    assert first.returncode == 0, first.stderr
    made = json.loads(first.stdout)
    assert made["written"] == 2 and made["kind"] == "preference" and made["version_id"]
    again = wb("feedback", "make-version", "--kind", "preference", "--name", "Pairs", "--project", project["path"])
    assert again.returncode == 0 and "0 rows written; 2 dropped as duplicates" in again.stdout
    store = ProjectStore.open(project["path"])
    try:
        assert store.get_version(made["version_id"]).kind == "preference"
    finally:
        store.close()
    bad = wb("feedback", "make-version", "--kind", "sft", "--name", "X", "--item", "fb:nope",
             "--project", project["path"])
    assert bad.returncode == 1 and "no longer exist" in bad.stderr
