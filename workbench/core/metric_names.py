"""The names of the metrics a training run logs: one place for the engine that logs them, the
ingest that stores them and the charts that draw them."""

from __future__ import annotations

LOSS = "loss"  # train loss of the logging step
EVAL_LOSS = "eval_loss"
EVAL_PERPLEXITY = "eval_perplexity"  # exp(eval_loss)
LR = "learning_rate"
GRAD_NORM = "grad_norm"
TOKENS_PER_S = "tokens_per_s"  # input tokens per second since the previous train log
MEMORY = "memory_bytes"  # the training process's memory now: RSS on a CPU, allocated on a GPU
EPOCH = "epoch"  # fractional epoch at the step (from the log event's own epoch)
TOKENS = "num_input_tokens_seen"  # non-padding input tokens trained on so far (the Trainer counts)
# Preference training (TRL's names, the same for DPO, ORPO and KTO): the reward of the chosen and
# the rejected reply (DPO, KTO: beta * log(policy / reference); ORPO: beta * the mean log-probability),
# their difference, and how often chosen beats rejected (DPO, ORPO; KTO scores replies one by one).
REWARD_CHOSEN = "rewards/chosen"
REWARD_REJECTED = "rewards/rejected"
REWARD_MARGIN = "rewards/margins"
REWARD_ACCURACY = "rewards/accuracies"
# ORPO: the mean log sigmoid of log odds(chosen) - log odds(rejected), its preference term (rises to 0).
LOG_ODDS_RATIO = "log_odds_ratio"
# KTO: its estimate of the KL divergence from the reference (TRL keeps it >= 0), the baseline of its rewards.
# Both are stored with the run and exported with its metrics; they get no chart tab of their own
# (two more tabs push the tab bar into scroll arrows at common widths); margin and accuracy have theirs.
KL = "kl"

# What a run's charts can show: (metric key, title, unit; "" when the value has none).
CHART_METRICS: tuple[tuple[str, str, str], ...] = (
    (LOSS, "Loss", ""),
    (EVAL_LOSS, "Eval loss", ""),
    (LR, "Learning rate", ""),
    (GRAD_NORM, "Grad norm", ""),
    (TOKENS_PER_S, "Tokens/s", "tokens/s"),
    (MEMORY, "Memory", "bytes"),
    (REWARD_MARGIN, "Reward margin", ""),
    (REWARD_ACCURACY, "Reward accuracy", ""),
)
