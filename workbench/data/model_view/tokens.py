"""A model folder's tokenizer, read without transformers: tokenizer.json through the
`tokenizers` library, special tokens and the chat template from the files beside it.

Where the chat template comes from, in transformers' own order: chat_template.jinja (what
transformers 5 writes), chat_template.json, then tokenizer_config.json's "chat_template"
(a string, or a list of named templates of which "default" is used, and "tool_use" for a
conversation with tool definitions, as transformers picks them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from workbench.core.hashing import file_sha256
from workbench.data.storage.rowio import DataOpError

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _token_text(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]  # older configs serialise AddedToken objects
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataOpError(f"Cannot read {path}.", details=str(exc),
                          advice="The model folder's tokenizer files are damaged; restore them.") from exc
    return data if isinstance(data, dict) else {}


def _template_from(value: Any, name: str = "default") -> Optional[str]:
    if isinstance(value, str):
        return value if name == "default" else None
    if isinstance(value, list):
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        if name != "default":
            return named.get(name) if isinstance(named.get(name), str) else None
        return named.get("default") or next((t for t in named.values() if isinstance(t, str)), None)
    return None


@dataclass(frozen=True)
class TokenizerFiles:
    folder: str
    tokenizer_json: str
    chat_template: Optional[str]
    special_tokens: dict[str, str]  # bos_token, eos_token, ... as the template sees them
    fingerprint: str  # sha256 of tokenizer.json (recorded with lengths measured in its tokens)
    tool_template: Optional[str] = None  # a named "tool_use" template, when the tokenizer has one


def find_tokenizer_files(path: str | os.PathLike[str]) -> TokenizerFiles:
    """`path` is a model folder (or its tokenizer.json)."""
    p = Path(path)
    folder = p.parent if p.is_file() else p
    tok_json = p if p.is_file() else folder / "tokenizer.json"
    if not tok_json.is_file():
        raise DataOpError(
            f"No tokenizer.json in {folder}.",
            advice="Choose a Hugging Face model folder with a fast tokenizer (tokenizer.json), "
            "or measure lengths in characters.",
        )
    config = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    template: Optional[str] = None
    named: Any = config.get("chat_template")
    if (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    elif (folder / "chat_template.json").is_file():
        named = _read_json(folder / "chat_template.json").get("chat_template")
        template = _template_from(named)
    if template is None:
        template = _template_from(config.get("chat_template"))
    special = {name: t for name in SPECIAL_TOKEN_NAMES if (t := _token_text(config.get(name))) is not None}
    if (folder / "special_tokens_map.json").is_file():  # legacy: fills what the config lacks
        for name, value in _read_json(folder / "special_tokens_map.json").items():
            if name in SPECIAL_TOKEN_NAMES and name not in special and (t := _token_text(value)) is not None:
                special[name] = t
    return TokenizerFiles(str(folder), str(tok_json), template, special, "sha256:" + file_sha256(tok_json),
                          _template_from(named, "tool_use"))


_CACHE: dict[tuple[str, float], Any] = {}


def load_tokenizer(files: TokenizerFiles):
    """tokenizers.Tokenizer for the folder (cached per file and modification time)."""
    from tokenizers import Tokenizer

    key = (files.tokenizer_json, os.path.getmtime(files.tokenizer_json))
    if key not in _CACHE:
        try:
            _CACHE[key] = Tokenizer.from_file(files.tokenizer_json)
        except Exception as exc:  # the Rust side raises plain Exception for a bad file
            raise DataOpError(f"Cannot load the tokenizer {files.tokenizer_json}.", details=str(exc),
                              advice="The file is not a Hugging Face tokenizers file or is damaged.") from exc
    return _CACHE[key]


class LengthCounter:
    """Lengths of texts in tokens of a tokenizer, or in characters when there is none."""

    def __init__(self, files: Optional[TokenizerFiles]) -> None:
        self.files = files
        self.tokenizer = load_tokenizer(files) if files is not None else None
        self.unit = "tokens" if files is not None else "chars"

    def lengths(self, texts: list[str]) -> list[int]:
        if self.tokenizer is None:
            return [len(t) for t in texts]
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def describe(self) -> dict[str, Any]:
        if self.files is None:
            return {"unit": "chars"}
        return {"unit": "tokens", "tokenizer": self.files.folder, "tokenizer_hash": self.files.fingerprint}


def counter_for(path: Optional[str]) -> LengthCounter:
    return LengthCounter(find_tokenizer_files(path) if path else None)
