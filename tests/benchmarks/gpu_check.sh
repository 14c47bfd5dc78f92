#!/usr/bin/env bash
# GPU check (issue 8 req 13): on a machine with an NVIDIA GPU, in at most ~8 minutes:
#   1. packaging/setup.sh takes its CUDA branch (CUDA torch, bitsandbytes),
#   2. tests/benchmarks/gpu_check.py: SmolLM2 LoRA in bf16 and QLoRA 4-bit through the engine,
#      estimate vs measured peak memory, tokens/s and MFU,
# Usage: bash tests/benchmarks/gpu_check.sh   (prints a summary; exit 1 if a step failed)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version --format=csv || { echo "no NVIDIA GPU"; exit 1; }
status=0
timeout 300 bash packaging/setup.sh || { echo "setup failed"; status=1; }
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" || status=1
timeout 240 .venv/bin/python tests/benchmarks/gpu_check.py --steps 30 --batch 8 --length 512 || status=1
exit $status
