"""The leaderboard from votes in a real project store: blind display positions mapped back to
models, the latest vote of a rater counting, votes cast after the reveal left out by default."""

from __future__ import annotations

import pytest

from workbench.core.chat_records import ArenaSide, ChatTarget
from workbench.services.leaderboard import leaderboard


@pytest.fixture
def arena(store):
    keys = {name: ChatTarget(store.add_base_model(name, "hf_folder", f"/nowhere/{name}", f"fp-{name}").id).key
            for name in ("base", "tuned")}
    made = store.add_arena("arena", [keys["base"], keys["tuned"]], blind=True)
    return made, keys


def _round(store, arena, display: list[str]):
    sides = [ArenaSide(pos, key, store.add_conversation(key, ChatTarget.from_key(key).base_model_id,
                                                         arena_id=arena.id).id)
             for pos, key in enumerate(display)]
    return store.add_round(arena.id, "Where is my order?", sides, blind=True)


def test_votes_on_shuffled_sides_count_for_the_models_behind_them(store, arena):
    made, keys = arena
    base, tuned = keys["base"], keys["tuned"]
    # Eight rounds: the tuned model shown as A in half of them, as B in the others; people pick
    # the tuned model's side each time but one, which they call a tie.
    for i in range(8):
        display = [tuned, base] if i % 2 == 0 else [base, tuned]
        rnd = _round(store, made, display)
        outcome = "tie" if i == 7 else ("a" if display[0] == tuned else "b")
        store.add_vote(rnd.id, outcome, rater="ann", blind=True)
    # A second thought replaces the rater's first vote on a round; a vote after the reveal is left out.
    late = _round(store, made, [base, tuned])
    store.add_vote(late.id, "a", rater="ann", blind=True)
    store.add_vote(late.id, "b", rater="ann", blind=True)
    seen = _round(store, made, [base, tuned])
    store.add_vote(seen.id, "a", rater="ann", blind=False)

    rows = leaderboard(store, made.id, n_boot=50)
    assert [r.key for r in rows] == [tuned, base]
    best, worst = rows
    assert best.title == "tuned" and worst.title == "base"
    assert (best.games, best.wins, best.losses, best.ties) == (9, 8, 0, 1)
    assert (worst.wins, worst.losses, worst.ties) == (0, 8, 1)
    assert best.win_rate == pytest.approx(8.5 / 9)
    assert best.win_low < best.win_rate < best.win_high
    assert best.bt > 1000 > worst.bt and best.elo > worst.elo

    shown = leaderboard(store, made.id, blind_only=False, n_boot=50)
    assert {r.key: r.wins for r in shown} == {tuned: 8, base: 1}


def test_an_arena_without_votes_lists_its_models_with_no_games(store, arena):
    made, keys = arena
    rows = leaderboard(store, made.id, n_boot=10)
    assert {r.key for r in rows} == set(keys.values()) and all(r.games == 0 for r in rows)
    assert leaderboard(store) == []  # the project: no votes, no models voted on
