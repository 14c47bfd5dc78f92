"""Loading what an eval child evaluates or judges with: a base model folder, optionally a PEFT
adapter on it, and the tokenizer that renders prompts as training rendered them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from workbench.engine.chat import tokenizer_folder
from workbench.engine.errors import MissingModelError, ModelLoadError

WRONG_BASE_HINTS = ("size mismatch", "target modules", "not found in the base model", "missing key",
                    "unexpected key")


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    path: str
    adapter: Optional[str]


@dataclass(frozen=True)
class _Paths:
    """What chat.tokenizer_folder reads (base_model_path, adapter_path)."""

    base_model_path: str
    adapter_path: Optional[str]


def adapter_base_name(adapter: str) -> str:
    """The base model the adapter's config names (as training wrote it), or "" if unreadable."""
    try:
        with open(os.path.join(adapter, "adapter_config.json"), encoding="utf-8") as f:
            return str(json.load(f).get("base_model_name_or_path") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _wrong_base(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(hint in text for hint in WRONG_BASE_HINTS)


def load_tokenizer(path: str, adapter: Optional[str]):
    from transformers import AutoTokenizer

    folder = tokenizer_folder(_Paths(path, adapter))
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load the tokenizer of {folder}.", details=str(exc),
                             advice="The model (or adapter) folder must hold its tokenizer files.") from exc
    if not tokenizer.chat_template:
        raise ModelLoadError(f"The model {path} has no chat template.",
                             advice="Evaluation renders each item with the chat template: pick an "
                                    "instruction/chat model.")
    return tokenizer


def check_folders(path: str, adapter: Optional[str], role: str = "model") -> None:
    """A missing model or adapter folder fails before anything heavy is loaded."""
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise MissingModelError(
            f"The {role} folder {path} is missing or holds no config.json.",
            advice="Rebuild the built-in model on the Models page, or put the model's folder back "
                   "where the project expects it.")
    if adapter and not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise MissingModelError(
            f"The adapter folder {adapter} is missing or holds no adapter_config.json.",
            advice="Pick a checkpoint the run still keeps (final, best or a kept checkpoint-N).")


def load_model(path: str, adapter: Optional[str], plan, role: str = "model") -> Loaded:
    """The model (+ adapter) on plan's device, in eval mode. A missing folder, a folder that is
    not a causal LM, or an adapter made for another base model raise a ModelLoadError that says
    which and what to do."""
    from transformers import AutoModelForCausalLM

    check_folders(path, adapter, role)
    tokenizer = load_tokenizer(path, adapter)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=plan.torch_dtype(), trust_remote_code=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot load the {role} {path}.", details=str(exc),
                             advice="Check that the folder holds a complete Hugging Face causal LM "
                                    "(config.json and its weights).") from exc
    if adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            if _wrong_base(exc):
                named = adapter_base_name(adapter)
                raise ModelLoadError(
                    f"The adapter {adapter} was trained on another base model "
                    f"({named or 'its config names none'}), not on {path}.",
                    details=str(exc),
                    advice="Evaluate the adapter with the base model its run trained on, or pick an "
                           "adapter trained on this base model.") from exc
            raise ModelLoadError(f"Cannot load the adapter {adapter} onto {path}.", details=str(exc),
                                 advice="The adapter folder may be incomplete: pick another checkpoint "
                                        "of the run.") from exc
    model.config.use_cache = True  # training turns the KV cache off; generation wants it
    return Loaded(model.to(plan.device).eval(), tokenizer, path, adapter)
