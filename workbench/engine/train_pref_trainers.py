"""The TRL trainer of each preference method, built on the LoRA model train_pref.py prepared.

- DPO (trl.DPOTrainer): TRL copies the starting adapter into a frozen adapter "ref" and computes
  the reference log-probabilities with it (with a new adapter, LoRA's B = 0, that is the base model).
- ORPO (trl.experimental.orpo.ORPOTrainer): no reference model at all; the loss is the chosen
  reply's NLL minus beta x log sigmoid(log odds(chosen) - log odds(rejected)). TRL logs rewards/*
  as beta x the mean log-probability, plus nll_loss and log_odds_ratio.
- KTO (trl.KTOTrainer): takes unpaired rows (prompt, completion, label); the reference is the "ref"
  adapter copy as in DPO. It logs rewards/chosen, rewards/rejected, rewards/margins and kl, but no
  reward accuracy (rows are judged one by one, not against a partner).
"""

from __future__ import annotations

from typing import Any, Optional

from workbench.core.train_config import TrainConfig

Pairs = list[dict[str, Any]]


def unpaired(pairs: Pairs, batch_size: int) -> list[dict[str, Any]]:
    """KTO's rows: each pair becomes two unpaired rows, the chosen reply labelled desirable (True)
    and the rejected one undesirable (False), both with the pair's prompt.

    KTO reads them in order (its sampler is sequential) and estimates its KL term in each batch
    from mismatched rows: row i's prompt with row i-1's reply. So with batches of 4 or more, two
    pairs at a time go c_a, c_b, r_a, r_b: every batch holds both kinds (the reward margin needs
    both) and no row's KL reply is its own prompt's. A batch of 2 or 3 cannot have both: there
    the pair's rows stay together (c_a, r_a), keeping the margin at the cost of a KL reply that
    answers the same prompt."""
    def rows(pair: dict[str, Any], key: str, label: bool) -> dict[str, Any]:
        return {"prompt": pair["prompt"], "completion": pair[key], "label": label}

    out = []
    step = 2 if batch_size >= 4 else 1
    for i in range(0, len(pairs), step):
        group = pairs[i:i + step]
        out += [rows(p, "chosen", True) for p in group] + [rows(p, "rejected", False) for p in group]
    return out


def build_trainer(cfg: TrainConfig, model, tokenizer, pairs: Pairs, eval_pairs: Optional[Pairs],
                  make_args, callbacks: list):
    """The method's trainer; `make_args(args_class, **extra)` gives its TrainingArguments subclass
    with the run's common knobs (engine/train_args.training_arguments)."""
    import datasets

    def data(rows: Optional[list]) -> Any:
        return datasets.Dataset.from_list(rows) if rows else None

    common = {"beta": cfg.beta, "max_length": cfg.max_length, "dataset_num_proc": None}
    if cfg.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = make_args(DPOConfig, precompute_ref_log_probs=False, **common)
        return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=data(pairs),
                          eval_dataset=data(eval_pairs), processing_class=tokenizer, callbacks=callbacks)
    if cfg.method == "orpo":
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        args = make_args(ORPOConfig, **common)
        return ORPOTrainer(model=model, args=args, train_dataset=data(pairs), eval_dataset=data(eval_pairs),
                           processing_class=tokenizer, callbacks=callbacks)
    if cfg.method == "kto":
        from trl import KTOConfig, KTOTrainer

        args = make_args(KTOConfig, precompute_ref_log_probs=False, **common)
        b = cfg.batch_size
        return KTOTrainer(model=model, ref_model=None, args=args, train_dataset=data(unpaired(pairs, b)),
                          eval_dataset=data(unpaired(eval_pairs, b) if eval_pairs else None),
                          processing_class=tokenizer, callbacks=callbacks)
    raise ValueError(f"no preference trainer for method {cfg.method!r}")  # TrainConfig.problems() refuses it first


# What each method's OOM advice says runs through the model per pair.
MEMORY_WORDS = {
    "dpo": "DPO runs every pair twice (chosen and rejected, with the reference pass too)",
    "orpo": "ORPO runs every pair twice (chosen and rejected)",
    "kto": "KTO runs every row twice (the reply and a mismatched one for its KL term, with the reference pass too)",
}
