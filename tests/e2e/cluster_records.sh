#!/usr/bin/env bash
# Four real nodes on 127.0.0.1 under load, in one suite:
#   - TB_E2E_RECORDS records (default 1000) issued across the four cities by concurrent
#     `tongban issue` processes (TB_E2E_JOBS at a time, default 4);
#   - kill -9 of a node during the load, restart: it catches up;
#   - kill -9 of the current proposer: the chain continues without it; restart: it catches up;
#   - stop and restart all four nodes: the chain resumes;
#   - every node reports identical headers at every height;
#   - every acknowledged record (the CLI printed its id and exited 0) is committed exactly once,
#     at the same height and index on every node;
#   - resubmitting an envelope answers the same id (pending, then committed), on any node;
#   - bad requests (garbage, bad signature, wrong content type, oversized, bad JSON) get 4xx and
#     change nothing (height and pending count unchanged).
# usage: cluster_records.sh PATH/TO/tongban SUITE
set -euo pipefail
TB=$1
SUITE=$2
COUNT=${TB_E2E_RECORDS:-1000}
JOBS=${TB_E2E_JOBS:-4}
. "$(dirname "$0")/lib.sh"
tb_setup "records-$SUITE"
mkdir -p "$TB_WORK/acks"

tb_log "suite $SUITE: 4 nodes, $COUNT records, $JOBS concurrent issuers, in $TB_WORK"
tb_cluster_init "$SUITE" 4
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_up "$i" 60; done
tb_register_agencies
tb_log "4 agencies registered; height $(tb_height 0)"

# One record: city K%4's agency, submitted to its own node, or to the next ones if that node
# is down (each attempt is a new record; only the one that was acknowledged counts).
cat >"$TB_WORK/issue1.sh" <<'SH'
#!/usr/bin/env bash
k=$1; work=$2; tb=$3; shift 3; ports=("$@")
codes=(371500 370100 370900 371400)
c=$((k % 4))
subject=$(printf '%064x' "$((k * 7919 + 1))")
for attempt in 0 1 2 3; do
  n=$(((c + attempt) % 4))
  if "$tb" issue --node "http://127.0.0.1:${ports[$n]}" --genesis "$work/genesis.json" \
      --key "$work/agency-$c.key" --city "${codes[$c]}" --agency "ag$c" \
      --type provident.deposit --subject "$subject" --uint-claim seq="$k" \
      >"$work/acks/$k.tmp" 2>"$work/acks/$k.err"; then
    mv "$work/acks/$k.tmp" "$work/acks/$k.ok"
    exit 0
  fi
  sleep 0.2
done
exit 0
SH

# load FROM TO: issues records FROM..TO-1 in the background; its pid in LOAD_PID.
load() {
  seq "$1" $(($2 - 1)) | xargs -P "$JOBS" -I{} bash "$TB_WORK/issue1.sh" {} "$TB_WORK" "$TB" \
    "${TB_PORTS[@]}" &
  LOAD_PID=$!
}
acked() { find "$TB_WORK/acks" -name '*.ok' | wc -l; }
wait_acked() { # N SECONDS
  local deadline=$((SECONDS + $2))
  while [ "$(acked)" -lt "$1" ]; do
    [ $SECONDS -lt $deadline ] || tb_fail "only $(acked) of $1 records acknowledged after $2 s"
    sleep 0.2
  done
}

# Phase 1: the first half of the records; node 2 is killed (-9) a quarter in and restarted.
t0=$SECONDS
half=$((COUNT / 2))
load 0 "$half"
wait_acked $((half / 4)) 300
tb_log "kill -9 node 2 (${TB_CITIES[2]}) during the load at height $(tb_height 0)"
tb_node_kill 2 KILL
sleep 2
tb_node_start 2
wait "$LOAD_PID" || tb_fail "load 1 failed"
tb_log "load 1: $(acked) acknowledged in $((SECONDS - t0)) s; height $(tb_height 0)"
h=$(tb_height 0)
tb_wait_height 2 "$h" 120
tb_log "node 2 caught up to height $h"

# Phase 2: kill -9 the proposer of the next height; the other three keep committing.
prop=$(tb_get "$(tb_url 0)/v1/status" '(d["height"] + 1) % 4')
victim=""
for i in 0 1 2 3; do
  [ "$(tb_get "$(tb_url "$i")/v1/status" 'd["validator_index"]')" = "$prop" ] && victim=$i
done
[ -n "$victim" ] || tb_fail "no node has validator index $prop"
tb_log "kill -9 node $victim (${TB_CITIES[$victim]}), proposer of the next height"
tb_node_kill "$victim" KILL
h=$(tb_height $(((victim + 1) % 4)))
load "$half" "$COUNT"
wait "$LOAD_PID" || tb_fail "load 2 failed"
tb_wait_height $(((victim + 1) % 4)) $((h + 1)) 60
tb_log "load 2: $(acked) acknowledged; chain went on without node $victim to height $(tb_height $(((victim + 1) % 4)))"
tb_node_start "$victim"
h=$(tb_height $(((victim + 1) % 4)))
tb_wait_height "$victim" "$h" 120
tb_log "node $victim caught up to height $h; records/s overall: $(( $(acked) / (SECONDS - t0 > 0 ? SECONDS - t0 : 1) ))"

# Phase 3: stop all nodes (SIGTERM, then -9 for any that linger), restart, the chain resumes.
h=$(tb_height 0)
for i in 0 1 2 3; do kill -TERM "${TB_PIDS[$i]}" 2>/dev/null || true; done
sleep 3
for i in 0 1 2 3; do tb_node_kill "$i" KILL; done
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_height "$i" "$h" 60; done
before=$(acked)
load "$COUNT" $((COUNT + 8))
wait "$LOAD_PID" || tb_fail "load 3 failed"
[ "$(acked)" -ge $((before + 8)) ] || tb_fail "records after the restart were not acknowledged"
tb_wait_height 0 $((h + 1)) 60
tb_log "all four restarted: chain resumed from height $h to $(tb_height 0)"

# Custodial issuing: `agency add --token-out` sets the agency up on its node, which then issues
# for it on POST /v1/records with the token (and refuses a wrong one); the record joins the
# acknowledged ones checked below.
"$TB" agency add --config "$TB_WORK/c1/node.ini" --agency cust --name 托管机构 \
  --types social-security.card --out "$TB_WORK/cust.key" --token-out "$TB_WORK/cust.token" \
  --wait-ms 60000 >"$TB_WORK/cust.out" 2>&1 || { cat "$TB_WORK/cust.out" >&2; tb_fail "custodial agency"; }
python3 - "$(tb_url 1)" "$TB_WORK/cust.token" >"$TB_WORK/acks/custodial.ok" <<'PY' ||
import json, sys, urllib.request, urllib.error
u, token = sys.argv[1], open(sys.argv[2]).read().strip()
body = json.dumps({"type": "social-security.card", "id_number": "37140219780707001X",
                   "claims": {"card_no": "SD1"}}).encode()
def post(tok):
    req = urllib.request.Request(u + "/v1/records", data=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
s, d = post("f" * 64)
assert s == 401, (s, d)
s, d = post(token)
assert s == 202 and len(d["id"]) == 64, (s, d)
print("record id  " + d["id"])
PY
  tb_fail "custodial issuing"
tb_log "custodial issuing: record $(awk '{print $3}' "$TB_WORK/acks/custodial.ok")"

# Every acknowledged record committed exactly once, same place on every node; headers identical.
cat "$TB_WORK"/acks/*.ok | awk '/^record id/ {print $3}' >"$TB_WORK/acked.txt"
[ "$(wc -l <"$TB_WORK/acked.txt")" -eq "$(acked)" ] || tb_fail "an ack without a record id"
[ "$(acked)" -ge "$COUNT" ] || tb_fail "only $(acked) of $COUNT records acknowledged"
python3 - "$TB_WORK/acked.txt" "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" <<'PY' ||
import json, sys, time, urllib.request
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
urls = sys.argv[2:]
def get(u):
    with urllib.request.urlopen(u, timeout=10) as r: return json.load(r)
# Wait (bounded) until the acknowledged records are committed everywhere.
deadline = time.time() + 120
for u in urls:
    while True:
        if get(u + "/v1/status")["pending"] == 0: break
        if time.time() > deadline: sys.exit("pending txs never drained on " + u)
        time.sleep(0.3)
top = min(get(u + "/v1/status")["height"] for u in urls)
seen = {}
for h in range(1, top + 1):
    for i, tx in enumerate(get("%s/v1/blocks/%d" % (urls[0], h))["txs"]):
        if tx["id"] in seen: sys.exit("tx %s committed twice (heights %s and %d)" % (tx["id"], seen[tx["id"]], h))
        seen[tx["id"]] = (h, i)
missing = [a for a in acked if a not in seen]
if missing: sys.exit("%d acknowledged records not in any block, e.g. %s" % (len(missing), missing[0]))
for u in urls:
    for a in acked:
        r = get(u + "/v1/records/" + a)
        if r["status"] != "valid" or (r["height"], r["index"]) != seen[a]:
            sys.exit("record %s on %s: %s at %s, want valid at %s" % (a, u, r["status"], (r.get("height"), r.get("index")), seen[a]))
print("%d acknowledged records committed exactly once, identical on %d nodes (%d txs in %d blocks)"
      % (len(acked), len(urls), len(seen), top), file=sys.stderr)
PY
  tb_fail "acknowledged records check"
tb_check_headers 0 1 2 3

# Resubmission is idempotent: the same envelope answers the same id, on any node, before and
# after it is committed.
"$TB" issue --genesis "$TB_WORK/genesis.json" --key "$TB_WORK/agency-0.key" --city 371500 \
  --agency ag0 --type provident.deposit --subject "$(printf '%064x' 42)" \
  --out "$TB_WORK/env.bin" >"$TB_WORK/env.out" || tb_fail "issue --out"
env_id=$(awk '/^record id/ {print $3}' "$TB_WORK/env.out")
python3 - "$TB_WORK/env.bin" "$env_id" "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" <<'PY' ||
import base64, json, sys, time, urllib.request, urllib.error
env = open(sys.argv[1], "rb").read(); want = sys.argv[2]; urls = sys.argv[3:]
def post(u, body, ct):
    req = urllib.request.Request(u + "/v1/tx", data=body, headers={"Content-Type": ct})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
s1, d1 = post(urls[0], env, "application/msgpack")
s2, d2 = post(urls[0], env, "application/msgpack")
s3, d3 = post(urls[1], json.dumps({"envelope": base64.b64encode(env).decode()}).encode(), "application/json")
assert (s1, d1["id"]) == (202, want), (s1, d1)
assert s2 == 200 and d2["id"] == want, (s2, d2)
assert s3 in (200, 202) and d3["id"] == want, (s3, d3)
deadline = time.time() + 60
while True:
    with urllib.request.urlopen(urls[2] + "/v1/tx/" + want, timeout=10) as r: d = json.load(r)
    if d["status"] == "committed": break
    assert time.time() < deadline, "resubmitted tx never committed"
    time.sleep(0.3)
for u in urls:
    s, d = post(u, env, "application/msgpack")
    assert s == 200 and d["id"] == want and d["status"] == "committed", (u, s, d)
print("resubmission: 202 then 200 with the same id, committed once", file=sys.stderr)
PY
  tb_fail "resubmission is not idempotent"

# Bad requests: each gets a 4xx and changes nothing. They are variants of an envelope the
# node has never seen (a known tx id is answered from the ledger, whatever its signatures).
"$TB" issue --genesis "$TB_WORK/genesis.json" --key "$TB_WORK/agency-0.key" --city 371500 \
  --agency ag0 --type provident.deposit --subject "$(printf '%064x' 43)" \
  --out "$TB_WORK/env2.bin" >/dev/null || tb_fail "issue --out"
sleep 1
python3 - "$TB_WORK/env2.bin" "$(tb_url 0)" <<'PY' || tb_fail "bad requests"
import json, sys, time, urllib.request, urllib.error
env = bytearray(open(sys.argv[1], "rb").read()); u = sys.argv[2]
def status():
    with urllib.request.urlopen(u + "/v1/status", timeout=10) as r: d = json.load(r)
    return d["height"], d["pending"], d["block_hash"]
def post(body, ct, path="/v1/tx"):
    req = urllib.request.Request(u + path, data=bytes(body), headers={"Content-Type": ct})
    try:
        with urllib.request.urlopen(req, timeout=30) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
    except (ConnectionError, urllib.error.URLError) as e: return -1, str(e).encode()
before = status()
badsig = bytearray(env); badsig[-5] ^= 1          # inside the signature bytes
badbody = bytearray(env); badbody[12] ^= 1        # inside the signed body
cases = [
    ("garbage msgpack", b"\xc1\xff\x00garbage", "application/msgpack"),
    ("empty body", b"", "application/msgpack"),
    ("truncated envelope", env[:-10], "application/msgpack"),
    ("trailing bytes", env + b"\x00", "application/msgpack"),
    ("bad signature", badsig, "application/msgpack"),
    ("body changed after signing", badbody, "application/msgpack"),
    ("wrong content type", env, "text/plain"),
    ("JSON that is not JSON", b"{\"envelope\": ", "application/json"),
    ("JSON with bad base64", b"{\"envelope\": \"!!!\"}", "application/json"),
    ("JSON with an extra field", b"{\"envelope\": \"AAAA\", \"x\": 1}", "application/json"),
    ("oversized", b"\x00" * (9 * 1024 * 1024), "application/msgpack"),
]
for name, body, ct in cases:
    s, text = post(body, ct)
    if s == -1 and name == "oversized":
        continue  # the node answered 413 and closed while the body was still being sent
    if not (400 <= s < 500):
        sys.exit("%s: HTTP %d, want 4xx: %s" % (name, s, text[:200]))
    if s != 413 and b'"error"' not in text:
        sys.exit("%s: HTTP %d without a JSON error: %s" % (name, s, text[:200]))
time.sleep(1.5)
after = status()
if after != before:
    sys.exit("bad requests changed the node: %s -> %s" % (before, after))
print("%d bad requests: all 4xx, height/pending/block unchanged at %s" % (len(cases), after[:2]), file=sys.stderr)
PY
tb_check_headers 0 1 2 3
# The ID number given to the custodial API is nowhere on disk: not in LMDB, logs or keys.
if grep -rqa -e 37140219780707001X -e 37140219780707001x "$TB_WORK"/c*; then
  tb_fail "the ID number sent to POST /v1/records is stored in a node's files"
fi
tb_log "cluster_records $SUITE: ok in $SECONDS s"
