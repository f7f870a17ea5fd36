#!/usr/bin/env bash
# The authorisation matrix, deny by default (issue 6 item 6), on four real nodes in one suite:
#   issuing and revoking (the ledger's rules, through `tongban issue` / `tongban revoke`):
#     - an agency of one city cannot issue for another city (its key, another city's codes);
#     - an agency issues only its registered types;
#     - only the issuing agency revokes (not another city's agency, not another agency of
#       the same city);
#     each refusal exits non-zero with the ledger's verdict, and the chain does not change;
#   signed reads (GET /v1/subjects/{subject}/records, node/api_auth.h):
#     - `tongban records` signed by an active agency of any member city lists the records;
#     - missing signature, bad signature, created too long ago, replayed nonce, unknown key,
#       the key of another agency than Tongban-Agency names, body digest mismatch, an
#       unsigned request with the agency's key file name only: each a 401 with
#       {"error": {"code", "message"}} naming the reason; nothing changes.
# A retired agency's signature (403) is covered by tests/unit/test_node_api_auth.c: retiring
# is not reachable from the CLI or the API yet.
# usage: cluster_authz.sh PATH/TO/tongban PATH/TO/httpsig_sign SUITE
set -euo pipefail
TB=$1
SIGN=$2
SUITE=$3
. "$(dirname "$0")/lib.sh"
tb_setup "authz-$SUITE"
t0=$SECONDS

tb_cluster_init "$SUITE" 4
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_up "$i" 60; done
tb_register_agencies
# A second agency of city 0, registered for one type only.
"$TB" agency add --config "$TB_WORK/c0/node.ini" --agency narrow --name 窄机构 \
  --types social-security.card --out "$TB_WORK/narrow.key" --wait-ms 60000 \
  >"$TB_WORK/narrow.out" 2>&1 || { cat "$TB_WORK/narrow.out" >&2; tb_fail "agency add narrow"; }
tb_log "agencies registered in $((SECONDS - t0)) s; height $(tb_height 0)"

C=("${TB_CITIES[@]}")
SUBJ=$(printf '%064x' 4242)
U0=$(tb_url 0)
U1=$(tb_url 1)

# snapshot: height and pending of every node, and the subject's record count (node 0 sees
# all committed records).
snapshot() {
  local i out=""
  for i in 0 1 2 3; do
    out+="$(tb_get "$(tb_url "$i")/v1/status" '"%d/%d" % (d["height"], d["pending"])') "
  done
  echo "$out"
}

# issue_ok ARGS...: issues and waits; prints the record id.
issue_ok() {
  "$TB" issue --wait --wait-ms 60000 "$@" >"$TB_WORK/issue.out" 2>&1 ||
    { cat "$TB_WORK/issue.out" >&2; tb_fail "issue $*"; }
  awk '/^record id/ {print $3}' "$TB_WORK/issue.out"
}

# refused NAME WANT CMD...: the command must fail with WANT in its error; the chain must not
# change (checked after a few block intervals).
refused() {
  local name=$1 want=$2
  shift 2
  local before after
  before=$(tb_height 0)
  if "$@" >"$TB_WORK/refused.out" 2>&1; then
    cat "$TB_WORK/refused.out" >&2
    tb_fail "$name: accepted"
  fi
  grep -q -- "$want" "$TB_WORK/refused.out" ||
    { cat "$TB_WORK/refused.out" >&2; tb_fail "$name: refused, but not with '$want'"; }
  sleep 0.6
  for i in 0 1 2 3; do
    [ "$(tb_get "$(tb_url "$i")/v1/status" 'd["pending"]')" = 0 ] || tb_fail "$name: node $i has a pending tx"
  done
  tb_log "refused as expected: $name ($(grep -o -- "$want.*" "$TB_WORK/refused.out" | head -c 120))"
}

# ---- issuing and revoking
R=$(issue_ok --node "$U0" --key "$TB_WORK/agency-0.key" --city "${C[0]}" --agency ag0 \
  --type provident.deposit --subject "$SUBJ")
[ ${#R} = 64 ] || tb_fail "no record id"
tb_log "ag0 of ${C[0]} issued record $R"

refused "issue for another city's agency" "not_authorised\|unknown_agency\|registered" \
  "$TB" issue --node "$U0" --key "$TB_WORK/agency-0.key" --city "${C[1]}" --agency ag1 \
  --type provident.deposit --subject "$SUBJ"
refused "issue as own agency code in another city" "not_authorised\|unknown_agency\|registered" \
  "$TB" issue --node "$U1" --key "$TB_WORK/agency-0.key" --city "${C[1]}" --agency ag0 \
  --type provident.deposit --subject "$SUBJ"
refused "issue an unregistered type" "wrong_type" \
  "$TB" issue --node "$U0" --key "$TB_WORK/narrow.key" --city "${C[0]}" --agency narrow \
  --type provident.deposit --subject "$SUBJ"
R2=$(issue_ok --node "$U0" --key "$TB_WORK/narrow.key" --city "${C[0]}" --agency narrow \
  --type social-security.card --subject "$SUBJ")
tb_log "narrow issued its registered type: record $R2"
refused "revoke by another city's agency" "not_authorised" \
  "$TB" revoke --node "$U1" --key "$TB_WORK/agency-1.key" --record "$R" --reason x
refused "revoke by another agency of the same city" "not_authorised" \
  "$TB" revoke --node "$U0" --key "$TB_WORK/narrow.key" --record "$R" --reason x
"$TB" revoke --node "$U0" --key "$TB_WORK/agency-0.key" --record "$R2" --reason x --wait \
  >"$TB_WORK/revoke.out" 2>&1 && tb_fail "ag0 revoked narrow's record" || true
grep -q "not_authorised" "$TB_WORK/revoke.out" || { cat "$TB_WORK/revoke.out" >&2; tb_fail "revoke R2 by ag0: not not_authorised"; }
"$TB" revoke --node "$U0" --key "$TB_WORK/narrow.key" --record "$R2" --reason 到期 --wait \
  --wait-ms 60000 >"$TB_WORK/revoke.out" 2>&1 || { cat "$TB_WORK/revoke.out" >&2; tb_fail "revoke by its issuer"; }
[ "$(tb_get "$U1/v1/records/$R2" 'd["status"]')" = revoked ] || sleep 1
[ "$(tb_get "$U1/v1/records/$R2" 'd["status"]')" = revoked ] || tb_fail "R2 not revoked on node 1"
[ "$(tb_get "$U1/v1/records/$R" 'd["status"]')" = valid ] || tb_fail "R changed"
tb_log "only the issuing agency revoked; R still valid"

# ---- signed reads
tb_wait_height 1 "$(tb_height 0)" 30
"$TB" records --node "$U1" --key "$TB_WORK/agency-2.key" --city "${C[2]}" --agency ag2 \
  --subject "$SUBJ" >"$TB_WORK/records.json" 2>"$TB_WORK/records.err" ||
  { cat "$TB_WORK/records.err" >&2; tb_fail "tongban records"; }
python3 - "$TB_WORK/records.json" "$R" "$R2" "$SUBJ" <<'PY' || tb_fail "records list"
import json, sys
d = json.load(open(sys.argv[1]))
ids = {r["id"]: r["status"] for r in d["records"]}
assert d["subject"] == sys.argv[4], d
assert ids == {sys.argv[2]: "valid", sys.argv[3]: "revoked"}, ids
PY
tb_log "tongban records (ag2 of ${C[2]}, on node 1): 2 records, statuses right"

"$TB" keygen --suite "$SUITE" --out "$TB_WORK/stranger.key" >/dev/null || tb_fail "keygen"
printf 'abc' >"$TB_WORK/abc.body"

before=$(snapshot)
python3 - "$U1" "$SIGN" "$TB_WORK" "$SUBJ" "${C[2]}" "${C[1]}" "${C[0]}" <<'PY' || tb_fail "signed reads matrix"
import json, subprocess, sys, time, urllib.request, urllib.error
url, sign, work, subj, city2, city1, city0 = sys.argv[1:]
path = "/v1/subjects/%s/records" % subj
query = "limit=10"
def headers(key, city, agency, created=None, body="-", method="GET", p=path, q=query):
    created = int(time.time()) if created is None else created
    out = subprocess.run([sign, key, city, agency, method, p, q, body, str(created)],
                         check=True, capture_output=True, text=True).stdout
    return dict(l.split(": ", 1) for l in out.strip().split("\n"))
def get(h, body=None):
    req = urllib.request.Request(url + path + "?" + query, headers=h, data=body, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.load(r)
    except urllib.error.HTTPError as e: return e.code, json.load(e)
def refused(name, h, want, status=401, body=None):
    s, d = get(h, body)
    assert s == status, (name, s, d)
    assert set(d) == {"error"} and set(d["error"]) == {"code", "message"}, (name, d)
    assert want in d["error"]["message"], (name, want, d)
    print("refused as expected: %s: %d %s: %s" % (name, s, d["error"]["code"], d["error"]["message"]),
          file=sys.stderr)
k2 = work + "/agency-2.key"
good = headers(k2, city2, "ag2")
s, d = get(good)
assert s == 200 and len(d["records"]) == 2, (s, d)
refused("replayed nonce", good, "replay")
refused("missing signature", {}, "missing")
h = headers(k2, city2, "ag2"); del h["Signature"]
refused("missing Signature field", h, "missing signature")
h = headers(k2, city2, "ag2"); sig = h["Signature"]
h["Signature"] = sig[:6] + ("A" if sig[6] != "A" else "B") + sig[7:]
refused("bad signature", h, "signature does not verify")
refused("created 120 s ago", headers(k2, city2, "ag2", created=int(time.time()) - 120), "too old")
refused("created 120 s ahead", headers(k2, city2, "ag2", created=int(time.time()) + 120), "in the future")
refused("unknown key", headers(work + "/stranger.key", city2, "ag2"), "unknown agency key")
refused("key of another agency", headers(work + "/agency-1.key", city2, "ag2"), "is registered to")
refused("key of another agency of the same city", headers(work + "/narrow.key", city0, "ag0"), "is registered to")
refused("body digest mismatch", headers(k2, city2, "ag2", body=work + "/abc.body"), "content-digest does not match")
refused("body added after signing", headers(k2, city2, "ag2"), "content-digest does not match", body=b"abc")
refused("query changed after signing", headers(k2, city2, "ag2", q="limit=1"), "signature does not verify")
refused("path changed after signing", headers(k2, city2, "ag2", p=path.replace("/records", "/recordz")), "signature does not verify")
refused("a Bearer token instead", {"Authorization": "Bearer " + "f" * 64}, "missing")
h = headers(k2, city2, "ag2"); h["Tongban-Agency"] = city1 + "/ag2"
refused("Tongban-Agency changed after signing", h, "is registered to")
# Still fine afterwards: a fresh signature.
s, d = get(headers(k2, city2, "ag2"))
assert s == 200, (s, d)
PY
after=$(snapshot)
[ "$before" = "$after" ] || tb_fail "the reads changed something: $before -> $after"
tb_log "signed reads: every refusal a 401 with its reason; nothing changed ($after)"
tb_check_headers 0 1 2 3
tb_log "PASS cluster_authz $SUITE in $((SECONDS - t0)) s"
