#!/usr/bin/env bash
# The CLI's HTTP side against a stand-in node: a small Python server that speaks the parts of
# docs/api.md the CLI uses (GET /v1/status, POST /v1/tx, GET /v1/tx/{id}, GET /v1/records/{id})
# and computes tx ids itself (hashlib), so that `agency add`, `issue --wait`, `revoke` and
# `status` are checked without a real node: the id the CLI prints is the one the server
# computed from the bytes it received, a refusal (422) is an error naming the verdict, and a
# server that answers a different id is caught. The real node is tested by cluster_records.sh.
# usage: cli_stand_in.sh PATH/TO/tongban
set -euo pipefail
tb=$1
work=$(mktemp -d /tmp/tongban-standin.XXXXXX)
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/server.log" ] && tail -5 "$work/server.log" >&2; exit 1; }
expect_status() {
  local want=$1; shift
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, want $want"; }
}

cat >"$work/server.py" <<'PY'
import hashlib, json, sys, http.server
suite, chain_hex, mode, port_file = sys.argv[1:5]
H = "sha256" if suite == "ed25519-sha256" else "sm3"
chain = bytes.fromhex(chain_hex)
txs = {}  # id -> [kind, polls]
def msgpack_envelope(data):
    # [kind(fixint), body(bin8/bin16), sigs]: enough to find the body for the id.
    assert data[0] == 0x93
    kind = data[1]
    if data[2] == 0xc4: n, off = data[3], 4
    elif data[2] == 0xc5: n, off = int.from_bytes(data[3:5], "big"), 5
    else: raise ValueError("body is not bin")
    return kind, data[off:off + n]
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        if self.path == "/v1/status":
            return self.reply(200, {"city": "371500", "name": "聊城", "suite": suite,
                "chain_id": chain_hex, "height": 7, "block_hash": "00" * 32, "log_size": 3,
                "pending": len(txs), "validator_index": 1,
                "peers": [{"city": "370100", "endpoint": "http://127.0.0.1:1", "height": 7,
                           "last_seen_ms": 1, "state": "up"}]})
        if self.path.startswith("/v1/tx/"):
            t = txs.get(self.path[7:])
            if t is None: return self.reply(404, {"error": {"code": "not_found", "message": "no such tx"}})
            t[1] += 1  # committed from the second poll on
            st = {"id": self.path[7:], "kind": "record.issue", "status": "pending" if t[1] < 2 else "committed"}
            if t[1] >= 2: st.update(height=9, index=0)
            return self.reply(200, st)
        if self.path.startswith("/v1/records/"):
            rid = self.path[12:]
            if rid not in txs: return self.reply(404, {"id": rid, "status": "unknown", "error": {"code": "not_found", "message": "unknown record"}})
            return self.reply(200, {"id": rid, "status": "valid", "record": {"type": "provident.deposit",
                "city": "371500", "agency": "hpf", "subject": "ab" * 32, "issued_at": 1790000000,
                "expires_at": 0, "claims": {"balance_fen": 12345600, "employer": "某公司"},
                "doc_digest": "00" * 32}, "height": 9, "index": 0, "revoked_height": 0, "envelope": ""})
        self.reply(404, {"error": {"code": "not_found", "message": "no such path"}})
    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Type") != "application/msgpack":
            return self.reply(415, {"error": {"code": "bad_request", "message": "content type"}})
        kind, body = msgpack_envelope(data)
        tx_id = hashlib.new(H, b"tongban/tx/v1\0" + chain + bytes([kind]) + body).hexdigest()
        if mode == "refuse":
            return self.reply(422, {"error": {"code": "unknown_agency", "message": "no such agency"}})
        if mode == "lie":
            tx_id = "11" * 32
        known = tx_id in txs
        txs.setdefault(tx_id, [kind, 0])
        self.reply(200 if known else 202, {"id": tx_id, "kind": "record.issue", "status": "pending"})
srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
open(port_file, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY

start_server() { # suite chain mode
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -f "$work/port"
  python3 "$work/server.py" "$1" "$2" "$3" "$work/port" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 50); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || fail "stand-in server did not start"
  node="http://127.0.0.1:$(cat "$work/port")"
}

for suite in ed25519-sha256 sm2-sm3; do
  d="$work/$suite"; mkdir -p "$d"
  "$tb" init --city 371500 --name 聊城 --dir "$d/n" --listen 127.0.0.1:7390 --suite "$suite" >/dev/null
  "$tb" genesis --federation F --suite "$suite" --member "$d/n/member.json" \
    --type provident.deposit:consent --out "$d/n/genesis.json" >/dev/null
  chain=$("$tb" chain-id "$d/n/genesis.json")
  start_server "$suite" "$chain" ok

  expect_status 0 "$tb" status --node "$node"
  grep -q "^city *371500 聊城" "$work/out" || fail "status: city line"
  grep -q "^height *7" "$work/out" || fail "status: height line"
  grep -q "^peer *370100 *up" "$work/out" || fail "status: peer line"
  expect_status 0 "$tb" status --node "$node" --json
  python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['chain_id']==sys.argv[2]" \
    "$work/out" "$chain" || fail "status --json is not the node's JSON"

  expect_status 0 "$tb" agency add --config "$d/n/node.ini" --node "$node" --agency hpf \
    --name 聊城市住房公积金管理中心 --types provident.deposit --out "$d/hpf.key"
  grep -q "^committed *at height 9" "$work/out" || fail "agency add did not wait for the commit"
  [ "$(stat -c %a "$d/hpf.key")" = 600 ] || fail "agency key mode"
  expect_status 1 "$tb" agency add --config "$d/n/node.ini" --node "$node" --agency hpf \
    --name x --types provident.deposit --out "$d/hpf.key"
  grep -q "never overwritten" "$work/err" || fail "agency key overwrite"

  expect_status 0 "$tb" issue --node "$node" --key "$d/hpf.key" --city 371500 --agency hpf \
    --type provident.deposit --subject "$(printf 'ab%.0s' {1..32})" --uint-claim balance_fen=1 --wait
  rid=$(awk '/^record id/ {print $3}' "$work/out")
  [ ${#rid} = 64 ] || fail "issue printed no record id"
  grep -q "^committed *at height 9" "$work/out" || fail "issue --wait"
  expect_status 0 "$tb" status --node "$node" "$rid"
  grep -q "^status *valid" "$work/out" || fail "record status"
  grep -q "^claim *employer = 某公司" "$work/out" || fail "record claims"
  expect_status 1 "$tb" status --node "$node" "$(printf 'cd%.0s' {1..32})"
  grep -q "unknown" "$work/out" || fail "unknown record"
  expect_status 0 "$tb" revoke --node "$node" --key "$d/hpf.key" --record "$rid" --reason lost
  grep -q "^revocation" "$work/out" || fail "revoke output"

  start_server "$suite" "$chain" refuse
  expect_status 1 "$tb" issue --node "$node" --key "$d/hpf.key" --city 371500 --agency hpf \
    --type provident.deposit --subject "$(printf 'ab%.0s' {1..32})"
  grep -q "HTTP 422: unknown_agency: no such agency" "$work/err" || fail "422 verdict not shown"
  start_server "$suite" "$chain" lie
  expect_status 1 "$tb" issue --node "$node" --key "$d/hpf.key" --city 371500 --agency hpf \
    --type provident.deposit --subject "$(printf 'ab%.0s' {1..32})"
  grep -q "but the envelope's id is" "$work/err" || fail "a wrong id from the node was accepted"
  # A node of another federation: with --genesis the CLI signs for our chain id, the node
  # computes the id under its own, and the CLI notices the mismatch instead of reporting
  # success.
  start_server "$suite" "$(printf 'ee%.0s' {1..32})" ok
  expect_status 1 "$tb" issue --node "$node" --key "$d/hpf.key" --city 371500 --agency hpf \
    --type provident.deposit --subject "$(printf 'ab%.0s' {1..32})" --genesis "$d/n/genesis.json"
  grep -q "but the envelope's id is" "$work/err" || fail "a node of another chain was not noticed"
done
echo "cli_stand_in: ok"
