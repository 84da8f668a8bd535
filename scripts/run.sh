#!/usr/bin/env bash
# Runs the kiosk with every device simulated and the central service embedded.
# Opens a window when a display exists; otherwise runs headless and says so. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
exec cargo run --quiet -p kiosk-app --bin kiosk -- run --config config/kiosk.sim.toml "$@"
