#!/usr/bin/env bash
# Verifiable answers on four real nodes on 127.0.0.1, in one suite (issue 5):
#   - records issued in every city; each one's bundle fetched from a node of ANOTHER city and
#     checked offline (`tongban verify --offline`, exit 0), and with `tongban verify --node`;
#   - tampered bundles (a flipped byte in the certificate, the record's signature, the agency
#     registration, an inclusion path, the header, a validator key, the version) refused with
#     the right verdict and exit status; a bounded sweep of flipped bytes over every binary field
#     through POST /v1/verify: none is valid;
#   - revoke: a fresh bundle says revoked (exit 3); the old bundle, and one at an older height,
#     still verify, and fail --max-age 1 a few seconds later (stale, exit 8); bundles at every
#     height from the record's commit on say valid before the revocation and revoked from it;
#     a record whose expires_at passed says expired (exit 4); a height before the record's
#     commit says not_on_ledger (exit 7);
#   - another federation's genesis refuses the bundle (bad_signature, exit 6);
#   - GET /v1/log/consistency between every pair of heights (bounded), checked by an
#     independent RFC 9162 verifier written here in Python against GET /v1/headers/{h} (whose
#     block hash is recomputed and compared with every node's GET /v1/blocks/{h}); a tampered
#     path is refused by that verifier;
#   - qr.png decodes (zbarimg) to the URI `tongban qr` prints, and the URI resolves on every
#     node (GET /v1/resolve); lowercase resolves, mixed case, a typo and another federation's
#     URI are 400;
#   - POST /v1/verify in both forms and its 400/415 refusals; GET .../credential's
#     Content-Disposition; 404/400/409 of the proof endpoints (409: a record left pending by
#     stopping two of the four nodes, which commits once they are back).
# usage: cluster_proofs.sh PATH/TO/tongban SUITE
set -euo pipefail
TB=$1
SUITE=$2
. "$(dirname "$0")/lib.sh"
tb_setup "proofs-$SUITE"
W=$TB_WORK
mkdir -p "$W/b" "$W/t"
command -v zbarimg >/dev/null || tb_fail "zbarimg (zbar-tools) is needed"
T0=$SECONDS

tb_log "suite $SUITE: 4 nodes, in $W"
tb_cluster_init "$SUITE" 4
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_up "$i" 60; done
tb_register_agencies
G=$W/genesis.json
tb_log "agencies registered; height $(tb_height 0)"

# issue K [EXPIRES_AT]: record K by city K%4's agency on its own node, committed (--wait).
issue() {
  local k=$1 c=$(($1 % 4)) extra=()
  [ -n "${2:-}" ] && extra=(--expires-at "$2")
  "$TB" issue --node "$(tb_url "$c")" --key "$W/agency-$c.key" --city "${TB_CITIES[$c]}" \
    --agency "ag$c" --type provident.deposit --subject "$(printf '%064x' $((k + 11)))" \
    --uint-claim seq="$k" --claim employer=某公司 "${extra[@]}" --wait >"$W/issue-$k.out" 2>&1 ||
    { cat "$W/issue-$k.out" >&2; tb_fail "issue record $k"; }
  awk '/^record id/ {print $3}' "$W/issue-$k.out"
}
NREC=8
declare -a ID=()
for ((k = 0; k < NREC; k++)); do ID[$k]=$(issue "$k"); done
EXP_AT=$(($(date +%s) + 4))
ID_EXP=$(issue 100 "$EXP_AT")
tb_log "$NREC records and one expiring at $EXP_AT committed; height $(tb_height 0)"

# http METHOD URL [BODY_FILE [CONTENT_TYPE]]: prints the status; the body goes to $W/resp.
http() {
  local args=(-s -o "$W/resp" -w '%{http_code}' -X "$1" "$2")
  [ -n "${3:-}" ] && args+=(--data-binary "@$3" -H "Content-Type: ${4:-application/json}")
  curl "${args[@]}" || echo 000
}
# verify_expect FILE WANT_EXIT WANT_VERDICT [GENESIS] [ARGS...]: `tongban verify --offline`.
verify_expect() {
  local f=$1 want=$2 verdict=$3 g=${4:-$G} out rc=0
  shift 3
  [ $# -gt 0 ] && shift
  out=$("$TB" verify --offline "$f" --genesis "$g" "$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || tb_fail "verify $(basename "$f") $*: exit $rc, expected $want: $out"
  case "$out" in "$verdict:"*) ;; *) tb_fail "verify $(basename "$f"): '$out', expected $verdict" ;; esac
}

# --- bundles from another city's node, verified offline ------------------------------------
for ((k = 0; k < NREC; k++)); do
  other=$(((k % 4 + 1) % 4))
  st=$(http GET "$(tb_url "$other")/v1/records/${ID[$k]}/proof")
  [ "$st" = 200 ] || tb_fail "proof of record $k from node $other: HTTP $st $(cat "$W/resp")"
  cp "$W/resp" "$W/b/$k.json"
  verify_expect "$W/b/$k.json" 0 valid
  # Asked again at the same header: the same bytes (the node's cache of rendered bundles).
  [ "$(http GET "$(tb_url "$other")/v1/records/${ID[$k]}/proof")" = 200 ] && cmp -s "$W/resp" "$W/b/$k.json" ||
    tb_fail "record $k: a second GET at the same header answered other bytes"
done
out=$("$TB" verify --node "$(tb_url 2)" "${ID[0]}" --genesis "$G" 2>&1) ||
  tb_fail "tongban verify --node: $out"
tb_log "$NREC bundles from other cities' nodes verify offline; verify --node: $out"
BUNDLE_H=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["header_view"]["height"])' "$W/b/1.json")

# --- tampering: the right verdict for each kind of flipped byte ----------------------------
cat >"$W/tamper.py" <<'PY'
# tamper.py IN OUT WHAT [SUITE]: one deliberate change to a bundle.
import base64, copy, hashlib, json, sys
src, dst, what = sys.argv[1], sys.argv[2], sys.argv[3]
b = json.load(open(src))
def flip_b64(s, i):
    raw = bytearray(base64.b64decode(s)); raw[i] ^= 0x01; return base64.b64encode(bytes(raw)).decode()
def flip_hex(s):
    return ("1" if s[0] != "1" else "2") + s[1:]
def H(data):
    return hashlib.new("sm3" if sys.argv[4] == "sm2-sm3" else "sha256", data).digest()
if what == "certificate": b["certificate"] = flip_b64(b["certificate"], -1)
elif what == "record_sig": b["record"] = flip_b64(b["record"], -1)
elif what == "record_body": b["record"] = flip_b64(b["record"], 12)
elif what == "agency_sig": b["agency"]["register"] = flip_b64(b["agency"]["register"], -1)
elif what == "inclusion": b["record_inclusion"]["path"][0] = flip_hex(b["record_inclusion"]["path"][0])
elif what == "agency_inclusion": b["agency"]["inclusion"]["path"][0] = flip_hex(b["agency"]["inclusion"]["path"][0])
elif what == "view_height": b["header_view"]["height"] += 1
elif what == "chain_id": b["chain_id"] = flip_hex(b["chain_id"])
elif what == "validator": b["validators"][0]["node_key"] = flip_hex(b["validators"][0]["node_key"])
elif what == "version": b["version"] = 2
elif what == "header_consistent":
    # An attacker who rewrites the log root in the header bytes AND in the view, with the
    # block hash recomputed: only the certificate can tell.
    hdr = bytearray(base64.b64decode(b["header"])); root = bytes.fromhex(b["header_view"]["log_root"])
    at = bytes(hdr).find(root); assert at > 0
    hdr[at] ^= 0x01
    b["header"] = base64.b64encode(bytes(hdr)).decode()
    b["header_view"]["log_root"] = hdr[at:at + 32].hex()
    b["header_view"]["block_hash"] = H(b"tongban/block/v1\0" + bytes(hdr)).hex()
else: sys.exit("unknown tamper " + what)
json.dump(b, open(dst, "w"))
PY
tamper() { # WHAT WANT_EXIT WANT_VERDICT
  python3 "$W/tamper.py" "$W/b/0.json" "$W/t/$1.json" "$1" "$SUITE" || tb_fail "tamper $1"
  verify_expect "$W/t/$1.json" "$2" "$3"
}
tamper certificate 6 bad_signature
tamper record_sig 6 bad_signature
tamper record_body 9 malformed
tamper agency_sig 5 unknown_issuer
tamper inclusion 7 not_on_ledger
tamper agency_inclusion 5 unknown_issuer
tamper view_height 9 malformed
tamper chain_id 9 malformed
tamper validator 6 bad_signature
tamper version 9 malformed
tamper header_consistent 6 bad_signature
tb_log "tampered bundles refused with the right verdicts"

# A bounded sweep through POST /v1/verify: flipped bytes at up to 48 positions of each binary
# field, and a few JSON text bytes; nothing may come back valid, every answer is a verdict.
python3 - "$(tb_url 3)" "$W/b/0.json" <<'PY' || tb_fail "flipped-byte sweep"
import base64, json, sys, urllib.request, urllib.error
url, b0 = sys.argv[1] + "/v1/verify", json.load(open(sys.argv[2]))
def verify(body, raw=False):
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
s, d = verify({"bundle": b0})
assert s == 200 and d["verdict"] == "valid", (s, d)
fields = [("record",), ("header",), ("certificate",), ("agency", "register"),
          ("record_status", "proof"), ("record_status", "value"), ("agency", "status", "proof")]
tried, verdicts = 0, {}
for path in fields:
    parent = b0
    for p in path[:-1]: parent = parent[p]
    raw = base64.b64decode(parent[path[-1]])
    step = max(1, len(raw) // 48)
    for i in range(0, len(raw), step):
        b = json.loads(json.dumps(b0)); q = b
        for p in path[:-1]: q = q[p]
        t = bytearray(raw); t[i] ^= 0x40; q[path[-1]] = base64.b64encode(bytes(t)).decode()
        s, d = verify({"bundle": b})
        assert s == 200, (path, i, s, d)
        assert d["verdict"] != "valid", (path, i, d)
        verdicts[d["verdict"]] = verdicts.get(d["verdict"], 0) + 1; tried += 1
text = json.dumps({"bundle": b0}).encode()
for i in range(0, len(text), max(1, len(text) // 64)):
    t = bytearray(text); t[i] ^= 0x01
    s, d = verify(bytes(t), raw=True)
    if s == 200: assert d["verdict"] != "valid" or bytes(t) == text, (i, d)
    else: assert s == 400 and d["error"]["code"] == "bad_request", (i, s, d)
    tried += 1
print("sweep: %d tampered bundles, none valid: %s" % (tried, verdicts), file=sys.stderr)
PY

# --- revocation, staleness, heights, expiry --------------------------------------------------
H_ISSUED=$(tb_get "$(tb_url 0)/v1/records/${ID[1]}" 'd["height"]')
"$TB" revoke --node "$(tb_url 1)" --key "$W/agency-1.key" --record "${ID[1]}" --reason "e2e" \
  --wait >"$W/revoke.out" 2>&1 || { cat "$W/revoke.out" >&2; tb_fail "revoke"; }
H_REVOKED=$(tb_get "$(tb_url 0)/v1/records/${ID[1]}" 'd["revoked_height"]')
[ "$(http GET "$(tb_url 3)/v1/records/${ID[1]}/proof")" = 200 ] || tb_fail "fresh bundle"
cp "$W/resp" "$W/b/1-fresh.json"
verify_expect "$W/b/1-fresh.json" 3 revoked
verify_expect "$W/b/1.json" 0 valid # made before the revocation: still a true statement then
[ "$(http GET "$(tb_url 2)/v1/records/${ID[1]}/proof?height=$((H_REVOKED - 1))")" = 200 ] ||
  tb_fail "bundle at height $((H_REVOKED - 1))"
cp "$W/resp" "$W/b/1-before.json"
verify_expect "$W/b/1-before.json" 0 valid
[ "$(http GET "$(tb_url 2)/v1/records/${ID[1]}/proof?height=$((H_ISSUED - 1))")" = 200 ] ||
  tb_fail "bundle at height $((H_ISSUED - 1))"
cp "$W/resp" "$W/b/1-early.json"
verify_expect "$W/b/1-early.json" 7 not_on_ledger
sleep 2
verify_expect "$W/b/1.json" 8 stale "$G" --max-age 1
verify_expect "$W/b/1-fresh.json" 3 revoked "$G" --max-age 3600
tb_log "revoked at height $H_REVOKED: fresh bundle revoked, old ones valid then stale (--max-age 1)"

# Inclusion and status proofs at every height from the record's commit (bounded to 40).
python3 - "$(tb_url 0)" "${ID[1]}" "$H_ISSUED" "$H_REVOKED" <<'PY' || tb_fail "bundles at many heights"
import json, sys, urllib.request
url, rid, hi, hr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def get(p):
    with urllib.request.urlopen(url + p, timeout=10) as r: return json.load(r)
def verify(b):
    req = urllib.request.Request(url + "/v1/verify", data=json.dumps({"bundle": b}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r: return json.load(r)
top = get("/v1/status")["height"]
hs = list(range(hi, top + 1))
if len(hs) > 40: hs = hs[:20] + hs[-20:]
for h in hs:
    b = get("/v1/records/%s/proof?height=%d" % (rid, h))
    assert b["header_view"]["height"] == h and b["record_inclusion"]["tree_size"] == b["header_view"]["log_size"]
    d = verify(b)
    want = "revoked" if h >= hr else "valid"
    assert d["verdict"] == want, (h, d)
print("bundles at %d heights %d..%d: valid before %d, revoked from it" % (len(hs), hs[0], hs[-1], hr), file=sys.stderr)
PY

while [ "$(date +%s)" -le "$EXP_AT" ]; do sleep 0.5; done
issue 101 >/dev/null # a block after the expiry: expiry is judged by header time
[ "$(http GET "$(tb_url 1)/v1/records/$ID_EXP/proof")" = 200 ] || tb_fail "proof of the expired record"
cp "$W/resp" "$W/b/exp.json"
verify_expect "$W/b/exp.json" 4 expired
tb_log "expired record: expired (exit 4)"

# --- another federation ----------------------------------------------------------------------
"$TB" init --city 999000 --name 他城 --dir "$W/other" --listen 127.0.0.1:1 --suite "$SUITE" >/dev/null ||
  tb_fail "init of another federation"
"$TB" genesis --federation "另一个联盟" --suite "$SUITE" --member "$W/other/member.json" \
  --type provident.deposit:consent --out "$W/other/genesis.json" >/dev/null || tb_fail "other genesis"
verify_expect "$W/b/0.json" 6 bad_signature "$W/other/genesis.json"
tb_log "another federation's genesis refuses the bundle (bad_signature)"

# --- consistency proofs between many pairs of heights ------------------------------------------
python3 - "$SUITE" "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" <<'PY' || tb_fail "consistency proofs"
import base64, hashlib, json, random, sys, urllib.request, urllib.error
suite, urls = sys.argv[1], sys.argv[2:]
def H(data): return hashlib.new("sm3" if suite == "sm2-sm3" else "sha256", data).digest()
def node(l, r): return H(b"\x01" + l + r)
def get(u, p):
    try:
        with urllib.request.urlopen(u + p, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
# RFC 9162 2.1.4.2, written from the RFC (not from crypto/merkle.c).
def verify_consistency(n1, n2, r1, r2, path):
    if n1 == n2: return not path and r1 == r2
    if n1 == 0: return not path and r1 == H(b"")
    if not 0 < n1 < n2 or not path: return False
    if n1 & (n1 - 1) == 0: path = [r1] + path
    fn, sn = n1 - 1, n2 - 1
    while fn & 1:
        fn >>= 1; sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr = node(c, fr); sr = node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1; sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1; sn >>= 1
    return fr == r1 and sr == r2 and sn == 0
top = min(get(u, "/v1/status")[1]["height"] for u in urls)
hdr = {}
for h in range(1, top + 1):
    s, d = get(urls[h % 4], "/v1/headers/%d" % h)
    assert s == 200, (h, s, d)
    raw = base64.b64decode(d["header"])
    assert H(b"tongban/block/v1\0" + raw).hex() == d["block_hash"], h
    assert d["header_view"]["height"] == h and d["certificate"] and len(d["validators"]) == 4
    for u in urls:
        assert get(u, "/v1/blocks/%d" % h)[1]["hash"] == d["block_hash"], (h, u)
    hdr[h] = d["header_view"]
pairs = [(a, b) for a in range(1, top + 1) for b in range(a, top + 1)]
random.seed(7)
if len(pairs) > 400: pairs = random.sample(pairs, 400)
checked = nonempty = 0
for a, b in pairs:
    s, d = get(urls[(a + b) % 4], "/v1/log/consistency?first=%d&second=%d" % (a, b))
    assert s == 200, (a, b, s, d)
    f, g = d["first"], d["second"]
    assert (f["height"], g["height"]) == (a, b)
    for x, h in ((f, a), (g, b)):
        assert x["log_size"] == hdr[h]["log_size"] and x["log_root"] == hdr[h]["log_root"], (h, x)
    path = [bytes.fromhex(p) for p in d["path"]]
    r1, r2 = bytes.fromhex(f["log_root"]), bytes.fromhex(g["log_root"])
    assert verify_consistency(f["log_size"], g["log_size"], r1, r2, path), (a, b, d)
    if path:
        nonempty += 1
        bad = list(path); bad[len(bad) // 2] = bytes([bad[len(bad) // 2][0] ^ 1]) + bad[len(bad) // 2][1:]
        assert not verify_consistency(f["log_size"], g["log_size"], r1, r2, bad), (a, b)
        assert not verify_consistency(f["log_size"], g["log_size"], r1, r2, path[:-1]), (a, b)
    checked += 1
s, d = get(urls[0], "/v1/log/consistency?first=1")
assert s == 200 and d["second"]["height"] >= top, d
for q, want in (("", 400), ("?first=0", 400), ("?first=2&second=1", 400), ("?first=01", 400),
                ("?first=1&second=%d" % (top + 1000), 404), ("?first=x", 400)):
    s, d = get(urls[1], "/v1/log/consistency" + q)
    assert s == want and "error" in d, (q, s, d)
for p, want in (("/v1/headers/0", 400), ("/v1/headers/%d" % (top + 1000), 404), ("/v1/headers/1x", 400)):
    s, d = get(urls[2], p)
    assert s == want and "error" in d, (p, s, d)
print("consistency: %d pairs of heights 1..%d verified (%d with a non-empty path, each tampered "
      "path refused); headers identical on 4 nodes" % (checked, top, nonempty), file=sys.stderr)
PY

# --- QR code and credential URI --------------------------------------------------------------
st=$(http GET "$(tb_url 2)/v1/records/${ID[0]}/qr.png")
[ "$st" = 200 ] || tb_fail "qr.png: HTTP $st"
cp "$W/resp" "$W/qr.png"
URI=$(zbarimg --raw -q "$W/qr.png" 2>/dev/null) || tb_fail "zbarimg could not read qr.png"
"$TB" qr "${ID[0]}" --node "$(tb_url 0)" >"$W/qr.txt" || tb_fail "tongban qr --node"
[ "$(awk '/^uri / {print $2}' "$W/qr.txt")" = "$URI" ] || tb_fail "tongban qr prints another URI than qr.png holds"
CHAIN=$("$TB" chain-id "$G" | awk '{print $NF}')
"$TB" qr "${ID[0]}" --chain-id "$CHAIN" >"$W/qr2.txt" || tb_fail "tongban qr --chain-id"
cmp -s "$W/qr.txt" "$W/qr2.txt" || tb_fail "tongban qr --node and --chain-id differ"
grep -q '█' "$W/qr.txt" || tb_fail "tongban qr drew no blocks"
"$TB" qr "${ID[0]}" --genesis "$W/other/genesis.json" | awk '/^uri / {print $2}' >"$W/other.uri"
python3 - "$URI" "${ID[0]}" "$(cat "$W/other.uri")" "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" <<'PY' || tb_fail "resolving the URI"
import json, sys, urllib.parse, urllib.request, urllib.error
uri, rid, other, urls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def get(u, q, quote=True):
    p = "/v1/resolve?uri=" + (urllib.parse.quote(q, safe="") if quote else q)
    try:
        with urllib.request.urlopen(u + p, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
assert len(uri) == 80 and uri.startswith("TONGBAN:"), uri
for u in urls:
    for text, quote in ((uri, True), (uri, False), (uri.lower(), True)):
        s, d = get(u, text, quote)
        assert s == 200 and d["record_id"] == rid, (u, s, d)
typo = uri[:40] + ("A" if uri[40] != "A" else "B") + uri[41:]
mixed = uri[:30] + uri[30:].lower()
for bad in (typo, mixed, uri[:-1], other, ""):
    s, d = get(urls[1], bad)
    assert s == 400 and d["error"]["code"] == "bad_request", (bad, s, d)
s, d = get(urls[1], other)
assert "another federation" in d["error"]["message"], d
print("URI resolves on %d nodes (raw, percent-encoded, lowercase); typo, mixed case, "
      "truncated and another federation's URI refused" % len(urls), file=sys.stderr)
PY
[ "$(http GET "$(tb_url 0)/v1/records/$(printf '%064x' 7)/qr.png")" = 404 ] || tb_fail "qr.png of an unknown record"
[ "$(http GET "$(tb_url 0)/v1/records/${ID[0]}/qr.png?px=0")" = 400 ] || tb_fail "qr.png px=0"
tb_log "qr.png decodes to $URI; tongban qr agrees; resolves on every node"

# --- credential file, POST /v1/verify, errors ------------------------------------------------
curl -s -D "$W/cred.hdr" -o "$W/cred.json" "$(tb_url 3)/v1/records/${ID[2]}/credential"
grep -qi "^content-disposition: attachment; filename=\"tongban-${ID[2]:0:16}.json\"" "$W/cred.hdr" ||
  tb_fail "credential: Content-Disposition: $(cat "$W/cred.hdr")"
verify_expect "$W/cred.json" 0 valid
python3 - "$(tb_url 1)" "${ID[0]}" "${ID[1]}" "$W/b/0.json" "$W/b/1.json" <<'PY' || tb_fail "POST /v1/verify"
import json, sys, urllib.request, urllib.error
url, id0, id1, b0, b1 = sys.argv[1], sys.argv[2], sys.argv[3], json.load(open(sys.argv[4])), json.load(open(sys.argv[5]))
def post(data, ctype="application/json"):
    req = urllib.request.Request(url + "/v1/verify", data=data if isinstance(data, bytes) else json.dumps(data).encode(),
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
s, d = post({"record_id": id0}); assert s == 200 and d["verdict"] == "valid" and d["record_id"] == id0, d
assert d["status"] == "valid" and d["type"] == "provident.deposit" and d["reasons"], d
s, d = post({"record_id": id1}); assert s == 200 and d["verdict"] == "revoked" and d["status"] == "revoked", d
s, d = post({"record_id": "ab" * 32}); assert s == 200 and d["verdict"] == "not_on_ledger" and d["record_id"] == "ab" * 32, d
s, d = post({"bundle": b0}); assert s == 200 and d["verdict"] == "valid" and d["record_id"] == id0, d
s, d = post({"bundle": b1}); assert s == 200 and d["verdict"] == "valid", d
s, d = post({"bundle": b1, "max_age": 1}); assert s == 200 and d["verdict"] == "stale", d
s, d = post({"bundle": {"version": 1}}); assert s == 200 and d["verdict"] == "malformed" and d["reasons"], d
for body, want in (({"bundle": b0, "record_id": id0}, 400), ({}, 400), ({"bundle": "x"}, 400),
                   ({"record_id": id0.upper()}, 400), ({"record_id": id0, "extra": 1}, 400),
                   ({"record_id": id0, "max_age": -1}, 400), (b"not json", 400)):
    s, d = post(body); assert s == want and "error" in d, (body if not isinstance(body, dict) or "bundle" not in body else "bundle...", s, d)
s, d = post({"record_id": id0}, "text/plain"); assert s == 415, (s, d)
print("POST /v1/verify: both forms, verdicts valid/revoked/not_on_ledger/stale/malformed, refusals 400/415", file=sys.stderr)
PY
for p in "/v1/records/$(printf '%064x' 7)/proof:404" "/v1/records/${ID[0]^^}/proof:400" \
  "/v1/records/${ID[0]}/proof?height=0:400" "/v1/records/${ID[0]}/proof?height=x:400" \
  "/v1/records/${ID[0]}/proof?height=99999999:404" "/v1/records/$(printf '%064x' 7)/credential:404" \
  "/v1/resolve:400"; do
  st=$(http GET "$(tb_url 2)${p%:*}")
  [ "$st" = "${p##*:}" ] || tb_fail "GET ${p%:*}: HTTP $st, expected ${p##*:}"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["error"]["code"] and d["error"]["message"]' \
    "$W/resp" || tb_fail "GET ${p%:*}: not a JSON error: $(cat "$W/resp")"
done

# --- a pending record: two of four nodes stopped, no quorum ---------------------------------
tb_node_kill 2 KILL
tb_node_kill 3 KILL
"$TB" issue --node "$(tb_url 0)" --key "$W/agency-0.key" --city "${TB_CITIES[0]}" --agency ag0 \
  --type provident.deposit --subject "$(printf '%064x' 999)" >"$W/pending.out" 2>&1 ||
  { cat "$W/pending.out" >&2; tb_fail "issue while two nodes are down"; }
ID_P=$(awk '/^record id/ {print $3}' "$W/pending.out")
st=$(http GET "$(tb_url 0)/v1/records/$ID_P/proof")
[ "$st" = 409 ] && grep -q '"pending"' "$W/resp" || tb_fail "proof of a pending record: HTTP $st $(cat "$W/resp")"
echo "{\"record_id\": \"$ID_P\"}" >"$W/vp.json"
[ "$(http POST "$(tb_url 0)/v1/verify" "$W/vp.json")" = 200 ] && grep -q '"not_on_ledger"' "$W/resp" ||
  tb_fail "verify of a pending record: $(cat "$W/resp")"
tb_node_start 2
tb_node_start 3
deadline=$((SECONDS + 60))
until [ "$(http GET "$(tb_url 0)/v1/records/$ID_P/proof")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || tb_fail "the pending record was not committed after the restart"
  sleep 0.5
done
cp "$W/resp" "$W/b/p.json"
verify_expect "$W/b/p.json" 0 valid
tb_log "pending record: 409 pending, then committed and valid once two nodes came back"
tb_check_headers 0 1 2 3
if grep -lE 'AddressSanitizer|runtime error:|LeakSanitizer' "$W"/c*/node.log; then
  tb_fail "a sanitizer report in a node log (above)"
fi
tb_log "PASS ($SUITE) in $((SECONDS - T0)) s"
