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
  librime-dev rime-prelude rime-essay rime-data-luna-pinyin libopencc-data
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
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
echo "setup: system packages, Rust toolchain ($(cargo --version)), schemathesis and vendor host libraries present"
