#!/usr/bin/env bash
# ./scripts/demo --once, for real, with the binary under test (TONGBAN=...): four cities' nodes
# on loopback, three agencies, three records checked from other cities, one revocation seen
# from another city. Then the privacy check: none of the demo's ID numbers appears anywhere —
# not in what it printed, not in any log, not in any LMDB file or key file of the four nodes.
# usage: demo_once.sh PATH/TO/tongban SUITE
set -euo pipefail
tb=$1
suite=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/tongban-demo-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/out" >&2; exit 1; }

TONGBAN=$tb timeout 280 "$root/scripts/demo" --once --suite "$suite" --dir "$work/demo" \
  >"$work/out" 2>&1 || fail "scripts/demo exited $?"
grep -q "demo complete (--once)" "$work/out" || fail "the demo did not complete"
[ "$(grep -c 'node says: VALID' "$work/out")" -eq 4 ] || fail "want 4 VALID answers from other cities"
[ "$(grep -c 'node says: REVOKED' "$work/out")" -eq 1 ] || fail "the revocation was not seen"
grep -q 'verify --offline -> exit 0, valid: ' "$work/out" || fail "the credential did not verify offline"
grep -q 'verify --offline -> exit 3, revoked: ' "$work/out" || fail "the revoked card's credential was not revoked offline"
grep -q "suite *$suite" "$work/out" || fail "the federation does not use $suite"
for c in 371500 370100 370900 371400; do
  [ -s "$work/demo/$c/node.log" ] || fail "no log for city $c"
  [ -n "$(ls -A "$work/demo/$c/data")" ] || fail "no data for city $c"
done
# The demo's nodes have stopped (--once).
if pgrep -f "$work/demo/" >/dev/null; then fail "nodes still running after --once"; fi
for id in 371502199001011234 370102198503150026 37140219780707001X 37140219780707001x; do
  if grep -rqa "$id" "$work/out" "$work/demo"; then fail "ID number $id found in output or files"; fi
done
echo "demo_once $suite: ok"
