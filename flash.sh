#!/usr/bin/env bash
# flash.sh: provisions a HallKit terminal, a hall centre, or both, onto a Debian host or into an
# image root. Idempotent: a second run with the same inputs changes nothing, and the terminal's
# identity (its key in /var/lib/hallkit) survives a reflash.
#
#   ./flash.sh --config config/kiosk.hardware.toml                  # this host, a kiosk
#   ./flash.sh --root /mnt/image --config my-kiosk.toml \
#              --binaries target/release --enrol-code 3F9C…          # an image, enrolled
#   ./flash.sh --role central --central-listen 0.0.0.0:8640         # a hall centre
#
# Everything is checked and made in a staging directory first; nothing is written to the root
# until the arguments, the binaries and the configuration have all passed.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./flash.sh [--root DIR] [--role kiosk|central|both] [--config FILE]
                  [--binaries DIR] [--enrol-code CODE] [--algorithm ed25519|sm2]
                  [--central-listen ADDR]

  --root DIR            the root to provision (default /): a host, or a mounted image
  --role ROLE           kiosk (default), central, or both
  --config FILE         the terminal's configuration (required for kiosk and both)
  --binaries DIR        take kiosk and kiosk-central from DIR (default: build them with
                        cargo build --release)
  --enrol-code CODE     enrol the terminal's key with its centre (from kiosk-central enrol-code)
  --algorithm ALG       the terminal key's algorithm when one is made (default ed25519)
  --central-listen ADDR where a hall centre listens (default 0.0.0.0:8640)
EOF
}

die() {
    echo "flash.sh: $*" >&2
    exit 2
}

root=/
role=kiosk
config=
binaries=
enrol_code=
algorithm=ed25519
central_listen=0.0.0.0:8640
while [ $# -gt 0 ]; do
    case "$1" in
        --root | --role | --config | --binaries | --enrol-code | --algorithm | --central-listen)
            [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
            case "$1" in
                --root) root=$2 ;;
                --role) role=$2 ;;
                --config) config=$2 ;;
                --binaries) binaries=$2 ;;
                --enrol-code) enrol_code=$2 ;;
                --algorithm) algorithm=$2 ;;
                --central-listen) central_listen=$2 ;;
            esac
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$role" in kiosk | central | both) ;; *) die "--role is kiosk, central or both, not '$role'" ;; esac
case "$algorithm" in ed25519 | sm2) ;; *) die "--algorithm is ed25519 or sm2, not '$algorithm'" ;; esac
[ "$(id -u)" = 0 ] || die "run as root: it writes users, udev rules and systemd units"
[ -d "$root" ] || die "the root '$root' is not a directory"
root=$(cd "$root" && pwd)
# Paths inside the root are written as $rp/etc/…: "" for the host itself.
rp=${root%/}
[ -f "$root/etc/passwd" ] && [ -f "$root/etc/group" ] ||
    die "'$root' has no etc/passwd and etc/group: not an operating system root"
kiosk_role=false
central_role=false
case "$role" in kiosk) kiosk_role=true ;; central) central_role=true ;; both) kiosk_role=true central_role=true ;; esac
if $kiosk_role; then
    [ -n "$config" ] || die "a kiosk needs --config FILE (the terminal's configuration)"
    [ -f "$config" ] || die "no configuration at '$config'"
fi
[ -z "$enrol_code" ] || $kiosk_role || die "--enrol-code is for a kiosk"

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$binaries" ]; then
    echo "flash.sh: building the release binaries (cargo build --release)…" >&2
    (cd "$here" && cargo build --release --quiet -p kiosk-app --bin kiosk -p kiosk-central --bin kiosk-central) ||
        die "the release build failed"
    binaries=$here/target/release
fi
[ -d "$binaries" ] || die "no binaries directory '$binaries'"
binaries=$(cd "$binaries" && pwd)
need_bins=()
$kiosk_role && need_bins+=(kiosk)
$central_role && need_bins+=(kiosk-central)
for b in "${need_bins[@]}"; do
    [ -x "$binaries/$b" ] || die "no executable '$b' in '$binaries'"
done
kiosk_bin=$binaries/kiosk
if $kiosk_role; then
    "$kiosk_bin" check-config --config "$config" >/dev/null ||
        die "the configuration '$config' is not valid (see above); nothing was written"
fi

# ---- Stage everything that will be installed ----------------------------------------------
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/etc"
for b in "${need_bins[@]}"; do
    cp "$binaries/$b" "$stage/bin/$b"
done
# The version the slot holds ("kiosk 0.1.0" → 0.1.0): the terminal reports it in its heartbeat
# (`software`), as it reports an update's, so a staged rollout can tell what each one runs.
version=$("$stage/bin/${need_bins[0]}" --version | awk 'NR == 1 { print $2 }')
[ -n "$version" ] || die "'${need_bins[0]} --version' named no version"
printf '%s\n' "$version" >"$stage/VERSION"
groups_wanted=(dialout video lp plugdev input)
supplementary="${groups_wanted[*]}"

if $kiosk_role; then
    cp "$config" "$stage/etc/kiosk.toml"
    "$kiosk_bin" provision udev-rules --config "$config" >"$stage/etc/70-hallkit.rules" ||
        die "the udev rules could not be made from '$config'; nothing was written"
    cat >"$stage/etc/hallkit-kiosk.service" <<EOF
# Made by flash.sh. The kiosk tells systemd when it serves (Type=notify) and feeds the watchdog
# while its journal recorder lives; a kiosk that stops feeding it, or dies, is restarted.
[Unit]
Description=HallKit terminal runtime (devices, journeys, offline journal)
After=network-online.target pcscd.service cups.service
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
User=hallkit
Group=hallkit
SupplementaryGroups=$supplementary
Environment=HALLKIT_CONFIG=/etc/hallkit/kiosk.toml
# From the committed slot: counts a new version's first start, rolls back one that never
# passed its health gate (a no-op without [update] in the configuration).
ExecStartPre=-/opt/hallkit/committed/kiosk update boot-check --config /etc/hallkit/kiosk.toml
ExecStart=/opt/hallkit/current/kiosk run --config /etc/hallkit/kiosk.toml
Restart=always
RestartSec=2
WatchdogSec=30
TimeoutStartSec=90
TimeoutStopSec=30
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/lib/hallkit /opt/hallkit

[Install]
WantedBy=multi-user.target
EOF
    cat >"$stage/etc/hallkit-power.service" <<EOF
# Made by flash.sh: carries out the power schedule the centre set (set-power-schedule):
# outside its hours, rtcwake powers the terminal off until its next switch-on.
[Unit]
Description=HallKit power schedule

[Service]
Type=oneshot
ExecStart=/opt/hallkit/committed/kiosk power apply --config /etc/hallkit/kiosk.toml
EOF
    cat >"$stage/etc/hallkit-power.timer" <<EOF
# Made by flash.sh. Fifteen minutes after boot first, so a technician who switches the terminal
# on out of hours has time to work (or to clear the schedule).
[Unit]
Description=Check the HallKit power schedule every minute

[Timer]
OnBootSec=15min
OnUnitActiveSec=1min
AccuracySec=10s

[Install]
WantedBy=timers.target
EOF
fi
if $central_role; then
    cat >"$stage/etc/hallkit-central.service" <<EOF
# Made by flash.sh: the hall's thin centre (journal ingest, queue, documents).
[Unit]
Description=HallKit hall centre
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User=hallkit
Group=hallkit
ExecStart=/opt/hallkit/current/kiosk-central serve --listen $central_listen --db /var/lib/hallkit-central/central.db
Restart=always
RestartSec=2
TimeoutStopSec=30
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/lib/hallkit-central

[Install]
WantedBy=multi-user.target
EOF
fi

# ---- Install: each file only when it differs, each replaced atomically -----------------------
changes=()
changed() { changes+=("$1"); }

# put SRC DEST MODE [OWNER]: DEST inside the root.
put() {
    local src=$1 dest=$rp$2 mode=$3 owner=${4:-0:0}
    if [ -f "$dest" ] && cmp -s "$src" "$dest" &&
        [ "$(stat -c '%a %u:%g' "$dest")" = "$mode $owner" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" "$src" "$dest.flash-new"
    chown "$owner" "$dest.flash-new"
    mv -f "$dest.flash-new" "$dest"
    changed "$2"
}

# dir PATH MODE OWNER
dir() {
    local d=$rp$1 mode=$2 owner=$3
    if [ -d "$d" ] && [ "$(stat -c '%a %u:%g' "$d")" = "$mode $owner" ]; then
        return 0
    fi
    mkdir -p "$d"
    chmod "$mode" "$d"
    chown "$owner" "$d"
    changed "$1/"
}

# link TARGET PATH
link() {
    local target=$1 path=$rp$2
    if [ -L "$path" ] && [ "$(readlink "$path")" = "$target" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    ln -sfn "$target" "$path.flash-new"
    mv -Tf "$path.flash-new" "$path"
    changed "$2 -> $target"
}

# The hallkit user and its device groups, in the root's own user database.
for g in "${groups_wanted[@]}" hallkit; do
    if ! grep -q "^$g:" "$root/etc/group"; then
        groupadd --prefix "$root" --system "$g"
        changed "group $g"
    fi
done
if ! grep -q "^hallkit:" "$root/etc/passwd"; then
    useradd --prefix "$root" --system --gid hallkit --groups "$(
        IFS=,
        echo "${groups_wanted[*]}"
    )" --home-dir /var/lib/hallkit --no-create-home --shell /usr/sbin/nologin hallkit
    changed "user hallkit"
else
    for g in "${groups_wanted[@]}"; do
        if ! grep -E "^$g:" "$root/etc/group" | grep -qE "[:,]hallkit(,|$)"; then
            usermod --prefix "$root" -aG "$g" hallkit
            changed "hallkit in group $g"
        fi
    done
fi
uid=$(awk -F: '$1 == "hallkit" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "hallkit" { print $3 }' "$root/etc/group")
owner=$uid:$gid

# Binaries: into the slot `current` points at (slot a on a new root). Updates go to the other
# slot and switch the link (kiosk update).
slot=a
if [ -L "$rp/opt/hallkit/current" ]; then
    slot=$(basename "$(readlink "$rp/opt/hallkit/current")")
fi
# The kiosk installs signed updates into the other slot and commits them itself, so its group
# may write here (kiosk update; the bundles are checked against the pinned publisher keys).
dir /opt/hallkit 775 "0:$gid"
dir /opt/hallkit/slots 775 "0:$gid"
dir "/opt/hallkit/slots/$slot" 775 "0:$gid"
for b in "${need_bins[@]}"; do
    put "$stage/bin/$b" "/opt/hallkit/slots/$slot/$b" 755
done
put "$stage/VERSION" "/opt/hallkit/slots/$slot/VERSION" 644
link "slots/$slot" /opt/hallkit/current
# A flash is a known-good version: what systemd's start check rolls back to.
link "slots/$slot" /opt/hallkit/committed

wants=/etc/systemd/system/multi-user.target.wants
if $kiosk_role; then
    dir /etc/hallkit 750 "0:$gid"
    put "$stage/etc/kiosk.toml" /etc/hallkit/kiosk.toml 640 "0:$gid"
    put "$stage/etc/70-hallkit.rules" /etc/udev/rules.d/70-hallkit.rules 644
    put "$stage/etc/hallkit-kiosk.service" /etc/systemd/system/hallkit-kiosk.service 644
    link /etc/systemd/system/hallkit-kiosk.service "$wants/hallkit-kiosk.service"
    put "$stage/etc/hallkit-power.service" /etc/systemd/system/hallkit-power.service 644
    put "$stage/etc/hallkit-power.timer" /etc/systemd/system/hallkit-power.timer 644
    link /etc/systemd/system/hallkit-power.timer /etc/systemd/system/timers.target.wants/hallkit-power.timer
    dir /var/lib/hallkit 750 "$owner"
fi
if $central_role; then
    put "$stage/etc/hallkit-central.service" /etc/systemd/system/hallkit-central.service 644
    link /etc/systemd/system/hallkit-central.service "$wants/hallkit-central.service"
    dir /var/lib/hallkit-central 750 "$owner"
fi

# ---- Identity and enrolment -----------------------------------------------------------------
if $kiosk_role; then
    key=$rp/var/lib/hallkit/device.key
    if [ -n "$enrol_code" ]; then
        # Makes the key only when there is none: a reflashed terminal keeps its identity.
        "$kiosk_bin" enrol --config "$rp/etc/hallkit/kiosk.toml" --data-dir "$rp/var/lib/hallkit" \
            --code "$enrol_code" --algorithm "$algorithm" >&2 ||
            die "enrolment failed (see above); the files above are installed, run again with a new code"
        changed "enrolled with the centre"
    elif [ ! -f "$key" ] && grep -Eq '^[[:space:]]*url[[:space:]]*=' "$config"; then
        echo "flash.sh: not enrolled yet: run again with --enrol-code CODE (kiosk-central enrol-code)" >&2
    fi
    if [ -f "$key" ] && [ "$(stat -c '%u:%g %a' "$key")" != "$owner 600" ]; then
        chown "$owner" "$key"
        chmod 600 "$key"
        changed "/var/lib/hallkit/device.key owner"
    fi
fi

# ---- Verify ---------------------------------------------------------------------------------
units=()
$kiosk_role && units+=(/etc/systemd/system/hallkit-kiosk.service /etc/systemd/system/hallkit-power.service /etc/systemd/system/hallkit-power.timer)
$central_role && units+=(/etc/systemd/system/hallkit-central.service)
if command -v systemd-analyze >/dev/null; then
    if [ "$root" = / ]; then
        systemd-analyze verify "${units[@]}" || die "systemd-analyze rejected the units"
    else
        systemd-analyze verify --root="$root" "${units[@]}" || die "systemd-analyze rejected the units"
    fi
else
    echo "flash.sh: systemd-analyze is not installed; the units were not verified" >&2
fi
if $kiosk_role; then
    "$rp/opt/hallkit/current/kiosk" check-config --config "$rp/etc/hallkit/kiosk.toml" >/dev/null ||
        die "the installed configuration does not load"
fi

if [ ${#changes[@]} -eq 0 ]; then
    echo "flash.sh: $root is provisioned ($role); nothing to change"
else
    echo "flash.sh: $root provisioned ($role), ${#changes[@]} changes:"
    printf '  %s\n' "${changes[@]}"
    if [ "$root" = / ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        command -v udevadm >/dev/null && udevadm control --reload && udevadm trigger --subsystem-match=usb || true
    fi
fi
