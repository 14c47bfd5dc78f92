"""The chat child's model: one base model loaded once, with any number of LoRA adapters of it
loaded by name (peft `load_adapter`), and the tokenizer each adapter was trained with."""

from __future__ import annotations

import os
from typing import Any, Optional

from workbench.engine.errors import BadConfigError, ModelLoadError

BASE_NAME = "__base__"  # peft's name for "no adapter" in a mixed-adapter batch
LEGACY_ADAPTER = "default"  # ChatSpec.adapter_path loads under this name


def stop_token_ids(tokenizer, generation_config) -> list[int]:
    """The ids that end a reply: the model's generation config eos_token_id (an int or a list,
    e.g. Llama 3 lists <|eot_id|> and <|end_of_text|>) plus the tokenizer's eos."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(generation_config, "eos_token_id", None)):
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int) and not isinstance(v, bool))
    return sorted(ids)


def generation_pad_id(tokenizer, stop_ids: list[int]) -> Optional[int]:
    """The tokenizer's pad id (0 is a valid id), else the first stop id."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return stop_ids[0] if stop_ids else None


def context_limit(config) -> Optional[int]:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def has_tokenizer(folder: Optional[str]) -> bool:
    return bool(folder) and any(os.path.isfile(os.path.join(folder, name))
                                for name in ("tokenizer.json", "tokenizer_config.json"))


def tokenizer_folder(spec: Any) -> str:
    """Where a chat loads its tokenizer (`spec` has base_model_path, adapter_path): the adapter
    folder when training saved the tokenizer and chat template there (prompts render as in
    training), else the base model folder."""
    adapter = spec.adapter_path
    return adapter if has_tokenizer(adapter) else spec.base_model_path


def adapter_table(spec: Any) -> dict[str, str]:
    """name -> folder of every adapter a ChatSpec asks for (adapter_path as "default")."""
    table = dict(getattr(spec, "adapters", None) or {})
    if spec.adapter_path:
        if LEGACY_ADAPTER in table and table[LEGACY_ADAPTER] != spec.adapter_path:
            raise BadConfigError("The chat spec names two adapters 'default'.",
                                 advice="Give the adapter in `adapters` another name.")
        table = {LEGACY_ADAPTER: spec.adapter_path, **table}
    for name, path in table.items():
        if not name or name == BASE_NAME or not isinstance(path, str) or not path:
            raise BadConfigError(f"Bad adapter entry {name!r}: {path!r}.",
                                 advice="Each adapter needs a name (not '__base__') and a folder.")
    return table


class ChatModel:
    """The loaded base model (a PeftModel once an adapter is loaded) and per-adapter tokenizers."""

    def __init__(self, base_path: str, device: str, dtype) -> None:
        from transformers import AutoModelForCausalLM

        self.base_path = base_path
        self.device = device
        self.tokenizer = self._tokenizer(base_path, base_path)
        if not self.tokenizer.chat_template:
            raise ModelLoadError(f"The base model {base_path} has no chat template.",
                                 advice="Chat needs an instruction/chat model.")
        try:
            model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot load the base model {base_path}.", details=str(exc),
                                 advice="Check that the folder holds a Hugging Face causal LM.") from exc
        self.model = model.to(device).eval()
        self.tokenizers: dict[str, Any] = {}  # adapter name -> its tokenizer (the base's if it saved none)
        self.paths: dict[str, str] = {}
        self.eos_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        self.pad_id = generation_pad_id(self.tokenizer, self.eos_ids)
        self.limit = context_limit(self.model.config)

    @staticmethod
    def _tokenizer(folder: str, base_path: str):
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot load the tokenizer in {folder}.", details=str(exc),
                                 advice=f"Check that {base_path} holds a Hugging Face model.") from exc

    @property
    def adapter_names(self) -> list[str]:
        return list(self.paths)

    def add_adapter(self, name: str, path: str) -> None:
        """Load a LoRA adapter of this base under `name` (the base weights stay as they are)."""
        if name in self.paths:
            raise BadConfigError(f"An adapter named {name!r} is loaded already.",
                                 advice="Pick another name, or start a new chat to replace it.")
        if not os.path.isfile(os.path.join(path, "adapter_config.json")):
            raise ModelLoadError(f"{path} is not an adapter folder (no adapter_config.json).",
                                 advice="Pick a run's adapter or one of its kept checkpoints.")
        try:
            if not self.paths:
                from peft import PeftModel

                self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name).eval()
            else:
                self.model.load_adapter(path, adapter_name=name)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(f"Cannot load the adapter {path}.", details=str(exc),
                                 advice="The adapter must be trained on this base model.") from exc
        self.model.eval()
        self.paths[name] = path
        self.tokenizers[name] = (self._tokenizer(path, self.base_path) if has_tokenizer(path)
                                 else self.tokenizer)

    def resolve(self, adapter: Optional[str], default_marker: str) -> Optional[str]:
        """The adapter a request means (None: the base); an unknown name is a clear error."""
        if adapter == default_marker:
            return LEGACY_ADAPTER if LEGACY_ADAPTER in self.paths else None
        if adapter is None or adapter == BASE_NAME:
            return None
        if adapter not in self.paths:
            known = ", ".join(self.paths) or "none"
            raise BadConfigError(f"No adapter named {adapter!r} is loaded in this chat.",
                                 advice=f"Loaded adapters: {known}. Add it first (add_adapter).")
        return adapter

    def tokenizer_for(self, adapter: Optional[str]):
        return self.tokenizer if adapter is None else self.tokenizers[adapter]
