#!/usr/bin/env bash
# Compares bench_sign with `openssl speed -seconds 1 ed25519 sm2` and prints the
# ratios ours/openssl. Build bench_sign without sanitizers first, e.g.
#   cmake -S . -B build/rel -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/rel --target bench_sign
#   bench/sign.sh build/rel/bench/bench_sign
set -euo pipefail

bench=${1:-build/release/bench/bench_sign}
[ -x "$bench" ] || { echo "no bench_sign at $bench (pass its path)" >&2; exit 2; }

ours=$("$bench" 1)
# -mr lines: +F6:0:253:Ed25519:SIGN/S:VERIFY/S and +F7:0:256:CurveSM2:SIGN/S:VERIFY/S
theirs=$(openssl speed -seconds 1 -mr ed25519 sm2 2>/dev/null | grep -E '^\+F[0-9]+:')

field() { # field SUITE_LINE_PATTERN COLUMN from openssl's -mr output
    echo "$theirs" | awk -F: -v pat="$1" -v col="$2" '$4 == pat { print $col }'
}
ours_field() { # ours_field SUITE sign|verify
    echo "$ours" | awk -v s="$1" -v k="$2/s" '$1 == s { for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }'
}

printf '%-16s %-7s %12s %12s %7s\n' suite op ours openssl ratio
for pair in "ed25519-sha256 Ed25519" "sm2-sm3 CurveSM2"; do
    set -- $pair
    for op in sign verify; do
        col=5
        [ "$op" = verify ] && col=6
        o=$(ours_field "$1" "$op")
        t=$(field "$2" "$col")
        ratio=$(awk -v a="$o" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '%-16s %-7s %12.0f %12.0f %7s\n' "$1" "$op" "$o" "$t" "$ratio"
    done
done
