#!/usr/bin/env bash
# First README command: set up (once; fast when nothing changed) and open Workbench on the
# demo project, or on the project folder given as an argument.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/packaging/setup.sh"
if [ "$#" -gt 0 ]; then
  exec "$root/.venv/bin/workbench-gui" "$@"
fi
exec "$root/.venv/bin/workbench-gui" --demo
