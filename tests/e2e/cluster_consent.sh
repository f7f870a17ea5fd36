#!/usr/bin/env bash
# Data sharing with consent across four real nodes (issue 6 items 1-4, docs/consent.md):
#   - city A's agency issues a record with its document (`tongban issue --document`); only A's
#     node keeps it, sealed (no plaintext in A's LMDB file, no copy in B, C or D's); a document
#     that is not the record's (digest) or sent to another city's node is refused (422);
#   - A's agency signs a consent token (`tongban consent`, and POST /v1/consents signed by the
#     node); city B's agency fetches the document through B's node (`tongban fetch`): the bytes
#     are equal, and the access is on the ledger (A's access log lists it);
#   - refusals, each a 4xx (or the 500 of a corrupt document) with its reason code, and a
#     refused-attempt entry at A where the holder judged it: expired token, wrong grantee,
#     replayed audit tx, used up (uses 1, second fetch), wrong type, closed record type,
#     a token with a changed signature, a token for another subject,
#     no token (refused by B's node before anything reaches A), a tampered sealed document;
#   - withdrawal (D24): a token that fetched once is withdrawn (`tongban consent withdraw`);
#     the next fetch is 403 consent_withdrawn and in the access log's refused list; another
#     city's agency cannot withdraw it (403); a second withdrawal answers the first time;
#   - the access log is for agencies of the subject's home city only.
# usage: cluster_consent.sh PATH/TO/tongban PATH/TO/httpsig_sign SUITE
set -euo pipefail
TB=$1
SIGN=$2
SUITE=$3
. "$(dirname "$0")/lib.sh"
tb_setup "consent-$SUITE"

tb_log "suite $SUITE: 4 nodes in $TB_WORK"
tb_cluster_init "$SUITE" 4
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_up "$i" 60; done
tb_register_agencies
A=${TB_CITIES[0]}
B=${TB_CITIES[1]}
C=${TB_CITIES[2]}
SUBJECT=$(printf 'c0%062x' 4242)
W=$TB_WORK

# The document: random bytes around a marker the LMDB scans look for.
python3 - "$W/doc.bin" <<'PY'
import os, sys
open(sys.argv[1], "wb").write(os.urandom(400) + b"TONGBAN-DOC-MARKER-7f3a9c" + os.urandom(700))
PY

issue() { # TYPE OUTFILE: issues at A with the document, prints the record id
  "$TB" issue --node "$(tb_url 0)" --key "$W/agency-0.key" --city "$A" --agency ag0 \
    --type "$1" --subject "$SUBJECT" --document "$W/doc.bin" --wait >"$2" 2>&1 ||
    { cat "$2" >&2; tb_fail "issue $1"; }
  awk '/^record id/ {print $3}' "$2"
}
# A document must be the record's (its digest) and go to the issuing city's node only.
"$TB" issue --genesis "$W/genesis.json" --out "$W/env_doc.bin" --key "$W/agency-0.key" \
  --city "$A" --agency ag0 --type provident.deposit --subject "$SUBJECT" --document "$W/doc.bin" \
  >/dev/null || tb_fail "sign an issue envelope"
tx_with_doc() { # NODE_INDEX DOCFILE: prints "STATUS BODY" of POST /v1/tx {"envelope","document"}
  python3 - "$(tb_url "$1")/v1/tx" "$W/env_doc.bin" "$2" <<'PY'
import base64, json, sys, urllib.request, urllib.error
url, env, doc = sys.argv[1:]
body = json.dumps({"envelope": base64.b64encode(open(env, "rb").read()).decode(),
                   "document": base64.b64encode(open(doc, "rb").read()).decode()}).encode()
req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r: print(r.status, r.read().decode())
except urllib.error.HTTPError as e: print(e.code, e.read().decode())
PY
}
printf 'not the document' >"$W/other.bin"
r=$(tx_with_doc 0 "$W/other.bin")
case "$r" in "422 "*digest_mismatch*) ;; *) tb_fail "another document: $r" ;; esac
r=$(tx_with_doc 1 "$W/doc.bin")
case "$r" in "422 "*not_issuing_city*) ;; *) tb_fail "document at another city's node: $r" ;; esac
tb_log "refused as expected: a wrong document (422 digest_mismatch), at B (422 not_issuing_city)"
REC=$(issue provident.deposit "$W/issue1.out")
CLOSED=$(issue police.no-criminal-record "$W/issue2.out")
tb_log "records issued at $A: consent $REC, closed $CLOSED"

consent() { # OUT GRANTEE TYPES EXPIRES USES
  "$TB" consent --agency-key "$W/agency-0.key" --city "$A" --agency ag0 --node "$(tb_url 0)" \
    --subject-id "$SUBJECT" --grantee "$2" --types "$3" --purpose "住房贷款审核 loan check" \
    --expires-in "$4" --uses "$5" --out "$1" >"$1.out" 2>&1 || { cat "$1.out" >&2; tb_fail "consent $1"; }
}
fetch() { # NODE_INDEX TOKEN RECORD OUT [ARGS...]: B's agency (city I) fetches
  local i=$1 tok=$2 rec=$3 out=$4
  shift 4
  "$TB" fetch --agency-key "$W/agency-$i.key" --city "${TB_CITIES[$i]}" --agency "ag$i" \
    --node "$(tb_url "$i")" --consent "$tok" --out "$out" "$@" "$rec"
}
refused() { # CODE STATUS NODE_INDEX TOKEN RECORD [ARGS...]: the fetch fails with that code
  local code=$1 status=$2
  shift 2
  if fetch "$1" "$2" "$3" "$W/refused.bin" "${@:4}" >"$W/refused.out" 2>&1; then
    tb_fail "fetch that should be refused ($code) succeeded"
  fi
  grep -q "HTTP $status: $code" "$W/refused.out" ||
    { cat "$W/refused.out" >&2; tb_fail "expected HTTP $status $code"; }
  [ ! -e "$W/refused.bin" ] || tb_fail "a refused fetch wrote a document ($code)"
  tb_log "refused as expected: $status $code"
}

# 1. The success path: B's agency, a valid token (uses 1), through B's node.
consent "$W/tok1.bin" "$B/ag1" provident.deposit 600 1
t0=$(date +%s%N)
fetch 1 "$W/tok1.bin" "$REC" "$W/got.bin" >"$W/fetch1.out" 2>&1 ||
  { cat "$W/fetch1.out" >&2; tb_fail "fetch with a valid token"; }
t1=$(date +%s%N)
cmp -s "$W/doc.bin" "$W/got.bin" || tb_fail "the fetched document differs from the issued one"
tb_log "fetched through $B's node: $(stat -c %s "$W/got.bin") bytes, equal; $(((t1 - t0) / 1000000)) ms" \
  "(CLI start to document written, audit committed in between)"

# 2. Refusals.
refused consent_used_up 403 1 "$W/tok1.bin" "$REC"
consent "$W/tok_exp.bin" "$B/ag1" provident.deposit 1 5
sleep 2
refused consent_expired 403 1 "$W/tok_exp.bin" "$REC"
consent "$W/tok_c.bin" "$C/ag2" provident.deposit 600 5
refused wrong_grantee 403 1 "$W/tok_c.bin" "$REC"
consent "$W/tok_type.bin" "$B/ag1" social-security.card 600 5
refused consent_wrong_type 403 1 "$W/tok_type.bin" "$REC"
# A token whose signature was changed (its last byte is in the signature), and one for
# another subject.
consent "$W/tok_sig.bin" "$B/ag1" provident.deposit 600 5
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-1]^=1; open(p,"wb").write(b)' \
  "$W/tok_sig.bin"
refused consent_not_valid 403 1 "$W/tok_sig.bin" "$REC"
SUBJECT_REAL=$SUBJECT
SUBJECT=$(printf 'c1%062x' 4242)
consent "$W/tok_subj.bin" "$B/ag1" provident.deposit 600 5
SUBJECT=$SUBJECT_REAL
refused consent_wrong_subject 403 1 "$W/tok_subj.bin" "$REC"
consent "$W/tok_closed.bin" "$B/ag1" police.no-criminal-record 600 5
refused closed_type 403 1 "$W/tok_closed.bin" "$CLOSED"
consent "$W/tok3.bin" "$B/ag1" provident.deposit 600 3
fetch 1 "$W/tok3.bin" "$REC" "$W/got3.bin" --audit-out "$W/audit3.bin" >"$W/fetch3.out" 2>&1 ||
  { cat "$W/fetch3.out" >&2; tb_fail "fetch with a 3-use token"; }
cmp -s "$W/doc.bin" "$W/got3.bin" || tb_fail "second fetched document differs"
refused replay 409 1 "$W/tok3.bin" "$REC" --audit "$W/audit3.bin"

# No token: a signed request to B's node without "consent" never reaches A.
python3 - "$W" "$REC" "$B" <<'PY' >"$W/nocons.json"
import base64, json, sys
w, rec, city = sys.argv[1:]
audit = base64.b64encode(open(w + "/audit3.bin", "rb").read()).decode()
print(json.dumps({"record_id": rec, "audit": audit}, separators=(",", ":")), end="")
PY
signed_post() { # NODE_INDEX AGENCY_INDEX PATH BODYFILE: prints "STATUS BODY"
  local hdrs=()
  while IFS= read -r line; do hdrs+=(-H "$line"); done < <("$SIGN" "$W/agency-$2.key" \
    "${TB_CITIES[$2]}" "ag$2" POST "$3" "" "$4" "$(date +%s)")
  curl -s -o "$W/signed.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "${hdrs[@]}" --data-binary "@$4" "$(tb_url "$1")$3"
  echo " $(cat "$W/signed.out")"
}
r=$(signed_post 1 1 /v1/documents/fetch "$W/nocons.json")
case "$r" in "400 "*consent*) tb_log "refused as expected: no token: ${r:0:80}" ;;
  *) tb_fail "no token: expected 400 naming consent, got: $r" ;; esac

# POST /v1/consents: A's node signs for its agency with the key it holds (agency_dir).
mkdir -p "$W/c0/agencies"
cp "$W/agency-0.key" "$W/c0/agencies/$A-ag0.key"
printf '{"subject":"%s","grantee_city":"%s","grantee_agency":"ag1","types":["provident.deposit"],"purpose":"公积金 check","expires_in":600,"uses":1}' \
  "$SUBJECT" "$B" >"$W/consent_req.json"
r=$(signed_post 0 0 /v1/consents "$W/consent_req.json")
[ "${r%% *}" = 201 ] || tb_fail "POST /v1/consents: $r"
python3 -c 'import json,sys; print(json.loads(sys.argv[1].split(" ",1)[1])["token"])' "$r" \
  >"$W/tok_api.b64"
fetch 1 "$W/tok_api.b64" "$REC" "$W/got_api.bin" >"$W/fetch_api.out" 2>&1 ||
  { cat "$W/fetch_api.out" >&2; tb_fail "fetch with the node-signed token"; }
cmp -s "$W/doc.bin" "$W/got_api.bin" || tb_fail "document fetched with the API token differs"
tb_log "POST /v1/consents token works"
# An agency of another city may not create a consent for A's subject at its own node.
r=$(signed_post 1 1 /v1/consents "$W/consent_req.json")
case "$r" in "403 "*not_home_city*) ;; *) tb_fail "consent by a non-home city: $r" ;; esac

# Withdrawal (D24): A's agency withdraws a token at A's node (`tongban consent withdraw`); the
# next fetch is refused (403 consent_withdrawn) and kept for the access log; another city's
# agency cannot withdraw it (403); withdrawing again answers the first time.
withdraw() { # NODE_INDEX TOKEN OUT: agency I withdraws the token at node I
  "$TB" consent withdraw --token "$2" --agency-key "$W/agency-$1.key" --city "${TB_CITIES[$1]}" \
    --agency "ag$1" --node "$(tb_url "$1")" >"$3" 2>&1
}
consent "$W/tok_w.bin" "$B/ag1" provident.deposit 600 5
WID=$(awk '/^consent id/ {print $3}' "$W/tok_w.bin.out")
fetch 1 "$W/tok_w.bin" "$REC" "$W/got_w.bin" >"$W/fetch_w.out" 2>&1 ||
  { cat "$W/fetch_w.out" >&2; tb_fail "fetch before the withdrawal"; }
cmp -s "$W/doc.bin" "$W/got_w.bin" || tb_fail "document fetched before the withdrawal differs"
withdraw 0 "$W/tok_w.bin" "$W/w1.out" || { cat "$W/w1.out" >&2; tb_fail "consent withdraw"; }
grep -q "^consent id   $WID\$" "$W/w1.out" || { cat "$W/w1.out" >&2; tb_fail "withdraw: consent id"; }
AT1=$(awk '/^withdrawn at/ {print $3}' "$W/w1.out")
[ -n "$AT1" ] && [ "$AT1" -ge "$(($(date +%s) - 60))" ] || tb_fail "withdraw: time '$AT1'"
refused consent_withdrawn 403 1 "$W/tok_w.bin" "$REC"
# B's agency at its own node (the token is A's), and at A's node (not its city's node).
if withdraw 1 "$W/tok_w.bin" "$W/w2.out"; then tb_fail "B's agency withdrew A's consent"; fi
grep -q "HTTP 403: not_own_consent" "$W/w2.out" || { cat "$W/w2.out" >&2; tb_fail "withdraw at B"; }
if "$TB" consent withdraw --token "$W/tok_w.bin" --agency-key "$W/agency-1.key" --city "$B" \
  --agency ag1 --node "$(tb_url 0)" >"$W/w3.out" 2>&1; then tb_fail "B's agency withdrew at A"; fi
grep -q "HTTP 403: forbidden" "$W/w3.out" || { cat "$W/w3.out" >&2; tb_fail "withdraw by B at A"; }
# Again, a second later, with the token as base64 text: the first time is answered.
sleep 1
awk '/^token/ {print $2}' "$W/tok_w.bin.out" >"$W/tok_w.b64"
withdraw 0 "$W/tok_w.b64" "$W/w4.out" || { cat "$W/w4.out" >&2; tb_fail "second withdraw"; }
AT2=$(awk '/^withdrawn at/ {print $3}' "$W/w4.out")
[ "$AT1" = "$AT2" ] || tb_fail "second withdrawal answered $AT2, the first was $AT1"
printf '{"token":"AAAA"}' >"$W/withdraw_bad.json"
r=$(signed_post 0 0 /v1/consents/withdraw "$W/withdraw_bad.json")
case "$r" in "400 "*) ;; *) tb_fail "withdraw with a malformed token: $r" ;; esac
tb_log "withdrawal: fetch refused (403 consent_withdrawn), 403 for B's agency, idempotent ($AT1)"

# Tampered sealed document on A's disk: one ciphertext byte flipped in data.mdb, in every
# copy of the documents entry (LMDB's copy-on-write leaves older copies in free pages). Last
# of the fetches: nothing is restored (a free page may be reused meanwhile).
python3 - "$W/c0/data/data.mdb" "$REC" <<'PY' >"$W/tamper.out" || tb_fail "tamper: $(cat "$W/tamper.out")"
import struct, sys
path, rec = sys.argv[1], bytes.fromhex(sys.argv[2])
data = open(path, "rb").read()
hits, i = [], data.find(rec)
while i >= 0:
    if i >= 8:
        lo, hi, flags, ksize = struct.unpack_from("<HHHH", data, i - 8)
        if ksize == 32 and flags == 0 and 1000 < (lo | hi << 16) < 1300 and data[i + 32] == 1:
            hits.append(i + 32)
    i = data.find(rec, i + 1)
if not hits:
    print("no sealed document entry found"); sys.exit(1)
with open(path, "r+b") as f:
    for h in hits:
        f.seek(h + 40); b = f.read(1); f.seek(h + 40); f.write(bytes([b[0] ^ 0x5a]))
print("flipped %d copies" % len(hits))
PY
consent "$W/tok_t.bin" "$B/ag1" provident.deposit 600 5
refused document_corrupt 500 1 "$W/tok_t.bin" "$REC"

# 3. The access log at A, read by A's agency; refused for B's agency.
"$TB" access-log --agency-key "$W/agency-0.key" --city "$A" --agency ag0 --node "$(tb_url 0)" \
  "$SUBJECT" >"$W/log.json" 2>"$W/log.err" || { cat "$W/log.err" >&2; tb_fail "access log at A"; }
python3 - "$W/log.json" "$REC" "$B" "$WID" <<'PY' || tb_fail "access log content"
import json, sys
log, rec, b, wid = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
ok = [e for e in log["accesses"] if e["record_id"] == rec and e["requester_city"] == b
      and e["requester_agency"] == "ag1" and e["purpose"] and e["time_ms"] > 0
      and len(e["consent_id"]) == 64]
if len(ok) != 4:
    print("expected 4 committed accesses by %s/ag1, got %d: %s" % (b, len(ok), log["accesses"]))
    sys.exit(1)
if not [e for e in log["refused"] if e["code"] == "consent_withdrawn" and e["consent_id"] == wid
        and e["record_id"] == rec and e["requester_city"] == b]:
    print("no consent_withdrawn refusal for consent %s: %s" % (wid, log["refused"])); sys.exit(1)
codes = sorted({e["code"] for e in log["refused"]})
want = {"consent_used_up", "consent_expired", "wrong_grantee", "consent_wrong_type",
        "closed_type", "replay", "document_corrupt", "consent_not_valid", "consent_wrong_subject",
        "consent_withdrawn"}
if not want <= set(codes):
    print("refused codes %s lack %s" % (codes, sorted(want - set(codes)))); sys.exit(1)
print("access log: %d accesses, refused %s" % (len(ok), codes), file=sys.stderr)
PY
if "$TB" access-log --agency-key "$W/agency-1.key" --city "$B" --agency ag1 --node "$(tb_url 1)" \
  "$SUBJECT" >/dev/null 2>"$W/log1.err"; then tb_fail "B's agency read A's subject's access log"; fi
grep -q "HTTP 403: not_home_city" "$W/log1.err" || { cat "$W/log1.err" >&2; tb_fail "log at B"; }

# 4. Where the document is: sealed at A only, in no node's file as plaintext.
for i in 0 1 2 3; do tb_node_kill "$i" TERM; done
python3 - "$W" "$REC" <<'PY' || tb_fail "document storage scan"
import struct, sys
w, rec = sys.argv[1], bytes.fromhex(sys.argv[2])
doc = open(w + "/doc.bin", "rb").read()
for i in range(4):
    data = open("%s/c%d/data/data.mdb" % (w, i), "rb").read()
    if b"TONGBAN-DOC-MARKER-7f3a9c" in data or doc[:64] in data:
        print("node %d holds the document in plaintext" % i); sys.exit(1)
    sealed, j = 0, data.find(rec)
    while j >= 0:
        if j >= 8:
            lo, hi, flags, ksize = struct.unpack_from("<HHHH", data, j - 8)
            if ksize == 32 and 1000 < (lo | hi << 16) < 1300 and data[j + 32] == 1:
                sealed += 1
        j = data.find(rec, j + 1)
    if (sealed > 0) != (i == 0):
        print("node %d holds %d sealed copies" % (i, sealed)); sys.exit(1)
print("document sealed at node 0 only; no plaintext in any LMDB file", file=sys.stderr)
PY
tb_log "PASS"
