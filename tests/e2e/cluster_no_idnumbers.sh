#!/usr/bin/env bash
# No personal ID number anywhere (issue 6 item 7), on four real nodes:
#   - records are issued for a set of valid ID numbers (GB 11643 check characters; one ending
#     in X, some typed with spaces or hyphens, one in the old 15-digit form, one read from
#     standard input) by `tongban issue` on all four nodes, and by custodial POST /v1/records
#     with "id_number" (plus one refused for a bad check character);
#   - everything is read back through every API: status, members, agencies, every block,
#     every record, every tx, metrics, and each subject's list through `tongban records
#     --id-number` (signed), every answer captured to a file;
#   - then every file of the federation's directories (LMDB data and lock files, node logs,
#     configs) and every captured answer and CLI output is scanned for each number, in its
#     18-digit form (X and x), its 15-digit form, its first 17 digits, spaced and hyphenated
#     as typed, and UTF-16: zero hits.
# The scan is proven able to fail: it must find the subjects' raw HMAC bytes in every node's
# LMDB file and the subject hex in the captured answers, and it must report a planted file
# holding one number.
# The numbers live only in this shell's variables and the environment of the scanner: never
# in a file under the scanned directory.
# usage: cluster_no_idnumbers.sh PATH/TO/tongban PATH/TO/httpsig_sign
set -euo pipefail
TB=$1
SUITE=ed25519-sha256
. "$(dirname "$0")/lib.sh"
tb_setup "noid"
t0=$SECONDS
OUT=$TB_WORK/captured
mkdir -p "$OUT"

tb_cluster_init "$SUITE" 4
for i in 0 1 2 3; do tb_node_start "$i"; done
for i in 0 1 2 3; do tb_wait_up "$i" 60; done
tb_register_agencies
"$TB" agency add --config "$TB_WORK/c1/node.ini" --agency cust --name 托管机构 \
  --types social-security.card --out "$TB_WORK/cust.key" --token-out "$TB_WORK/cust.token" \
  --wait-ms 60000 >"$OUT/cust.out" 2>&1 || { cat "$OUT/cust.out" >&2; tb_fail "custodial agency"; }
tb_log "agencies registered in $((SECONDS - t0)) s"

# Ten valid 18-digit numbers (the last one ends in X), and one with a wrong check character.
mapfile -t IDS < <(python3 - <<'PY'
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
def check(d17): return "10X98765432"[sum(int(c) * w for c, w in zip(d17, W)) % 11]
regions = ["371502", "370102", "370902", "371402", "110105", "440305"]
out, seq = [], 101
while len(out) < 9:
    d17 = "%s19%02d%02d%02d%03d" % (regions[len(out) % 6], 60 + len(out), 1 + len(out), 10 + len(out), seq)
    seq += 7
    out.append(d17 + check(d17))
seq = 301
while True:
    d17 = "37150219850612%03d" % seq
    if check(d17) == "X": out.append(d17 + "X"); break
    seq += 1
bad = out[0][:17] + ("0" if out[0][17] != "0" else "1")
print("\n".join(out + [bad]))
PY
)
[ ${#IDS[@]} = 11 ] || tb_fail "ID number generation"
BAD=${IDS[10]}
C=("${TB_CITIES[@]}")

# The ways an agency types them: 0 as is; 1 with spaces; 2 with hyphens; 3 from standard
# input; 4 in the 15-digit form; 9 (the X one) with a lower-case x.
typed() {
  local k=$1 id=${IDS[$1]}
  case $k in
    1) echo "${id:0:6} ${id:6:8} ${id:14:4}" ;;
    2) echo "${id:0:6}-${id:6:8}-${id:14:4}" ;;
    4) echo "${id:0:6}${id:8:9}" ;;
    9) echo "${id,,}" ;;
    *) echo "$id" ;;
  esac
}

declare -a RIDS=()
for k in 0 1 2 3 4 5 6 7; do
  c=$((k % 4))
  args=(--node "$(tb_url "$c")" --key "$TB_WORK/agency-$c.key" --city "${C[$c]}" --agency "ag$c"
    --type social-security.card --subject-key "$TB_WORK/subject.key" --claim card_no="SD$k")
  if [ $k = 3 ]; then
    typed 3 | "$TB" issue "${args[@]}" --id-number - >"$OUT/issue-$k.out" 2>&1 ||
      { cat "$OUT/issue-$k.out" >&2; tb_fail "issue $k"; }
  else
    "$TB" issue "${args[@]}" --id-number "$(typed $k)" >"$OUT/issue-$k.out" 2>&1 ||
      { cat "$OUT/issue-$k.out" >&2; tb_fail "issue $k"; }
  fi
  RIDS+=("$(awk '/^record id/ {print $3}' "$OUT/issue-$k.out")")
done
tb_log "8 records issued with tongban issue on 4 nodes"

# Custodial: 8 and 9 through POST /v1/records on node 1; the bad number is refused.
NOID_IDS="$(typed 8) $(typed 9) $BAD" python3 - "$(tb_url 1)" "$TB_WORK/cust.token" "$OUT" <<'PY' ||
import json, os, sys, urllib.request, urllib.error
u, token, out = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3]
ids = os.environ["NOID_IDS"].split(" ")
def post(n, idn, want):
    body = json.dumps({"type": "social-security.card", "id_number": idn,
                       "claims": {"card_no": "CU%d" % n}}).encode()
    req = urllib.request.Request(u + "/v1/records", data=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: s, raw = r.status, r.read()
    except urllib.error.HTTPError as e: s, raw = e.code, e.read()
    open("%s/custodial-%d.json" % (out, n), "wb").write(raw)
    assert s == want, (s, raw)
    return json.loads(raw)
for n, idn in enumerate(ids[:2]):
    post(n, idn, 202)
post(2, ids[2], 400)
PY
  tb_fail "custodial issuing"
mapfile -t -O 8 RIDS < <(python3 -c 'import json,sys; [print(json.load(open(sys.argv[1]+"/custodial-%d.json" % n))["id"]) for n in (0,1)]' "$OUT")
[ ${#RIDS[@]} = 10 ] || tb_fail "record ids: ${#RIDS[@]}"
tb_log "2 custodial records issued, a bad check character refused"

# Wait until all are committed everywhere.
python3 - "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" "${RIDS[@]}" <<'PY' || tb_fail "records not committed"
import json, sys, time, urllib.request
urls, ids = sys.argv[1:5], sys.argv[5:]
def get(u):
    with urllib.request.urlopen(u, timeout=10) as r: return json.load(r)
deadline = time.time() + 60
for u in urls:
    for i in ids:
        while get(u + "/v1/records/" + i)["status"] != "valid":
            if time.time() > deadline: sys.exit("%s not valid on %s" % (i, u))
            time.sleep(0.3)
PY

# Read everything back through every API, capturing each answer.
python3 - "$OUT" "$(tb_url 0)" "$(tb_url 1)" "$(tb_url 2)" "$(tb_url 3)" "${RIDS[@]}" <<'PY' || tb_fail "read back"
import json, sys, urllib.request, urllib.error
out, urls, ids = sys.argv[1], sys.argv[2:6], sys.argv[6:]
n = 0
def cap(u):
    global n
    try:
        with urllib.request.urlopen(u, timeout=10) as r: raw = r.read()
    except urllib.error.HTTPError as e: raw = e.read()
    n += 1
    open("%s/api-%04d.out" % (out, n), "wb").write(raw)
    return raw
for k, u in enumerate(urls):
    top = json.loads(cap(u + "/v1/status"))["height"]
    for p in ("/v1/members", "/v1/agencies", "/metrics", "/v1/openapi.json"):
        cap(u + p)
    for h in range(1, top + 1):
        cap("%s/v1/blocks/%d" % (u, h))
    for i in ids:
        cap(u + "/v1/records/" + i)
        cap(u + "/v1/tx/" + i)
print("%d answers captured" % n, file=sys.stderr)
PY
for k in 0 1 2 3 4 5 6 7 8 9; do
  c=$((k % 4))
  "$TB" records --node "$(tb_url $(((c + 1) % 4)))" --key "$TB_WORK/agency-$c.key" \
    --city "${C[$c]}" --agency "ag$c" --subject-key "$TB_WORK/subject.key" \
    --id-number "$(typed $k)" >"$OUT/records-$k.json" 2>"$OUT/records-$k.err" ||
    { cat "$OUT/records-$k.err" >&2; tb_fail "tongban records $k"; }
done
python3 - "$OUT" "${RIDS[@]}" <<'PY' || tb_fail "subject lists"
import json, sys
out, ids = sys.argv[1], sys.argv[2:]
for k in range(10):
    d = json.load(open("%s/records-%d.json" % (out, k)))
    got = [r["id"] for r in d["records"]]
    assert got == [ids[k]], (k, got, ids[k])
PY
tb_log "read back through every API; each subject's list (signed, by ID number) holds its record"
for i in 0 1 2 3; do kill -TERM "${TB_PIDS[$i]}" 2>/dev/null || true; done
sleep 1
for i in 0 1 2 3; do tb_node_kill "$i" KILL; done

# The scan, its controls, and the planted file.
NOID_IDS="${IDS[*]}" NOID_TYPED="$(for k in 0 1 2 3 4 5 6 7 8 9; do typed $k; echo; done)" \
python3 - "$TB_WORK" <<'PY' || tb_fail "ID numbers found (above)"
import hashlib, hmac, os, sys
work = sys.argv[1]
ids = os.environ.pop("NOID_IDS").split(" ")
typed = [t for t in os.environ.pop("NOID_TYPED").split("\n") if t]
pats = set()
for i in ids:
    for x in (i, i.lower(), i[:6] + i[8:17], i[:17], "%s %s %s" % (i[:6], i[6:14], i[14:]),
              "%s-%s-%s" % (i[:6], i[6:14], i[14:]), "%s %s %s %s" % (i[:6], i[6:10], i[10:14], i[14:])):
        pats.add(x.encode())
        pats.add(x.encode("utf-16-le"))
for t in typed:
    pats.add(t.encode())
def files():
    for root, _, names in os.walk(work):
        for n in names:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p): yield p
def scan():
    hits, count, size = [], 0, 0
    for p in files():
        data = open(p, "rb").read()
        count += 1; size += len(data)
        for pat in pats:
            if pat in data: hits.append((p, pat))
    return hits, count, size
hits, count, size = scan()
for p, pat in hits:
    print("FOUND an ID number form (%d bytes) in %s" % (len(pat), p), file=sys.stderr)
kinds = {}
for p in files():
    k = "lmdb" if p.endswith(".mdb") else "log" if p.endswith(".log") else \
        "answer" if "/captured/" in p else "other"
    kinds[k] = kinds.get(k, 0) + 1
print("scanned %d files, %d bytes (%s) for %d patterns: %d hits" %
      (count, size, ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items())), len(pats),
       len(hits)), file=sys.stderr)
if hits: sys.exit(1)
assert kinds.get("lmdb", 0) >= 8 and kinds.get("log", 0) >= 4 and kinds.get("answer", 0) >= 50, kinds
# Control 1: the subjects (HMAC-SHA256 under the subject key of the normalised number, a 15-digit
# one in its 18-character form: D23) ARE in
# every node's LMDB file, as raw bytes, and their hex IS in the captured answers.
key = open(os.path.join(work, "subject.key"), "rb").read()
def norm(t):
    t = t.replace(" ", "").replace("-", "")
    t = t[:-1] + "X" if t.endswith("x") else t
    if len(t) == 15:  # keyed as the 18-character number (D23): century 19, check character
        t = t[:6] + "19" + t[6:]
        w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        t += "10X98765432"[sum(int(d) * x for d, x in zip(t, w)) % 11]
    return t
subjects = [hmac.new(key, norm(t).encode(), hashlib.sha256).digest() for t in typed]
for c in range(4):
    data = open(os.path.join(work, "c%d" % c, "data", "data.mdb"), "rb").read()
    missing = [s.hex() for s in subjects if s not in data]
    assert not missing, ("control: subject bytes not in node %d's LMDB file" % c, missing)
answers = b"".join(open(p, "rb").read() for p in files() if "/captured/" in p)
assert all(s.hex().encode() in answers for s in subjects), "control: subject hex not in the answers"
# Control 2: a planted copy of one number is found.
plant = os.path.join(work, "c0", "planted.txt")
open(plant, "w").write("x" + ids[3] + "y")
hits, _, _ = scan()
os.remove(plant)
assert [p for p, _ in hits] and all(p == plant for p, _ in hits), ("control: planted number", hits)
print("controls: 10 subjects found as raw bytes in 4 LMDB files and as hex in the answers; "
      "a planted number found (%d forms)" % len(hits), file=sys.stderr)
PY
tb_log "PASS cluster_no_idnumbers in $((SECONDS - t0)) s"
