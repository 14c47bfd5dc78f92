"""Arena statistics: votes on rounds of two to four sides as pairwise games, and per model the
win rate with a Wilson interval, a Bradley–Terry rating with a bootstrap interval, and Elo.

Pure math (no store, no Qt): the leaderboard service feeds it votes.

Counting, as Chatbot Arena does: a vote for side X is a win of X over each other side of that
round (a four-sided round gives the winner three games); "tie" and "both bad" are ties between
every pair of sides (half a win each); "both bad" is also counted on its own, since it says
neither reply was usable, which a tie does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np

ELO_START = 1000.0
ELO_K = 32.0
ELO_SCALE = 400.0  # rating points per factor of 10 in odds (Elo's and Chatbot Arena's scale)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class RoundVote:
    """One counted vote: the round's sides (model keys, in display order) and the outcome:
    a side's position, or None for a tie / both bad."""

    sides: tuple[str, ...]
    winner: Optional[int]
    both_bad: bool = False


@dataclass(frozen=True)
class Game:
    """One pairwise game: score is a's (1 win, 0.5 tie, 0 loss)."""

    a: str
    b: str
    score: float


@dataclass(frozen=True)
class Standing:
    key: str
    games: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    win_rate: float  # (wins + ties / 2) / games; nan without games
    win_low: float
    win_high: float
    bt: float  # Bradley–Terry strength on the Elo scale (1000 = the prior's average model)
    bt_low: float
    bt_high: float
    elo: float


def games_of(votes: Iterable[RoundVote]) -> list[Game]:
    """The pairwise games of the votes, in vote order."""
    out = []
    for vote in votes:
        sides = vote.sides
        if vote.winner is not None:
            winner = sides[vote.winner]
            out += [Game(winner, other, 1.0) for i, other in enumerate(sides) if i != vote.winner]
        else:
            out += [Game(sides[i], sides[j], 0.5) for i in range(len(sides)) for j in range(i + 1, len(sides))]
    return out


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (ties as half successes); (nan, nan) for n = 0."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bradley_terry(games: Sequence[Game], keys: Sequence[str], prior: float = 1.0,
                  iterations: int = 500, tol: float = 1e-9) -> dict[str, float]:
    """Bradley–Terry strengths by Hunter's MM iterations, ties as half a win each way, on the Elo
    scale. `prior` adds that many virtual ties of every model against a fixed average model
    (strength 1, rating 1000): without it an unbeaten model's strength is infinite and models
    that never met share no scale. prior=0 gives the plain maximum-likelihood fit."""
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    if n == 0:
        return {}
    wins = np.zeros((n, n))  # wins[i, j]: i's score against j, summed
    for g in games:
        i, j = index[g.a], index[g.b]
        wins[i, j] += g.score
        wins[j, i] += 1.0 - g.score
    played = wins + wins.T
    strength = np.ones(n)
    for _ in range(iterations):
        total_wins = wins.sum(axis=1) + prior / 2
        pair = played / (strength[:, None] + strength[None, :])
        denom = pair.sum(axis=1) + prior / (strength + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.where(denom > 0, total_wins / denom, strength)
        if prior == 0:  # no anchor: fix the scale by the geometric mean
            positive = new[new > 0]
            if positive.size:
                new = new / math.exp(np.log(positive).mean())
        done = np.max(np.abs(new - strength)) < tol
        strength = new
        if done:
            break
    with np.errstate(divide="ignore"):
        ratings = ELO_START + ELO_SCALE * np.log10(strength)
    return {k: float(ratings[index[k]]) for k in keys}


def bt_interval(games: Sequence[Game], keys: Sequence[str], prior: float = 1.0, n_boot: int = 200,
                seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap interval of each rating (the games resampled with replacement)."""
    if not games:
        return {k: (math.nan, math.nan) for k in keys}
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(keys)))
    for b in range(n_boot):
        sample = [games[i] for i in rng.integers(0, len(games), len(games))]
        fit = bradley_terry(sample, keys, prior=prior, iterations=200, tol=1e-7)
        draws[b] = [fit[k] for k in keys]
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return {k: (float(low[i]), float(high[i])) for i, k in enumerate(keys)}


def elo(votes: Iterable[RoundVote], keys: Sequence[str], k: float = ELO_K) -> dict[str, float]:
    """Online Elo in vote order; a round's pairwise updates all use the ratings before it."""
    rating = {key: ELO_START for key in keys}
    for vote in votes:
        delta = {key: 0.0 for key in vote.sides}
        for g in games_of([vote]):
            expected = 1.0 / (1.0 + 10 ** ((rating[g.b] - rating[g.a]) / ELO_SCALE))
            delta[g.a] += k * (g.score - expected)
            delta[g.b] -= k * (g.score - expected)
        for key, d in delta.items():
            rating[key] += d
    return rating


def standings(votes: Sequence[RoundVote], keys: Optional[Sequence[str]] = None, prior: float = 1.0,
              n_boot: int = 200) -> list[Standing]:
    """Every model's figures, best Bradley–Terry rating first (then win rate, then name)."""
    seen: dict[str, None] = dict.fromkeys(keys or ())
    for vote in votes:
        seen.update(dict.fromkeys(vote.sides))
    names = list(seen)
    games = games_of(votes)
    bt = bradley_terry(games, names, prior=prior)
    interval = bt_interval(games, names, prior=prior, n_boot=n_boot)
    elos = elo(votes, names)
    tally = {k: [0, 0, 0] for k in names}  # wins, losses, ties
    for g in games:
        if g.score == 0.5:
            tally[g.a][2] += 1
            tally[g.b][2] += 1
        else:
            winner, loser = (g.a, g.b) if g.score == 1.0 else (g.b, g.a)
            tally[winner][0] += 1
            tally[loser][1] += 1
    both_bad = {k: 0 for k in names}
    for vote in votes:
        if vote.both_bad:
            for key in vote.sides:
                both_bad[key] += 1
    rows = []
    for key in names:
        wins, losses, ties = tally[key]
        n = wins + losses + ties
        low, high = wilson(wins + ties / 2, n)
        rows.append(Standing(key=key, games=n, wins=wins, losses=losses, ties=ties, both_bad=both_bad[key],
                             win_rate=(wins + ties / 2) / n if n else math.nan, win_low=low, win_high=high,
                             bt=bt[key], bt_low=interval[key][0], bt_high=interval[key][1], elo=elos[key]))
    rows.sort(key=lambda r: (-r.bt, -(0 if math.isnan(r.win_rate) else r.win_rate), r.key))
    return rows
