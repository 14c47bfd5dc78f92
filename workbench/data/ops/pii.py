"""PII scrubbing: e-mail addresses, phone numbers and payment card numbers → placeholders.

E-mail addresses and card-shaped numbers are found with regular expressions; phone numbers
with Google's libphonenumber rules (the `phonenumbers` package, leniency VALID): a number
counts only if it is a valid number of its country, so year ranges ("1997-2005"), dates,
decimals and version numbers are left alone. Numbers written with a "+" country code are
found whatever the region; the region (ISO code, default "US") says how national numbers
such as "(415) 555-0132" or "020 7946 0958" (GB) are read.

An address's digits are never read as a phone number, a number right after "#" is an order
or ticket number, and a card-shaped number that fails the Luhn check (or starts with no card
network's digit, as an ISBN-13 does) is left as it is and not re-read as a phone number.
Each match has its span, so a preview can list it and an apply can leave it (scrub's skip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Optional

KINDS = ("email", "phone", "card")
DEFAULT_PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]"}
DEFAULT_REGION = "US"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"
)
_CARD = re.compile(r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])")
# Every phone number holds 4+ digits close together (the shortest, e.g. "+683 4002", too);
# a text with no such run and no "@" cannot hold PII, and this scan is far cheaper than
# the phone matcher's.
_CANDIDATE = re.compile(r"@|\d(?:[^\d\n]{0,3}\d){3}")


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


def _is_card(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    # Card networks' numbers start with 2-6 (Mastercard, Amex/Diners/JCB, Visa, Discover/
    # UnionPay/Maestro): an ISBN-13 (978...) that happens to pass Luhn is not a card.
    return digits[0] in "23456" and luhn_valid(digits)


def check_region(region: str) -> Optional[str]:
    """None when `region` is "" (only "+"-prefixed numbers) or a region phonenumbers knows;
    otherwise the message saying why not."""
    if not region:
        return None
    import phonenumbers

    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        return f"Unknown phone region {region!r}."
    return None


@dataclass(frozen=True)
class PiiMatch:
    """One value that would be replaced: text[start:end] == value."""

    kind: str
    start: int
    end: int
    value: str


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


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in taken)


@dataclass(frozen=True)
class Scrubber:
    kinds: tuple[str, ...] = KINDS
    placeholders: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PLACEHOLDERS))
    keep: tuple[str, ...] = ()  # exact values left as they are (a shop's own support address)
    region: str = DEFAULT_REGION  # how national phone numbers are read; "": only "+" numbers

    def scan(self, text: str) -> tuple[list[PiiMatch], int]:
        """(every match of a wanted kind, not in `keep`, in text order; Luhn-invalid count)."""
        if not _CANDIDATE.search(text):
            return [], 0  # the common case: nothing to look at
        found: list[PiiMatch] = []
        taken: list[tuple[int, int]] = []  # spans no phone number may overlap
        for m in _EMAIL.finditer(text):
            taken.append(m.span())
            found.append(PiiMatch("email", m.start(), m.end(), m.group(0)))
        luhn_invalid = 0
        for m in _CARD.finditer(text):
            if _overlaps(m.start(), m.end(), taken):
                continue
            taken.append(m.span())
            if _is_card(m.group(0)):
                found.append(PiiMatch("card", m.start(), m.end(), m.group(0)))
            elif not luhn_valid(re.sub(r"\D", "", m.group(0))):
                luhn_invalid += 1
        if "phone" in self.kinds:
            import phonenumbers  # loaded on first use: its metadata is large

            matcher = phonenumbers.PhoneNumberMatcher(text, self.region.upper() or None,
                                                      leniency=phonenumbers.Leniency.VALID)
            for pm in matcher:
                # "#4155550132" is an order or ticket number, whatever its digits.
                if not _overlaps(pm.start, pm.end, taken) and text[max(0, pm.start - 1):pm.start] != "#":
                    found.append(PiiMatch("phone", pm.start, pm.end, pm.raw_string))
        keep = set(self.keep)
        wanted = [m for m in found if m.kind in self.kinds and m.value not in keep]
        return sorted(wanted, key=lambda m: m.start), luhn_invalid

    def find(self, text: str) -> list[PiiMatch]:
        """What scrub() would replace, in text order."""
        return self.scan(text)[0]

    def replace(self, text: str, matches: Iterable[PiiMatch]) -> str:
        """text with exactly these matches (from find(text)) replaced by their placeholders."""
        parts, pos = [], 0
        for m in sorted(matches, key=lambda m: m.start):
            parts.append(text[pos:m.start])
            parts.append(self.placeholders.get(m.kind, DEFAULT_PLACEHOLDERS[m.kind]))
            pos = m.end
        parts.append(text[pos:])
        return "".join(parts)

    def scrub(self, text: str, skip: Collection[tuple[int, int]] = ()) -> tuple[str, ScrubCounts]:
        """text with each match replaced by its placeholder, except the (start, end) spans in
        `skip` (changes the user switched off)."""
        matches, luhn_invalid = self.scan(text)
        counts = ScrubCounts(luhn_invalid=luhn_invalid)
        applied = [m for m in matches if (m.start, m.end) not in skip]
        for m in applied:
            setattr(counts, m.kind, getattr(counts, m.kind) + 1)
        return (self.replace(text, applied) if applied else text), counts

    def may_hold_pii(self, text: str) -> bool:
        """Cheap test on raw text (JSON included) before parsing and scrubbing it."""
        return _CANDIDATE.search(text) is not None

    def scrub_value(self, value: Any, counts: ScrubCounts, keep: Collection[str] = ()) -> Any:
        """Every string inside a JSON value scrubbed (the stored source record keeps no PII),
        except the values in `keep` (those the user chose to leave in this row's messages)."""
        if isinstance(value, str):
            skip = [(m.start, m.end) for m in self.find(value) if m.value in keep] if keep else ()
            new, c = self.scrub(value, skip)
            counts.add(c)
            return new
        if isinstance(value, list):
            return [self.scrub_value(v, counts, keep) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_value(v, counts, keep) for k, v in value.items()}
        return value


def find_pii(text: str, kinds: Iterable[str] = KINDS, region: str = DEFAULT_REGION) -> list[tuple[str, str]]:
    """(kind, value) for each PII match that would be replaced (for tests and previews)."""
    return [(m.kind, m.value) for m in Scrubber(tuple(kinds), region=region).find(text)]
