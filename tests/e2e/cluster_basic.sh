#!/usr/bin/env bash
# A 4-city federation on 127.0.0.1, for real: 4 `tongban node` processes built without
# `tongban init` (keys from `tongban keygen`, genesis from `tongban genesis`, INI written
# here). Submits signed agency.register txs, waits for commit, checks that every node has the
# same block hash at every height, kill -9s one node, keeps committing with 3 while a fake
# node on its port serves garbage (dropped from sync), restarts it and checks that it catches
# up by block sync, then restores it from an old backup of its data (blocks and WAL) and checks
# that it catches up without anyone seeing an equivocation. JSON logs on one node. Shutdown by
# SIGTERM must exit 0 (under ASan: no leaks). Bounded: every wait has a deadline.
# usage: cluster_basic.sh TONGBAN TXGEN
set -euo pipefail
tb=$1
txgen=$2
work=$(mktemp -d /tmp/tb-cluster.XXXXXX)
declare -A pid
cities=(AA BB CC DD)
fake=""

cleanup() {
  for c in "${cities[@]}"; do
    if [ -n "${pid[$c]:-}" ]; then kill -9 "${pid[$c]}" 2>/dev/null || true; fi
  done
  if [ -n "${fake:-}" ]; then kill "$fake" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for c in "${cities[@]}"; do echo "--- log $c (tail)"; tail -n 15 "$work/$c/node.log" || true; done
  exit 1
}

# Free ports, chosen by the kernel (bound and released at once).
read -r -a ports < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(4)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))
[s.close() for s in ss]')

declare -A port
members=()
i=0
for c in "${cities[@]}"; do
  port[$c]=${ports[$i]}; i=$((i + 1))
  mkdir -p "$work/$c"
  "$tb" keygen --suite ed25519-sha256 --out "$work/$c/node.key" >/dev/null
  printf '{"city": "%s", "name": "City %s", "node_key": "%s", "endpoint": "http://127.0.0.1:%s"}\n' \
    "$c" "$c" "$(cat "$work/$c/node.key.pub")" "${port[$c]}" >"$work/$c/member.json"
  members+=(--member "$work/$c/member.json")
done
"$tb" genesis --federation "cluster test" "${members[@]}" --type agency.test:open \
  --out "$work/genesis.json" --subject-key-out "$work/subject.key" >/dev/null

for c in "${cities[@]}"; do
  format=logfmt
  [ "$c" = CC ] && format=json # one node logs JSON lines
  cat >"$work/$c/node.ini" <<INI
[node]
city = $c
data_dir = $work/$c/data
key_file = $work/$c/node.key
genesis = $work/genesis.json
subject_key_file = $work/subject.key
document_key_file = $work/$c/document.key
log_level = info
log_format = $format
[api]
listen = 127.0.0.1:${port[$c]}
max_body_bytes = 16777216
[peer]
tls = off
request_timeout_ms = 2000
[consensus]
timeout_propose_ms = 1500
timeout_prevote_ms = 500
timeout_precommit_ms = 500
timeout_delta_ms = 250
block_interval_ms = 200
[storage]
map_size_mb = 64
INI
done

start() {
  "$tb" node --config "$work/$1/node.ini" >>"$work/$1/node.log" 2>&1 &
  pid[$1]=$!
}
url() { echo "http://127.0.0.1:${port[$1]}"; }
metric() { # node name -> value (empty when the node does not answer)
  curl -s --max-time 2 "$(url "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
wait_until() { # deadline_seconds description command...
  local end=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $end ] || fail "timed out: $what"
    sleep 0.2
  done
}
heights_at_least() { # min cities...
  local min=$1 c h
  shift
  for c in "$@"; do
    h=$(metric "$c" tongban_height)
    [ -n "$h" ] && [ "$h" -ge "$min" ] || return 1
  done
}
submit() { # city agency
  "$txgen" "$work/genesis.json" "$work/$1/node.key" "$1" "$2" agency.test >"$work/tx.bin"
  code=$(curl -s -o "$work/tx.out" -w '%{http_code}' --max-time 5 -X POST \
    -H 'Content-Type: application/msgpack' --data-binary @"$work/tx.bin" "$(url "$1")/v1/tx")
  [ "$code" = 202 ] || fail "submit to $1: HTTP $code $(cat "$work/tx.out")"
}
same_hashes() { # upto cities...
  local upto=$1 h c ref hash
  shift
  for h in $(seq 1 "$upto"); do
    ref=""
    for c in "$@"; do
      hash=$(curl -s --max-time 2 "$(url "$c")/v1/blocks/$h" | jq -r .hash)
      [ -n "$hash" ] && [ "$hash" != null ] || fail "$c has no block $h"
      [ -z "$ref" ] || [ "$hash" = "$ref" ] || fail "block $h differs: $c has $hash, not $ref"
      ref=$hash
    done
  done
}

for c in "${cities[@]}"; do start "$c"; done
wait_until 15 "all nodes answer" heights_at_least 0 "${cities[@]}"

# An idle federation does not spin: no block without a tx.
sleep 1
[ "$(metric AA tongban_height)" = 0 ] || fail "a block was committed without any tx"

submit AA agency-a1
submit BB agency-b1
submit CC agency-c1
wait_until 20 "first commits on all 4" heights_at_least 1 "${cities[@]}"
wait_until 20 "all txs committed" \
  bash -c "[ \"\$(curl -s $(url AA)/metrics | awk '\$1==\"tongban_pending_txs\"{print \$2}')\" = 0 ]"
h1=$(metric AA tongban_height)
wait_until 20 "all 4 at height $h1" heights_at_least "$h1" "${cities[@]}"
same_hashes "$h1" "${cities[@]}"
echo "phase 1: 4 nodes agree on $h1 blocks"

# Crash one node; the other three keep committing (3 of 4 is a quorum).
kill -9 "${pid[DD]}"
wait "${pid[DD]}" 2>/dev/null || true
pid[DD]=""
cp -a "$work/DD/data" "$work/DD-backup" # an old backup, WAL included
# While DD is down, a fake DD on its port claims height 99 and serves garbage blocks: the
# others must drop it from sync (logged, counted) and keep committing among themselves.
python3 - "${port[DD]}" "$("$tb" chain-id "$work/genesis.json")" <<'PY' &
import http.server, sys
port, chain = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
status = b"\x94\xc4\x20" + chain + b"\x63\xc4\x20" + b"\x11" * 32 + b"\x00"
garbage = b"\x92\xc4\x01\x00\xc4\x01\x00"  # [bin "\0", bin "\0"]: no block in it
class Fake(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/msgpack")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(200, status if self.path == "/v1/peer/status" else garbage)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply(202, b"")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Fake).serve_forever()
PY
fake=$!
submit AA agency-a2
submit BB agency-b2
h2=$((h1 + 1))
wait_until 30 "three nodes commit after the crash" heights_at_least "$h2" AA BB CC
submit CC agency-c2
wait_until 30 "pending drained" \
  bash -c "[ \"\$(curl -s $(url AA)/metrics | awk '\$1==\"tongban_pending_txs\"{print \$2}')\" = 0 ]"
h2=$(metric AA tongban_height)
wait_until 20 "three nodes at $h2" heights_at_least "$h2" AA BB CC
refused_by_all() { # each of the three polls the fake (with backoff) and drops it
  local c r
  for c in AA BB CC; do
    r=$(metric "$c" tongban_sync_refused_total)
    [ "${r:-0}" -gt 0 ] || return 1
  done
}
wait_until 15 "the fake peer's garbage is refused" refused_by_all
refused=$(metric AA tongban_sync_refused_total)
grep -q "event=sync_peer_dropped.*peer=DD" "$work/AA/node.log" || fail "no sync_peer_dropped log"
kill "$fake"
wait "$fake" 2>/dev/null || true
fake=""
echo "phase 2: 3 nodes reached height $h2 without DD (fake DD refused $refused times)"

# Restart the crashed node: it restores its WAL and catches up by block sync.
start DD
wait_until 30 "DD catches up to $h2" heights_at_least "$h2" DD
same_hashes "$h2" "${cities[@]}"
sync=$(metric DD tongban_sync_blocks_total)
echo "phase 3: DD caught up to $h2 (sync blocks: $sync)"

# And it takes part again: one more tx commits everywhere.
submit DD agency-d1
h3=$((h2 + 1))
wait_until 30 "all 4 commit after the restart" heights_at_least "$h3" "${cities[@]}"
same_hashes "$h3" "${cities[@]}"

# Restore DD from the old backup (blocks and WAL of height $h1): it must not sign again at
# heights the federation committed, catch up by sync, and take part again.
kill -9 "${pid[DD]}"
wait "${pid[DD]}" 2>/dev/null || true
rm -rf "$work/DD/data"
cp -a "$work/DD-backup" "$work/DD/data"
start DD
wait_until 30 "DD restored from backup catches up to $h3" heights_at_least "$h3" DD
submit BB agency-b3
h4=$((h3 + 1))
wait_until 30 "all 4 commit after the backup restore" heights_at_least "$h4" "${cities[@]}"
same_hashes "$h4" "${cities[@]}"
if grep -q "event=equivocation" "$work"/*/node.log; then fail "a node saw equivocation"; fi

for c in "${cities[@]}"; do
  kill -TERM "${pid[$c]}"
  wait "${pid[$c]}" || fail "$c did not exit 0 after SIGTERM"
  pid[$c]=""
done
grep -q "event=shutdown" "$work/AA/node.log" || fail "no shutdown line in the log"
jq -s -e 'map(select(.event == "commit")) | length > 0' "$work/CC/node.log" >/dev/null ||
  fail "CC's JSON log has no commit line (or a line that is not JSON)"
echo "PASS: cluster_basic (heights $h1, $h2, $h3, $h4)"
