"""The arena leaderboard of a project (or of one arena): each model's win rate with a 95% Wilson
interval, a Bradley–Terry rating with a bootstrap interval and Elo, from the votes cast.

Blind votes only by default: a vote cast once the names were shown is biased by them. The
latest vote of each rater on a round counts (the same rule as feedback into data). Reads every
vote and round: call it off the GUI thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from workbench.evaluation.arena_stats import RoundVote, standings
from workbench.services.feedback_items import latest_votes, target_titles
from workbench.store import ProjectStore


@dataclass(frozen=True)
class LeaderboardRow:
    key: str  # ChatTarget key
    title: str
    games: int  # pairwise games (a vote in a round of n sides is n - 1 games for the winner)
    wins: int
    losses: int
    ties: int
    win_rate: float
    win_low: float
    win_high: float
    bt: float  # Bradley–Terry rating on the Elo scale (1000 = average)
    elo: float
    bt_low: float = math.nan
    bt_high: float = math.nan
    both_bad: int = 0


def round_votes(store: ProjectStore, arena_id: Optional[str] = None, blind_only: bool = True) -> list[RoundVote]:
    """The votes that count, oldest first, as the models of each side and the winning position."""
    rounds = {r.id: r for r in store.rounds(arena_id)}
    out = []
    for vote in latest_votes(store.votes(arena_id)):
        rnd = rounds.get(vote.round_id)
        if rnd is None or (blind_only and not vote.blind):
            continue
        sides = tuple(side.target for side in sorted(rnd.sides, key=lambda s: s.position))
        out.append((vote.created_at, RoundVote(sides, vote.winner_position(), both_bad=vote.outcome == "both_bad")))
    return [v for _at, v in sorted(out, key=lambda pair: pair[0])]


def leaderboard(store: ProjectStore, arena_id: Optional[str] = None, blind_only: bool = True,
                n_boot: int = 200) -> list[LeaderboardRow]:
    """Every model of the arena (or every model voted on in the project), best first."""
    keys = list(store.get_arena(arena_id).targets) if arena_id else []
    rows = standings(round_votes(store, arena_id, blind_only), keys=keys, n_boot=n_boot)
    titles = target_titles(store, [r.key for r in rows])
    return [LeaderboardRow(key=r.key, title=titles.get(r.key, r.key), games=r.games, wins=r.wins, losses=r.losses,
                           ties=r.ties, win_rate=r.win_rate, win_low=r.win_low, win_high=r.win_high, bt=r.bt,
                           elo=r.elo, bt_low=r.bt_low, bt_high=r.bt_high, both_bad=r.both_bad)
            for r in rows]
