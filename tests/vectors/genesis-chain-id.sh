#!/bin/sh
# Computes the chain ids of genesis-ed25519.json and genesis-sm2.json independently of
# the C code: the DESIGN 3.3 genesis body is assembled here byte by byte (MessagePack
# headers written out by hand, members sorted by city and types sorted by type by hand),
# then hashed with `openssl dgst` after the tag "tongban/genesis/v1" and its zero byte.
# tests/unit/test_config_genesis.c pins the printed values; rerun this after a deliberate
# format change. Usage: sh tests/vectors/genesis-chain-id.sh
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fixstr (< 32 bytes) or str8: header then the UTF-8 bytes.
str() {
    n=$(printf '%s' "$1" | wc -c)
    if [ "$n" -lt 32 ]; then printf "\\$(printf '%03o' $((0xa0 + n)))"; else printf '\331'; printf "\\$(printf '%03o' "$n")"; fi
    printf '%s' "$1"
}
bin() { printf '\304'; printf "\\$(printf '%03o' $(( ${#1} / 2 )))"; printf '%s' "$1" | xxd -r -p; }

{
    printf '\225'                      # array of 5
    str "ed25519-sha256"
    str "山东通办联盟"
    printf '\316'; printf '%08x' 1767225600 | xxd -r -p   # uint32
    printf '\224'                      # 4 members, by city: JN LC QD ZB
    printf '\224'; str JN; str "济南"; bin e34382abb4e1a9ff6dafbf247f07d1d7f861ff7a74f0861fa2364a8480f5dc71; str "https://node.jn.example:7480"
    printf '\224'; str LC; str "聊城"; bin 2fd8a0c9a52b28ad7d7073d90bb231b0d71561322506a508c408281d42aa08d8; str "http://[fd00::3]:7480"
    printf '\224'; str QD; str "青岛"; bin 7b752494ed498aad50aa3fa973154cb3c3655aaa51f0fae9d11a4ee8dcea0893; str "https://node.qd.example:7480"
    printf '\224'; str ZB; str "淄博"; bin 0ffa3497ffb554ada1c737eb0151549e1e6cd29a468037e84128dea8f0968495; str "https://10.0.4.2:7480/tongban"
    printf '\224'                      # 4 types, sorted
    printf '\222'; str business.license; str open
    printf '\222'; str fund.deposit; str consent
    printf '\222'; str hukou.residence; str consent
    printf '\222'; str marriage.certificate; str closed
} > "$tmp/ed.body"

{
    printf '\225'
    str "sm2-sm3"
    str "Shandong tongban test federation"
    printf '\316'; printf '%08x' 1767225600 | xxd -r -p
    printf '\223'                      # 3 members, by city: BZ DZ LC
    printf '\224'; str BZ; str "滨州"; bin 0474757bfd742f449934254d25bd8aed6740c9052fd288b67aa536362faf4e75ac6d75ac2b5009d47db214bbc75586f2783d5ef9ad20ec06b71bb990ae0f269c24; str "https://bz.example:7480"
    printf '\224'; str DZ; str "德州"; bin 045a0d21cb1a5d81edc7876ad8941d7f311afa498227accec3de402f67ba349682d761556d29dbaf5b7956a00487e3210f298f8e31235e8fa2cbc741b6e60fe228; str "https://dz.example:7480"
    printf '\224'; str LC; str "聊城"; bin 04d97469d6531cb0f5acbf520953f1a3adea4e9966ba4ffa1edb86bd329cccb56647937a29097ab32638cbc6a7a14f400f16607f9100dfcfbad867db51a1df0fc6; str "https://lc.example:7480"
    printf '\222'                      # 2 types, sorted
    printf '\222'; str hukou.residence; str consent
    printf '\222'; str social.security; str consent
} > "$tmp/sm.body"

{ printf 'tongban/genesis/v1\000'; cat "$tmp/ed.body"; } | openssl dgst -sha256 -r | cut -d' ' -f1 | sed 's/^/ed25519-sha256 /'
{ printf 'tongban/genesis/v1\000'; cat "$tmp/sm.body"; } | openssl dgst -sm3 -r | cut -d' ' -f1 | sed 's/^/sm2-sm3 /'
echo "body sizes: $(wc -c < "$tmp/ed.body") $(wc -c < "$tmp/sm.body")"
