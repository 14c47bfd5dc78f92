"""Small generated corpora for engine tests: shop support conversations (OpenAI messages)."""

from __future__ import annotations

import json
import random

PRODUCTS = ["blue kettle", "desk lamp", "running shoes", "coffee grinder", "wool scarf",
            "phone charger", "yoga mat", "backpack", "water bottle", "toaster"]
ISSUES = {
    "late": ("My {p} order {o} has not arrived yet.",
             "Sorry about the wait! Order {o} for the {p} is on its way and should arrive "
             "within two days. You will get a tracking email today."),
    "broken": ("The {p} from order {o} arrived broken.",
               "I am sorry the {p} arrived damaged. I have started a free replacement for "
               "order {o}; please keep the broken item until the courier collects it."),
    "return": ("Can I return the {p} I bought in order {o}?",
               "Yes, you can return the {p} within 30 days. I have emailed a free return "
               "label for order {o}; the refund follows once we receive it."),
    "size": ("Do you have the {p} in another size or colour?",
             "The {p} comes in three sizes and four colours. You can pick them on the "
             "product page, and exchanges are free within 30 days."),
}
SYSTEM = "You are the friendly support assistant of ShopCo."


def shop_conversations(n: int = 60, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    kinds = sorted(ISSUES)
    for i in range(n):
        p = rng.choice(PRODUCTS)
        o = f"#{rng.randint(1000, 9999)}"
        user, answer = ISSUES[kinds[i % len(kinds)]]
        messages = [{"role": "user", "content": user.format(p=p, o=o)},
                    {"role": "assistant", "content": answer.format(p=p, o=o)}]
        if i % 3 == 0:
            messages.insert(0, {"role": "system", "content": SYSTEM})
        if i % 4 == 1:
            messages += [{"role": "user", "content": "Thank you!"},
                         {"role": "assistant", "content": "You are welcome! Have a nice day."}]
        rows.append({"messages": messages})
    return rows


def ticket_conversations(n: int = 40, seed: int = 1) -> list[dict]:
    """A fine-tuning set whose answers follow one fixed house style, so LoRA has something
    clear to learn on top of the pretrained demo model."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        p = rng.choice(PRODUCTS)
        o = f"#{rng.randint(1000, 9999)}"
        kind = rng.choice(sorted(ISSUES))
        user = ISSUES[kind][0].format(p=p, o=o)
        answer = (f"TICKET {o} | topic: {kind} | item: {p}. "
                  f"Thank you for contacting ShopCo, we will fix this for you.")
        rows.append({"messages": [{"role": "user", "content": user},
                                  {"role": "assistant", "content": answer}]})
    return rows


def write_jsonl(rows: list[dict], path: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def write_parquet(rows: list[dict], path: str) -> str:
    """A dataset file as the store writes it: a `messages` column of JSON strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"messages": [json.dumps(r["messages"]) for r in rows]})
    pq.write_table(table, path)
    return path
