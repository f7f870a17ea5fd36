#!/usr/bin/env bash
# The foundation's CLI, run for real: keygen (both suites, passphrase), genesis from member
# descriptors, chain-id, help texts, usage errors, and the demo walk-through.
# usage: cli_foundation.sh PATH/TO/tongban
set -euo pipefail
tb=$1
work=$(mktemp -d /tmp/tongban-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { # expected-status command...
  local want=$1; shift
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, want $want"; }
}

# --help works everywhere and exits 0.
for cmd in keygen genesis chain-id demo; do
  expect_status 0 "$tb" "$cmd" --help
  grep -q "usage: tongban $cmd" "$work/out" || fail "$cmd --help has no usage line"
done
expect_status 0 "$tb" --help
expect_status 2 "$tb" no-such-command
expect_status 2 "$tb" keygen
expect_status 2 "$tb" keygen --suite rsa --out "$work/x.key"
grep -q "unknown suite 'rsa'" "$work/err" || fail "unknown suite message"

for suite in ed25519-sha256 sm2-sm3; do
  d="$work/$suite"; mkdir -p "$d"
  for city in 371500 370100 370900; do
    expect_status 0 "$tb" keygen --suite "$suite" --out "$d/$city.key"
    [ "$(stat -c %a "$d/$city.key")" = 600 ] || fail "private key mode is not 0600"
    grep -q "BEGIN PRIVATE KEY" "$d/$city.key" || fail "not a PKCS#8 PEM"
    hex=$(cat "$d/$city.key.pub")
    want=64; [ "$suite" = sm2-sm3 ] && want=130
    [ ${#hex} -eq $want ] || fail "$suite public key hex has ${#hex} digits, want $want"
    printf '{"city": "%s", "name": "城市%s", "node_key": "%s", "endpoint": "http://127.0.0.1:7%s"}\n' \
      "$city" "$city" "$hex" "${city:0:3}" >"$d/$city.json"
  done
  # The same key file is not overwritten without --force.
  expect_status 1 "$tb" keygen --suite "$suite" --out "$d/371500.key"
  grep -q "exists" "$work/err" || fail "overwrite refusal message"

  types=(--type provident.deposit:consent --type police.no-criminal-record:closed)
  expect_status 0 "$tb" genesis --federation "黄河" --suite "$suite" --created-at 1790000000 \
    --member "$d/371500.json" --member "$d/370100.json" --member "$d/370900.json" \
    "${types[@]}" --out "$d/genesis.json"
  printed=$(awk '/^chain id/ {print $3}' "$work/out")
  expect_status 0 "$tb" chain-id "$d/genesis.json"
  [ "$(cat "$work/out")" = "$printed" ] || fail "chain-id differs from what genesis printed"
  # Member order on the command line does not change the chain id.
  expect_status 0 "$tb" genesis --federation "黄河" --suite "$suite" --created-at 1790000000 \
    --member "$d/370900.json" --member "$d/371500.json" --member "$d/370100.json" \
    "${types[@]}" --out "$d/genesis2.json"
  cmp -s "$d/genesis.json" "$d/genesis2.json" || fail "genesis depends on member order"
  # Reformatting the JSON does not change the chain id; changing a field does.
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); json.dump(d, open(sys.argv[2],"w"), ensure_ascii=True)' \
    "$d/genesis.json" "$d/compact.json"
  expect_status 0 "$tb" chain-id "$d/compact.json"
  [ "$(cat "$work/out")" = "$printed" ] || fail "chain id depends on JSON formatting"
  sed 's/"federation": "黄河"/"federation": "黄河2"/' "$d/genesis.json" >"$d/other.json"
  expect_status 0 "$tb" chain-id "$d/other.json"
  [ "$(cat "$work/out")" != "$printed" ] || fail "chain id ignores the federation name"
  # Duplicate cities are refused with a message naming the problem.
  expect_status 1 "$tb" genesis --federation F --suite "$suite" --member "$d/371500.json" \
    --member "$d/371500.json" "${types[@]}" --out "$d/dup.json"
  grep -qi "371500" "$work/err" || fail "duplicate city message does not name the city"
  # A key of the other suite is refused.
  other=sm2-sm3; [ "$suite" = sm2-sm3 ] && other=ed25519-sha256
  expect_status 1 "$tb" genesis --federation F --suite "$other" --member "$d/371500.json" \
    "${types[@]}" --out "$d/wrong.json"
done

# An encrypted key: a passphrase file is used; the PEM is encrypted.
printf 'correct horse\n' >"$work/pass"
expect_status 0 "$tb" keygen --suite sm2-sm3 --out "$work/enc.key" --passphrase-file "$work/pass"
grep -q "ENCRYPTED PRIVATE KEY" "$work/enc.key" || fail "key with passphrase is not encrypted"
openssl pkey -in "$work/enc.key" -passin pass:"correct horse" -noout || fail "openssl cannot read it"

# The demo walk-through completes in both suites and never prints the citizen's ID number.
expect_status 0 "$tb" demo --offline --once
grep -q "demo complete" "$work/out" || fail "demo did not complete"
grep -c "verified" "$work/out" | grep -q '^6$' || fail "demo did not verify 6 proofs"
if grep -q "371502199001011234" "$work/out" "$work/err"; then fail "demo printed an ID number"; fi
echo "cli_foundation: ok"
