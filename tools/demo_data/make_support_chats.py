"""Write support_chats.jsonl: the demo customer-support dataset of Bramble & Bean.

Deterministic (seeded): running it again gives the same file byte for byte.

    python tools/demo_data/make_support_chats.py [--out PATH] [--seed N]

By default it rewrites the packaged copy, workbench/resources/demo/support_chats.jsonl.

Each conversation is drawn from a scenario (order status, returns, shipping, products, ...)
whose replies are written from the shop facts in shop.py; phrasings and slots (products,
order numbers, days, statuses) vary per draw. Duplicate conversations are drawn again.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chatkit import Chat  # noqa: E402
from scenarios_orders import cancel_or_change, damaged_or_wrong, order_status, shipping_question  # noqa: E402
from scenarios_returns import refund_status, return_request, warranty_claim  # noqa: E402
from scenarios_shop import (  # noqa: E402
    account_question, brewing_tip, contact_question, payment_question, product_question,
)

SEED = 20240917
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "workbench" / "resources" / "demo" / "support_chats.jsonl"
# (scenario, how many conversations)
PLAN = [
    (order_status, 55),
    (cancel_or_change, 25),
    (return_request, 45),
    (refund_status, 22),
    (shipping_question, 40),
    (damaged_or_wrong, 20),
    (warranty_claim, 20),
    (product_question, 55),
    (payment_question, 30),
    (account_question, 28),
    (contact_question, 14),
    (brewing_tip, 14),
]


def generate(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    seen: set[str] = set()
    conversations = []
    for scenario, count in PLAN:
        made = attempts = 0
        while made < count:
            attempts += 1
            if attempts > count * 50:
                raise RuntimeError(f"{scenario.__name__}: too few distinct conversations")
            chat = Chat(rng)
            scenario(chat)
            key = json.dumps(chat.turns, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            conversations.append({"messages": chat.messages()})
            made += 1
    rng.shuffle(conversations)
    return conversations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    conversations = generate(args.seed)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for conversation in conversations:
            f.write(json.dumps(conversation, ensure_ascii=False) + "\n")
    multi = sum(1 for c in conversations if sum(m["role"] == "user" for m in c["messages"]) >= 2)
    print(f"wrote {len(conversations)} conversations ({multi} multi-turn) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
