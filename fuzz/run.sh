#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10^7), or until MAX_TIME seconds, and
# prints one line per target: executions, seconds, executions per second, coverage and
# findings (crash files). SANITIZER=none runs without AddressSanitizer (several times faster;
# the parsers are safe Rust, so the sanitizer mostly guards the C dependencies). Needs the
# nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Corpora grow in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")"
runs=${RUNS:-10000000}
targets=${*:-sam_frame ef01_packet escpos_stream hks1_frame qr_payload centre_bodies gateway_envelope update_bundle}
sanitizer=${SANITIZER:-address}
max_time=${MAX_TIME:-0}
cargo +nightly fuzz build --sanitizer "$sanitizer" >/dev/null
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    start=$(date +%s.%N)
    log=$(mktemp)
    if cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" -- -runs="$runs" \
        -max_total_time="$max_time" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then status=ok; else status=FAILED; fi
    end=$(date +%s.%N)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    found=$(find "artifacts/$t" -type f | wc -l)
    secs=$(echo "$end - $start" | bc)
    printf '%-17s %s sanitizer=%s execs=%s secs=%.0f execs/s=%.0f cov=%s corpus=%s findings=%s\n' "$t" "$status" "$sanitizer" \
        "$execs" "$secs" "$(echo "$execs / $secs" | bc -l)" "$cov" "$(ls "corpus/$t" | wc -l)" "$found"
    [ "$status" = ok ] || tail -30 "$log"
    rm -f "$log"
done
