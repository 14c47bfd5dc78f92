"""PII scrubbing: e-mail addresses, phone numbers and payment card numbers → placeholders.

One regular expression with three alternatives is scanned left to right, so an address's
digits are never read as a phone number and a card-shaped number that fails the Luhn check
is consumed as it is (left untouched, and not re-read as a phone number either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

KINDS = ("email", "phone", "card")
DEFAULT_PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]"}

_PATTERN = re.compile(
    r"(?P<email>(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b)"
    r"|(?P<card>(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-]))"
    r"|(?P<phone>(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{1,4}){1,5}(?![\w-]))"
)
# Every phone or card number holds a run of 7+ characters of digits and separators; a text
# with no such run and no "@" cannot hold PII, and this scan is far cheaper than _PATTERN's.
_DIGIT_RUN = re.compile(r"\d[\d ().\-]{5,}\d")


def _candidate(text: str) -> bool:
    return "@" in text or _DIGIT_RUN.search(text) is not None
_DATE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
_DOTTED = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")  # IPv4 addresses and version numbers


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if _DATE.match(text) or _DOTTED.match(text):
        return False
    if text.startswith("+") or "(" in text:
        return 8 <= digits <= 15
    if any(ch in text for ch in " .-"):
        # Grouped digits: 7 (local) to 15 (E.164 maximum). Plain runs are order numbers,
        # amounts or ids far more often than phone numbers, unless they are 10-11 digits.
        return 7 <= digits <= 15
    return 10 <= digits <= 11


@dataclass
class ScrubCounts:
    email: int = 0
    phone: int = 0
    card: int = 0
    luhn_invalid: int = 0  # card-shaped numbers left as they are

    def add(self, other: "ScrubCounts") -> None:
        for k in ("email", "phone", "card", "luhn_invalid"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def replaced(self) -> int:
        return self.email + self.phone + self.card


@dataclass(frozen=True)
class Scrubber:
    kinds: tuple[str, ...] = KINDS
    placeholders: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PLACEHOLDERS))
    keep: tuple[str, ...] = ()  # exact values left as they are (a shop's own support address)

    def scrub(self, text: str) -> tuple[str, ScrubCounts]:
        counts = ScrubCounts()
        keep = set(self.keep)

        def repl(m: re.Match) -> str:
            kind = m.lastgroup or ""
            value = m.group(0)
            if kind == "card":
                if not luhn_valid(re.sub(r"\D", "", value)):
                    counts.luhn_invalid += 1
                    return value
            elif kind == "phone" and not _is_phone(value):
                return value
            if kind not in self.kinds or value in keep:
                return value
            setattr(counts, kind, getattr(counts, kind) + 1)
            return self.placeholders.get(kind, DEFAULT_PLACEHOLDERS[kind])

        if not _candidate(text):
            return text, counts  # the common case: nothing to look at
        return _PATTERN.sub(repl, text), counts

    def may_hold_pii(self, text: str) -> bool:
        """Cheap test on raw text (JSON included) before parsing and scrubbing it."""
        return _candidate(text)

    def scrub_value(self, value: Any, counts: ScrubCounts) -> Any:
        """Every string inside a JSON value scrubbed (the stored source record keeps no PII)."""
        if isinstance(value, str):
            new, c = self.scrub(value)
            counts.add(c)
            return new
        if isinstance(value, list):
            return [self.scrub_value(v, counts) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_value(v, counts) for k, v in value.items()}
        return value


def find_pii(text: str, kinds: Iterable[str] = KINDS) -> list[tuple[str, str]]:
    """(kind, value) for each PII match that would be replaced (for tests and previews)."""
    found: list[tuple[str, str]] = []
    wanted = set(kinds)
    for m in _PATTERN.finditer(text):
        kind, value = m.lastgroup or "", m.group(0)
        if kind == "card" and not luhn_valid(re.sub(r"\D", "", value)):
            continue
        if kind == "phone" and not _is_phone(value):
            continue
        if kind in wanted:
            found.append((kind, value))
    return found
