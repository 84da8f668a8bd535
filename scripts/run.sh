#!/usr/bin/env bash
# Runs the kiosk with every device simulated and the central service embedded.
# Opens a window when a display exists; otherwise runs headless and says so. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# The simulated IC card sits in pcscd's virtual reader; start pcscd if nothing else did.
if ! pgrep -x pcscd >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    pcscd >/dev/null 2>&1 || echo "run: pcscd did not start; the IC card reader will show offline"
  else
    echo "run: pcscd is not running (start it with: sudo pcscd); the IC card reader will show offline"
  fi
fi
exec cargo run --quiet -p kiosk-app --bin kiosk -- run --config config/kiosk.sim.toml "$@"
