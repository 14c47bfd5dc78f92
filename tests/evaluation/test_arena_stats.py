"""Arena statistics against figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from workbench.evaluation.arena_stats import (ELO_START, Game, RoundVote, bradley_terry, elo, games_of,
                                              standings, wilson)


def _votes(a_wins: int, b_wins: int, ties: int = 0) -> list[RoundVote]:
    return ([RoundVote(("A", "B"), 0)] * a_wins + [RoundVote(("B", "A"), 0)] * b_wins
            + [RoundVote(("A", "B"), None)] * ties)


def test_wilson_interval_of_8_in_10():
    low, high = wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)  # the textbook Wilson bounds for 8/10
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_a_winner_beats_each_other_side_and_a_tie_is_every_pair():
    four = RoundVote(("A", "B", "C", "D"), 2)
    assert games_of([four]) == [Game("C", "A", 1.0), Game("C", "B", 1.0), Game("C", "D", 1.0)]
    tie = RoundVote(("A", "B", "C"), None, both_bad=True)
    assert games_of([tie]) == [Game("A", "B", 0.5), Game("A", "C", 0.5), Game("B", "C", 0.5)]


def test_bradley_terry_of_8_wins_in_10_is_odds_of_4():
    games = games_of(_votes(8, 2))
    plain = bradley_terry(games, ["A", "B"], prior=0)
    # Maximum likelihood: p_A / p_B = 8 / 2, i.e. 400 * log10(4) = 240.8 rating points apart.
    assert plain["A"] - plain["B"] == pytest.approx(400 * math.log10(4), abs=0.01)
    shrunk = bradley_terry(games, ["A", "B"], prior=1.0)
    assert 0 < shrunk["A"] - shrunk["B"] < plain["A"] - plain["B"]  # the prior pulls toward even
    assert shrunk["A"] > ELO_START > shrunk["B"]


def test_ties_count_half_and_an_unbeaten_model_stays_finite():
    even = bradley_terry(games_of(_votes(3, 3, ties=4)), ["A", "B"])
    assert even["A"] == pytest.approx(even["B"], abs=1e-6)
    unbeaten = bradley_terry(games_of(_votes(5, 0)), ["A", "B"])
    assert math.isfinite(unbeaten["A"]) and unbeaten["A"] > unbeaten["B"]


def test_elo_moves_k_over_two_on_a_first_even_game():
    ratings = elo([RoundVote(("A", "B"), 0)], ["A", "B"])
    assert ratings == {"A": ELO_START + 16, "B": ELO_START - 16}


def test_standings_count_games_rank_and_give_intervals():
    votes = _votes(8, 2, ties=2) + [RoundVote(("A", "B", "C"), None, both_bad=True), RoundVote(("C", "B"), 1)]
    rows = standings(votes, n_boot=100)
    assert [r.key for r in rows] == ["A", "B", "C"]
    a = rows[0]
    assert (a.games, a.wins, a.losses, a.ties, a.both_bad) == (14, 8, 2, 4, 1)
    assert a.win_rate == pytest.approx(10 / 14)
    assert (a.win_low, a.win_high) == pytest.approx(wilson(10, 14))
    assert a.bt_low <= a.bt <= a.bt_high
    c = rows[2]
    assert (c.games, c.wins, c.losses, c.ties) == (3, 0, 1, 2)
    assert standings([], keys=["A"])[0].games == 0
