"""Small helpers for writing varied conversations: a builder, user-style variation, openers."""

from __future__ import annotations

import random
from typing import Sequence

from shop import SYSTEM_PROMPT, WEBSITE


class Chat:
    """Builds one conversation; `pick` and `chance` draw from the generator's seeded rng."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.turns: list[dict[str, str]] = []

    def pick(self, options: Sequence):
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def user(self, text: str) -> None:
        first = not self.turns
        self.turns.append({"role": "user", "content": casual(self.rng, text, greet=first)})

    def bot(self, *parts: str) -> None:
        text = " ".join(part.strip() for part in parts if part and part.strip())
        self.turns.append({"role": "assistant", "content": text})

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}] + self.turns

    # Common pieces ----------------------------------------------------------------------
    def order_number(self) -> str:
        return f"BB-{self.rng.randint(100000, 999999)}"

    def give_number(self, number: str) -> str:
        return self.pick([
            f"Sure, it's {number}.", f"{number}", f"It's {number}.", f"The order number is {number}.",
            f"Here you go: {number}", f"{number} — thanks!", f"Yes, {number}.",
            f"I think it's {number}, from the confirmation email.", f"Order {number}.",
        ])

    def ask_number(self, why: str = "", lead: bool = True) -> str:
        """Ask for the order number; `why` (or a random short lead-in) goes first."""
        if not why and lead:
            why = self.pick(["", "Happy to check. ", "I can look into that. ", "Sure! ", "Of course. ",
                             "Let me take a look. "])
        ask = self.pick([
            "Could you send me your order number? It starts with BB- and has 6 digits.",
            "What's your order number? You'll find it in your confirmation email (BB- followed by 6 digits).",
            "Can you share the order number? It looks like BB-123456.",
            "Which order is it? The order number (BB- and 6 digits) is in your confirmation email.",
            "Could you give me the order number, please?",
        ])
        return f"{why}{ask}".strip()

    def closing(self) -> str:
        return self.pick([
            "Anything else I can help with?", "Is there anything else I can do for you?",
            "Let me know if there's anything else.", "Happy brewing!", "Enjoy your coffee!",
            "Anything else on your mind?", "", "", "",
        ])

    def thanks_exchange(self) -> None:
        self.user(self.pick([
            "Thanks!", "Great, thank you.", "Perfect, thanks for your help.", "ok thanks",
            "That's all, thanks!", "Thank you so much!", "Cool, appreciate it.", "Got it, thanks.",
        ]))
        self.bot(self.pick([
            "You're welcome! Have a great day.", "My pleasure — happy brewing!",
            "Glad I could help. Enjoy your coffee!", "Any time! Have a lovely day.",
            "You're very welcome. Take care!", "Happy to help — have a good one!",
        ]))


def casual(rng: random.Random, text: str, greet: bool = True) -> str:
    """Real customers type differently: sometimes a greeting, lower case, no final stop."""
    roll = rng.random()
    keep_case = text.startswith(("I ", "I'", "BB-"))
    if roll < 0.12 and greet:
        text = rng.choice(["Hi, ", "Hello! ", "Hey, ", "Hi there. ", "Good morning, "]) + (
            text if keep_case else text[0].lower() + text[1:])
    elif roll < 0.24 and text[0].isupper() and not keep_case:
        text = text[0].lower() + text[1:]
    if rng.random() < 0.15 and text.endswith((".", "!")):
        text = text[:-1]
    return text


def track_hint(c: Chat) -> str:
    return c.pick([
        f"You can follow it at {WEBSITE}/track with your order number and email.",
        f"The tracking link is in your shipping email, or use {WEBSITE}/track.",
        f"You'll find live tracking at {WEBSITE}/track.",
    ])


def join_items(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
