#!/usr/bin/env bash
# The CLI's node-facing commands, offline: init (files, modes, refusal to overwrite), the
# genesis's subject key, and `issue`/`revoke --out` checked INDEPENDENTLY of our code: a small
# MessagePack reader in Python decodes the envelope, Python's hashlib/hmac recompute the
# subject and the record id, and the openssl command line verifies the signature (Ed25519, or
# SM2 with SM3 and the pinned distinguishing ID). Also: --help everywhere, usage errors, and
# the ID number never appearing in any output or file.
# usage: cli_commands.sh PATH/TO/tongban
set -euo pipefail
tb=$1
work=$(mktemp -d /tmp/tongban-clicmd.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { # expected-status command...
  local want=$1; shift
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, want $want"; }
}
id_number=11010519491231002X   # a made-up number with a valid GB 11643 check character

for cmd in init issue revoke status; do
  expect_status 0 "$tb" "$cmd" --help
  grep -q "usage: tongban $cmd" "$work/out" || fail "$cmd --help has no usage line"
done
expect_status 0 "$tb" agency --help
grep -q "usage: tongban agency add" "$work/out" || fail "agency --help has no usage line"
expect_status 2 "$tb" agency remove
expect_status 2 "$tb" init --city 371500 --name x --dir "$work/x" --listen nohost
expect_status 2 "$tb" init --city 371500 --name x --dir "$work/x" --listen 127.0.0.1:7000 --suite rsa
expect_status 2 "$tb" status
expect_status 2 "$tb" status --node http://127.0.0.1:1 not-a-record-id
expect_status 1 "$tb" status --node http://127.0.0.1:1   # nothing listens on port 1
grep -q "127.0.0.1" "$work/err" || fail "connection failure does not name the node"

check_envelope() { # suite chain_id_hex envelope pubkey.pem subject_key id_number_or_subject kind dir [document]
  python3 - "$@" <<'EOF'
import hashlib, hmac, subprocess, sys, tempfile, os
suite, chain_hex, env_path, pub_pem, skey_path, who, kind_want, out_dir = sys.argv[1:9]
doc = open(sys.argv[9], 'rb').read() if len(sys.argv) > 9 else b''
H = 'sha256' if suite == 'ed25519-sha256' else 'sm3'
data = open(env_path, 'rb').read()
pos = 0
def take(n):
    global pos
    b = data[pos:pos + n]; assert len(b) == n, 'truncated'; pos += n; return b
def uint(n): return int.from_bytes(take(n), 'big')
def dec():
    t = take(1)[0]
    if t <= 0x7f: return t
    if 0x90 <= t <= 0x9f: return [dec() for _ in range(t & 15)]
    if 0x80 <= t <= 0x8f: return {dec(): dec() for _ in range(t & 15)}
    if 0xa0 <= t <= 0xbf: return take(t & 31).decode()
    if t == 0xd9: return take(uint(1)).decode()
    if t == 0xda: return take(uint(2)).decode()
    if t == 0xc4: return take(uint(1))
    if t == 0xc5: return take(uint(2))
    if t in (0xcc, 0xcd, 0xce, 0xcf): return uint({0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t])
    if t == 0xdc: return [dec() for _ in range(uint(2))]
    raise SystemExit('unexpected msgpack byte %#x' % t)
env = dec(); assert pos == len(data), 'trailing bytes'
kind, body, sigs = env
assert kind == int(kind_want), 'kind %d' % kind
assert len(sigs) == 1
chain = bytes.fromhex(chain_hex)
msg = b'tongban/sig/v1\0' + chain + bytes([kind]) + body
with open(os.path.join(out_dir, 'msg'), 'wb') as f: f.write(msg)
with open(os.path.join(out_dir, 'sig'), 'wb') as f: f.write(sigs[0][1])
args = ['openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', pub_pem, '-rawin',
        '-in', os.path.join(out_dir, 'msg'), '-sigfile', os.path.join(out_dir, 'sig')]
if suite == 'sm2-sm3': args += ['-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678']
subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
pos = 0; data = body; fields = dec(); assert pos == len(body), 'trailing bytes in body'
tx_id = hashlib.new(H, b'tongban/tx/v1\0' + chain + bytes([kind]) + body).hexdigest()
if kind == 1:
    typ, city, agency, subject, issued_at, expires_at, claims, digest, nonce = fields
    key = open(skey_path, 'rb').read()
    if len(who) == 64: want = bytes.fromhex(who)
    else: want = hmac.new(key, who.encode(), H).digest()
    assert subject == want, 'subject is not HMAC(subject key, ID number)'
    assert digest == hashlib.new(H, doc).digest(), 'doc_digest is not H(document)'
    assert len(nonce) == 16
    print(typ, city, agency, sorted(claims.items()), expires_at)
else:
    print(fields[0].hex(), fields[1])
print('id', tx_id)
EOF
}

for suite in ed25519-sha256 sm2-sm3; do
  d="$work/$suite"; mkdir -p "$d"
  port=7210
  for city in 371500 370100; do
    port=$((port + 1))
    expect_status 0 "$tb" init --city "$city" --name "城市$city" --dir "$d/$city" \
      --listen 127.0.0.1:$port --suite "$suite"
    for f in node.key document.key node.ini member.json; do [ -f "$d/$city/$f" ] || fail "no $f"; done
    [ "$(stat -c %a "$d/$city/node.key")" = 600 ] || fail "node.key mode"
    [ "$(stat -c %a "$d/$city/document.key")" = 600 ] || fail "document.key mode"
    [ "$(stat -c %s "$d/$city/document.key")" = 32 ] || fail "document.key size"
    # Mutual TLS by default, also on loopback (issue 6); --no-tls below.
    grep -q "\"endpoint\": \"https://127.0.0.1:$port\"" "$d/$city/member.json" || fail "endpoint"
    grep -q "^tls = on" "$d/$city/node.ini" || fail "init without tls = on"
    [ "$(stat -c %a "$d/$city/tls.key")" = 600 ] || fail "tls.key mode"
    [ -s "$d/$city/tls.crt" ] || fail "no tls.crt"
    grep -q "^listen = 127.0.0.1:$port" "$d/$city/node.ini" || fail "listen address"
  done
  # --no-tls: plain HTTP between nodes, loopback only.
  expect_status 0 "$tb" init --city 370900 --name x --dir "$d/plain" --listen 127.0.0.1:7219 \
    --suite "$suite" --no-tls
  grep -q "^tls = off" "$d/plain/node.ini" || fail "--no-tls without tls = off"
  grep -q "\"endpoint\": \"http://127.0.0.1:7219\"" "$d/plain/member.json" || fail "--no-tls endpoint"
  expect_status 2 "$tb" init --city 370900 --name x --dir "$d/plain2" --listen 10.0.0.1:7219 \
    --suite "$suite" --no-tls
  # An existing node key is never overwritten.
  cp "$d/371500/node.key" "$work/keep"
  expect_status 1 "$tb" init --city 371500 --name x --dir "$d/371500" --listen 127.0.0.1:7300 \
    --suite "$suite"
  grep -q "exists" "$work/err" || fail "init overwrite refusal message"
  cmp -s "$work/keep" "$d/371500/node.key" || fail "init overwrote the node key"

  expect_status 0 "$tb" genesis --federation "测试" --suite "$suite" --member "$d/371500/member.json" \
    --member "$d/370100/member.json" --type provident.deposit:consent --out "$d/genesis.json"
  [ "$(stat -c %a "$d/subject.key")" = 600 ] || fail "subject.key mode"
  [ "$(stat -c %s "$d/subject.key")" = 32 ] || fail "subject.key size"
  cp "$d/subject.key" "$work/skey"
  expect_status 0 "$tb" genesis --federation "测试" --suite "$suite" --member "$d/371500/member.json" \
    --member "$d/370100/member.json" --type provident.deposit:consent --out "$d/genesis2.json"
  cmp -s "$work/skey" "$d/subject.key" || fail "subject key replaced without --force"
  expect_status 0 "$tb" genesis --federation "测试" --suite "$suite" --member "$d/371500/member.json" \
    --member "$d/370100/member.json" --type provident.deposit:consent --out "$d/genesis2.json" \
    --force --subject-key-out "$d/other.key"
  ! cmp -s "$d/subject.key" "$d/other.key" || fail "two subject keys are equal"
  chain=$("$tb" chain-id "$d/genesis.json")

  expect_status 0 "$tb" keygen --suite "$suite" --out "$d/agency.key"
  openssl pkey -in "$d/agency.key" -pubout -out "$d/agency.pub.pem"
  head -c 50000 /dev/urandom >"$d/doc.txt"   # larger than one read chunk
  expect_status 0 "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf \
    --type provident.deposit --id-number "$id_number" --subject-key "$d/subject.key" \
    --claim employer=聊城某公司 --uint-claim balance_fen=12345600 --expires-at 1900000000 \
    --document "$d/doc.txt" --genesis "$d/genesis.json" --out "$d/issue.bin"
  printed=$(awk '/^record id/ {print $3}' "$work/out")
  check_envelope "$suite" "$chain" "$d/issue.bin" "$d/agency.pub.pem" "$d/subject.key" \
    "$id_number" 1 "$d" "$d/doc.txt" >"$work/py"
  grep -q "provident.deposit 371500 hpf \[('balance_fen', 12345600), ('employer', '聊城某公司')\] 1900000000" \
    "$work/py" || { cat "$work/py"; fail "decoded body differs"; }
  [ "$(awk '/^id/ {print $2}' "$work/py")" = "$printed" ] || fail "record id differs from H(tx)"
  # The ID number from standard input gives the same subject.
  echo "$id_number" | "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf \
    --type provident.deposit --id-number - --subject-key "$d/subject.key" \
    --genesis "$d/genesis.json" --out "$d/issue2.bin" >/dev/null
  check_envelope "$suite" "$chain" "$d/issue2.bin" "$d/agency.pub.pem" "$d/subject.key" \
    "$id_number" 1 "$d" >/dev/null
  # A keyed subject given directly.
  subject=$(python3 -c "import hmac,sys; print(hmac.new(open(sys.argv[1],'rb').read(), sys.argv[2].encode(), 'sha256' if sys.argv[3]=='ed25519-sha256' else 'sm3').hexdigest())" \
    "$d/subject.key" "$id_number" "$suite")
  expect_status 0 "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf \
    --type provident.deposit --subject "$subject" --genesis "$d/genesis.json" --out "$d/issue3.bin"
  check_envelope "$suite" "$chain" "$d/issue3.bin" "$d/agency.pub.pem" "$d/subject.key" \
    "$subject" 1 "$d" >/dev/null
  # Tampering is caught by the independent check (so the check can fail).
  python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[-3]^=1; open(sys.argv[2],'wb').write(b)" \
    "$d/issue.bin" "$d/bad.bin"
  if check_envelope "$suite" "$chain" "$d/bad.bin" "$d/agency.pub.pem" "$d/subject.key" \
    "$id_number" 1 "$d" "$d/doc.txt" >/dev/null 2>&1; then fail "a tampered envelope passed the check"; fi
  expect_status 0 "$tb" revoke --key "$d/agency.key" --record "$printed" --reason "签发错误" \
    --genesis "$d/genesis.json" --out "$d/revoke.bin"
  check_envelope "$suite" "$chain" "$d/revoke.bin" "$d/agency.pub.pem" "$d/subject.key" x 2 "$d" \
    >"$work/py"
  grep -q "^$printed 签发错误" "$work/py" || fail "revocation body"
  # Usage errors and refusals.
  expect_status 2 "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf --type t \
    --id-number "$id_number" --subject "$subject" --genesis "$d/genesis.json" --out "$d/x.bin"
  expect_status 1 "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf --type t \
    --id-number 110105194912310028 --subject-key "$d/subject.key" --genesis "$d/genesis.json" \
    --out "$d/x.bin"
  grep -q "check character" "$work/err" || fail "bad ID number message"
  if grep -rq 110105194912310028 "$work/out" "$work/err"; then fail "ID number printed"; fi
  expect_status 1 "$tb" issue --key "$d/agency.key" --city 371500 --agency hpf --type t \
    --subject "$subject" --claim a=1 --claim a=2 --genesis "$d/genesis.json" --out "$d/x.bin"
  grep -q "twice" "$work/err" || fail "duplicate claim message"
  other=sm2-sm3; [ "$suite" = sm2-sm3 ] && other=ed25519-sha256
  expect_status 0 "$tb" keygen --suite "$other" --out "$d/wrong.key"
  expect_status 1 "$tb" issue --key "$d/wrong.key" --city 371500 --agency hpf --type t \
    --subject "$subject" --genesis "$d/genesis.json" --out "$d/x.bin"
  grep -q "federation uses $suite" "$work/err" || fail "wrong-suite key message"
done
if grep -rqa "$id_number" "$work"; then fail "the ID number is in a file"; fi
echo "cli_commands: ok"
