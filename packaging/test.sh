#!/usr/bin/env bash
# Second README command: set up if needed, check the layer contracts, run the whole test suite
# headless (slow tests included), and print the 25 slowest tests. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash packaging/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
