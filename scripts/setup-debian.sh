#!/usr/bin/env bash
# Installs what HallKit needs to build, run and test on Debian 12, skipping what is present.
# Safe to run again; changes nothing when everything is installed.
set -euo pipefail

packages=(
  build-essential pkg-config clang libclang-dev
  libudev-dev libusb-1.0-0-dev
  libopencv-dev
  libfontconfig1-dev libxkbcommon-dev fonts-noto-cjk
  xvfb x11-utils
  pcscd libpcsclite-dev vsmartcard-vpcd
  cups-daemon cups-client cups-filters printer-driver-cups-pdf ghostscript poppler-utils
  postgresql
  python3-venv
  espeak-ng sox alsa-utils
  chromium nodejs
  librime-dev rime-prelude rime-essay rime-data-luna-pinyin libopencc-data
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    # Debian 12's own rustc (1.63) is too old for Slint; rustup is the supported toolchain.
    echo "setup: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# Python tools the tests drive get their own virtualenvs under ~/.cache/hallkit, every package
# pinned in a requirements file; the stamp (a copy of that file) is written only once the
# install finished, so an interrupted or outdated one is redone.
pinned_venv() { # NAME REQUIREMENTS
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/hallkit/$1" requirements="$2"
  if ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
    echo "setup: installing $1 into $venv"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
}
# schemathesis checks the centre against docs/openapi.json (central/tests/openapi_conformance.rs).
pinned_venv schemathesis-4.32.5 "$(dirname "$0")/schemathesis-requirements.txt"
# Other vendors' host libraries (pyfingerprint) talk to `kiosk simulate` in
# kiosk-app/tests/vendor_hosts.rs.
pinned_venv vendor-hosts-1 "$(dirname "$0")/vendor-hosts-requirements.txt"
# Browser tests drive Debian's Chromium with playwright-core (never a browser of its own),
# pinned by scripts/browser-tests/package-lock.json; the same stamp rule as the venvs.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing npm"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js $node_major is too old for playwright-core (it needs 20 or newer)" >&2
  exit 1
fi
browser_tests="${XDG_CACHE_HOME:-$HOME/.cache}/hallkit/browser-tests-1"
if ! cmp -s "$(dirname "$0")/browser-tests/package-lock.json" "$browser_tests/installed-lock.json"; then
  echo "setup: installing playwright-core into $browser_tests"
  rm -rf "$browser_tests"
  mkdir -p "$browser_tests"
  cp "$(dirname "$0")/browser-tests/package.json" "$(dirname "$0")/browser-tests/package-lock.json" "$browser_tests/"
  (cd "$browser_tests" && npm ci --no-audit --no-fund --silent)
  cp "$(dirname "$0")/browser-tests/package-lock.json" "$browser_tests/installed-lock.json"
fi
# The device API's TypeScript SDK builds with its own pinned tools (sdk/js/package-lock.json).
sdk="$(dirname "$0")/../sdk/js"
if ! cmp -s "$sdk/package-lock.json" "$sdk/node_modules/.installed-lock.json"; then
  echo "setup: installing the SDK's build tools into sdk/js/node_modules"
  (cd "$sdk" && npm ci --no-audit --no-fund --silent)
  cp "$sdk/package-lock.json" "$sdk/node_modules/.installed-lock.json"
fi
echo "setup: system packages, Rust toolchain ($(cargo --version)), schemathesis and vendor host libraries present"
