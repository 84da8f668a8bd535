#!/usr/bin/env bash
# Runs every HallKit test: installs missing system packages first. Used as-is by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# Incremental data only speeds up rebuilds after small edits, and from cold it costs GBs of
# disk: off here unless asked for.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The tests never need a display; make sure a developer's DISPLAY does not open windows.
unset DISPLAY WAYLAND_DISPLAY
# The GPIO character-device backend is for real boards; compile it so it cannot rot.
cargo check -p kiosk-hal --features gpio-cdev --quiet
cargo test --workspace --no-fail-fast "$@"
