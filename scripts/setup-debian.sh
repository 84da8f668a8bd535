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

# schemathesis checks the centre against docs/openapi.json (central/tests/openapi_conformance.rs).
# It gets its own virtualenv with every package pinned; the stamp is written only once the
# install finished, so an interrupted one is redone.
st_version=4.32.5
st_venv="${XDG_CACHE_HOME:-$HOME/.cache}/hallkit/schemathesis-$st_version"
st_requirements="$(dirname "$0")/schemathesis-requirements.txt"
if ! cmp -s "$st_requirements" "$st_venv/installed-requirements.txt"; then
  echo "setup: installing schemathesis $st_version into $st_venv"
  rm -rf "$st_venv"
  /usr/bin/python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install -q --disable-pip-version-check -r "$st_requirements"
  cp "$st_requirements" "$st_venv/installed-requirements.txt"
fi

# Other vendors' host libraries (pyfingerprint) talk to `kiosk simulate` in
# kiosk-app/tests/vendor_hosts.rs; the same pinned-venv pattern.
vh_venv="${XDG_CACHE_HOME:-$HOME/.cache}/hallkit/vendor-hosts-1"
vh_requirements="$(dirname "$0")/vendor-hosts-requirements.txt"
if ! cmp -s "$vh_requirements" "$vh_venv/installed-requirements.txt"; then
  echo "setup: installing vendor host libraries into $vh_venv"
  rm -rf "$vh_venv"
  /usr/bin/python3 -m venv "$vh_venv"
  "$vh_venv/bin/pip" install -q --disable-pip-version-check -r "$vh_requirements"
  cp "$vh_requirements" "$vh_venv/installed-requirements.txt"
fi
echo "setup: system packages, Rust toolchain ($(cargo --version)), schemathesis and vendor host libraries present"
