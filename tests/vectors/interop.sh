#!/usr/bin/env bash
# Interop of crypto/ with the openssl CLI, both ways, both suites (run by ctest).
#   usage: interop.sh PATH/TO/interop_tool
# Checks: our Ed25519/SM2 signatures verify with openssl; openssl's verify with us;
# keys made by `openssl genpkey` load; encrypted PKCS#8 PEM works both ways and a
# wrong passphrase gives TB_EPASS (exit 3); SM2 with another ID fails in both tools.
set -euo pipefail

tool=$(realpath "${1:?usage: interop.sh PATH/TO/interop_tool}")
work=$(mktemp -d "${TMPDIR:-/tmp}/tb-interop.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
unset INTEROP_PASS

pass=0
fail=0
check() { # check NAME EXPECTED_EXIT COMMAND...
    local name=$1 want=$2 got=0
    shift 2
    "$@" >out.txt 2>&1 || got=$?
    if [ "$got" = "$want" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name (exit $got, wanted $want)"
        sed 's/^/    /' out.txt
    fi
}

printf 'tongban interop message\n' >msg
printf 'tongban interop messagf\n' >msg2

# ---- Ed25519 ----
check "ed25519 keygen" 0 "$tool" keygen ed25519-sha256 ed.pem
openssl pkey -in ed.pem -pubout -out ed.pub
check "ed25519 sign" 0 "$tool" sign ed.pem msg ed.sig
check "ed25519 ours -> openssl" 0 \
    openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in msg -sigfile ed.sig
check "ed25519 ours -> openssl, other msg" 1 \
    openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in msg2 -sigfile ed.sig

openssl genpkey -algorithm ED25519 -out oed.pem
openssl pkey -in oed.pem -pubout -out oed.pub
openssl pkeyutl -sign -rawin -inkey oed.pem -in msg -out oed.sig
check "ed25519 openssl -> ours (pub pem)" 0 "$tool" verify oed.pub msg oed.sig
check "ed25519 openssl -> ours (private pem)" 0 "$tool" verify oed.pem msg oed.sig
check "ed25519 openssl -> ours, other msg" 1 "$tool" verify oed.pub msg2 oed.sig
check "ed25519 openssl key signs with us" 0 "$tool" sign oed.pem msg oed2.sig
cmp -s oed.sig oed2.sig && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: ed25519 signatures differ"; }

# ---- SM2 with SM3, ID 1234567812345678 ----
check "sm2 keygen" 0 "$tool" keygen sm2-sm3 sm2.pem
openssl pkey -in sm2.pem -pubout -out sm2.pub
check "sm2 sign" 0 "$tool" sign sm2.pem msg sm2.sig
check "sm2 ours -> openssl" 0 openssl dgst -sm3 -verify sm2.pub \
    -sigopt distid:1234567812345678 -signature sm2.sig msg
check "sm2 ours -> openssl, other msg" 1 openssl dgst -sm3 -verify sm2.pub \
    -sigopt distid:1234567812345678 -signature sm2.sig msg2
check "sm2 ours -> openssl, other ID" 1 openssl dgst -sm3 -verify sm2.pub \
    -sigopt distid:ALICE123@YAHOO.COM -signature sm2.sig msg

openssl genpkey -algorithm SM2 -out osm2.pem
openssl pkey -in osm2.pem -pubout -out osm2.pub
openssl dgst -sm3 -sign osm2.pem -sigopt distid:1234567812345678 -out osm2.sig msg
check "sm2 openssl -> ours (pub pem)" 0 "$tool" verify osm2.pub msg osm2.sig
check "sm2 openssl -> ours (private pem)" 0 "$tool" verify osm2.pem msg osm2.sig
check "sm2 openssl -> ours, other msg" 1 "$tool" verify osm2.pub msg2 osm2.sig
openssl dgst -sm3 -sign osm2.pem -sigopt distid:ALICE123@YAHOO.COM -out osm2-alice.sig msg
check "sm2 openssl other ID -> ours refuses" 1 "$tool" verify osm2.pub msg osm2-alice.sig
openssl ecparam -genkey -name SM2 -noout -out osm2-ec.pem
check "sm2 key from ecparam loads and signs" 0 "$tool" sign osm2-ec.pem msg osm2-ec.sig

openssl ec -in osm2.pem -conv_form compressed -out osm2-c.pem 2>/dev/null
openssl pkey -in osm2-c.pem -pubout -out osm2-c.pub
check "sm2 compressed-point public pem -> ours" 0 "$tool" verify osm2-c.pub msg osm2.sig

# ---- Encrypted PKCS#8 PEM, both ways ----
openssl genpkey -algorithm SM2 -aes-256-cbc -pass pass:s3cret-pw -out enc.pem
check "openssl encrypted pem, right passphrase" 0 env INTEROP_PASS=s3cret-pw "$tool" sign enc.pem msg enc.sig
check "openssl encrypted pem, wrong passphrase" 3 env INTEROP_PASS=nope "$tool" sign enc.pem msg enc.sig
check "openssl encrypted pem, no passphrase" 3 "$tool" sign enc.pem msg enc.sig
check "our encrypted pem" 0 env INTEROP_PASS=s3cret-pw "$tool" keygen ed25519-sha256 ourenc.pem
grep -q "BEGIN ENCRYPTED PRIVATE KEY" ourenc.pem && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: not encrypted"; }
check "openssl reads our encrypted pem" 0 openssl pkey -in ourenc.pem -passin pass:s3cret-pw -noout
check "openssl refuses wrong passphrase" 1 openssl pkey -in ourenc.pem -passin pass:nope -noout
check "our encrypted pem, wrong passphrase" 3 env INTEROP_PASS=nope "$tool" sign ourenc.pem msg x.sig
mode=$(stat -c %a ourenc.pem)
[ "$mode" = 600 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: mode $mode"; }

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
