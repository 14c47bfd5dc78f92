"""Typed parameters of each cleaning operation, built from a plain dict (UI, CLI, options)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from workbench.core.records import ROLES
from workbench.data.ops.pii import DEFAULT_PLACEHOLDERS, DEFAULT_REGION, KINDS, check_region
from workbench.data.storage.rowio import DataOpError



@dataclass(frozen=True)
class ExactDedupParams:
    case_sensitive: bool = False  # whitespace is always collapsed; case folded unless True


@dataclass(frozen=True)
class NearDedupParams:
    threshold: float = 0.8  # estimated Jaccard similarity of word shingles
    num_perm: int = 128
    shingle_size: int = 3  # words per shingle
    include_system: bool = False  # a shared system prompt would make everything look alike
    seed: int = 1

    def check(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise DataOpError(f"Near-duplicate threshold {self.threshold} is out of range.",
                              advice="Use a similarity between 0 and 1 (0.8 finds paraphrase-level copies).")
        if not 16 <= self.num_perm <= 1024:
            raise DataOpError(f"num_perm {self.num_perm} is out of range.", advice="Use 16 to 1024 (128 is typical).")
        if not 1 <= self.shingle_size <= 10:
            raise DataOpError(f"shingle_size {self.shingle_size} is out of range.", advice="Use 1 to 10 words (3 is typical).")


@dataclass(frozen=True)
class EmptyParams:
    # A row with an empty or whitespace-only message: "remove_row" drops the row, "drop_message"
    # drops only those messages (the row goes anyway if no assistant reply is left).
    messages: str = "remove_row"

    def check(self) -> None:
        if self.messages not in ("remove_row", "drop_message"):
            raise DataOpError(f"Unknown empty-message mode {self.messages!r}.",
                              advice="Use 'remove_row' or 'drop_message'.")


@dataclass(frozen=True)
class LengthParams:
    min_length: int = 0
    max_length: Optional[int] = None
    tokenizer: Optional[str] = None  # model folder with tokenizer.json; None: characters
    measure: str = "content"  # "content": all message texts; "rendered": the chat template's text

    def check(self) -> None:
        if self.min_length < 0 or (self.max_length is not None and self.max_length < max(1, self.min_length)):
            raise DataOpError(f"Length range {self.min_length}..{self.max_length} is empty.",
                              advice="Set min_length >= 0 and max_length >= min_length (or leave max_length empty).")
        if self.measure not in ("content", "rendered"):
            raise DataOpError(f"Unknown length measure {self.measure!r}.", advice="Use 'content' or 'rendered'.")
        if self.measure == "rendered" and not self.tokenizer:
            raise DataOpError("Measuring rendered length needs a model's tokenizer.",
                              advice="Choose a base model (tokenizer) or measure 'content'.")


@dataclass(frozen=True)
class PiiParams:
    kinds: tuple[str, ...] = KINDS
    placeholders: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PLACEHOLDERS))
    keep: tuple[str, ...] = ()  # exact values to leave, e.g. the shop's own support address
    roles: tuple[str, ...] = ROLES
    # ISO region national phone numbers are read in ("GB": "020 7946 0958"); numbers with a
    # "+" country code are found whatever it is; "": only those.
    phone_region: str = DEFAULT_REGION

    def check(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS] + [r for r in self.roles if r not in ROLES]
        if bad:
            raise DataOpError(f"Unknown PII kinds or roles: {', '.join(map(str, bad))}.",
                              advice=f"Kinds: {', '.join(KINDS)}; roles: {', '.join(ROLES)}.")
        problem = check_region(self.phone_region)
        if problem:
            raise DataOpError(problem, advice="Use a two-letter country code such as US, GB, DE or IN, or leave it "
                                              "empty to find only numbers written with a + country code.")


@dataclass(frozen=True, order=True)
class SpanRef:
    """One PII replacement: characters start..end of message `message` (0-based, in the
    version being cleaned) of row `row`."""

    row: int
    message: int
    start: int
    end: int


@dataclass(frozen=True)
class Exclusions:
    """Proposed changes the user switched off: they are not applied. `rows`: whole rows kept
    as they are (a removal or a change not made); `spans`: single PII replacements left.
    Any iterables are accepted; they are kept sorted and without repeats (equal choices,
    equal records)."""

    rows: tuple[int, ...] = ()
    spans: tuple[SpanRef, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(sorted(set(self.rows))))
        object.__setattr__(self, "spans", tuple(sorted(set(self.spans))))

    def __bool__(self) -> bool:
        return bool(self.rows or self.spans)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, sorted: what a derived version records (equal exclusions, equal dicts)."""
        return {"rows": list(self.rows), "spans": [[s.row, s.message, s.start, s.end] for s in self.spans]}

    @classmethod
    def from_dict(cls, data: Any) -> "Exclusions":
        try:
            rows = [int(r) for r in (data or {}).get("rows", ())]
            spans = [SpanRef(*(int(x) for x in s)) for s in (data or {}).get("spans", ())]
        except (TypeError, ValueError, AttributeError) as exc:
            raise DataOpError(f"Excluded changes are malformed: {exc}.",
                              advice='Give {"rows": [row, ...], "spans": [[row, message, start, end], ...]}.')
        if any(r < 0 for r in rows) or any(min(s.row, s.message, s.start) < 0 or s.end <= s.start for s in spans):
            raise DataOpError("Excluded changes name negative rows or empty spans.",
                              advice="Rows and messages are 0-based; a span's end is after its start.")
        return cls(rows, spans)


PARAMS: dict[str, type] = {
    "exact_dedup": ExactDedupParams,
    "near_dedup": NearDedupParams,
    "empty": EmptyParams,
    "length": LengthParams,
    "pii": PiiParams,
}
OP_LABELS = {
    "exact_dedup": "Remove exact duplicates",
    "near_dedup": "Remove near duplicates",
    "empty": "Remove empty rows and messages",
    "length": "Filter by length",
    "pii": "Scrub personal data",
}


def _coerce(value: Any, default: Any, name: str) -> Any:
    if isinstance(default, tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(default, tuple) and isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif isinstance(default, float) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(default, int) and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(default, dict) and isinstance(value, dict):
        return {**default, **{str(k): str(v) for k, v in value.items()}}
    elif default is None or isinstance(default, str):
        if name in ("max_length",) and value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                pass
        elif value is None or isinstance(value, str):
            return value
    raise DataOpError(f"Parameter {name} has the wrong type: {value!r}.",
                      advice=f"Give a value like {default!r}.")


def resolve_params(op: str, params: Any = None) -> Any:
    """The op's params dataclass from a dict (or the dataclass itself), checked."""
    if op not in PARAMS:
        raise DataOpError(f"Unknown cleaning operation '{op}'.", advice=f"Choose one of: {', '.join(PARAMS)}.")
    cls = PARAMS[op]
    if isinstance(params, cls):
        resolved = params
    else:
        given = dict(params or {})
        defaults = cls()
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise DataOpError(f"Unknown parameter(s) for {op}: {', '.join(unknown)}.",
                              advice=f"{op} takes: {', '.join(names)}.")
        resolved = cls(**{k: _coerce(v, getattr(defaults, k), k) for k, v in given.items()})
    check = getattr(resolved, "check", None)
    if check is not None:
        check()
    return resolved


def params_dict(params: Any) -> dict[str, Any]:
    """JSON-ready form recorded in a derived version's options (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()}
