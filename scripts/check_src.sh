#!/usr/bin/env bash
# Source checks that reviewers should not have to make (curl's checksrc idea):
#  - banned calls everywhere: sprintf strcpy strcat strtok atoi gets;
#  - inside consensus/: no clock, randomness, heap or printing (the core is pure);
#  - each third-party library is included from its one module only;
#  - clang-format clean (when clang-format is installed).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
src=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')

banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\('
if grep -nE "$banned" $src | grep -v 'check_src: allow'; then
  echo "check_src: banned call above (use snprintf, memcpy with lengths, strtoul with checks)"
  status=1
fi

core=$(git ls-files 'consensus/*.c' 'consensus/*.h')
if [ -n "$core" ] && grep -nE '\b(time|clock_gettime|gettimeofday|rand|random|malloc|calloc|realloc|printf|fprintf)\s*\(' $core; then
  echo "check_src: consensus/ must stay pure: no clock, randomness, heap or printing"
  status=1
fi

check_include() { # header, allowed path regex
  local hits
  hits=$(grep -lE "#include\s*<$1" $src | grep -vE "$2" || true)
  if [ -n "$hits" ]; then
    echo "check_src: <$1...> included outside $2: $hits"
    status=1
  fi
}
check_include 'openssl/' '^(crypto/|tests/|bench/)'
check_include 'msgpack' '^(wire/|tests/|bench/)'
check_include 'jansson' '^(config/|node/|tests/|bench/)'
check_include 'ini\.h' '^(config/|tests/)'
check_include 'lmdb\.h' '^(node/store_lmdb\.c|tests/|bench/)'
check_include 'curl/' '^(node/peer\.c|tests/|bench/)'
check_include 'qrencode\.h' '^(node/qr\.c|tests/|bench/)'

if command -v clang-format >/dev/null 2>&1; then
  if ! clang-format --dry-run -Werror $src 2>/tmp/tongban-format.log; then
    head -n 20 /tmp/tongban-format.log
    echo "check_src: formatting differs; run: clang-format -i \$(git ls-files '*.c' '*.h')"
    status=1
  fi
fi
[ $status -eq 0 ] && echo "check_src: ok"
exit $status
