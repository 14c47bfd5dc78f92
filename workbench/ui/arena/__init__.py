"""The Arena page: the same prompt to two to four models side by side, blind votes, a leaderboard."""
