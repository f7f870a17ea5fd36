# Tests of crypto/ (owned by whoever works on crypto/).
# --- signatures, keys, PEM, AEAD, hashes (crypto engineer) ---
tb_unit_test(test_crypto_hash SOURCES unit/test_crypto_hash.c LIBS tb_crypto
  LABELS unit vectors veryquick)
tb_unit_test(test_crypto_sign SOURCES unit/test_crypto_sign.c
  LIBS tb_crypto PkgConfig::OPENSSL LABELS unit vectors)
tb_unit_test(test_crypto_aead SOURCES unit/test_crypto_aead.c
  LIBS tb_crypto PkgConfig::OPENSSL LABELS unit vectors)
add_executable(interop_tool vectors/interop_tool.c)
target_link_libraries(interop_tool PRIVATE tb_crypto)
tb_warnings(interop_tool)
add_test(NAME crypto_interop
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/vectors/interop.sh $<TARGET_FILE:interop_tool>)
set_tests_properties(crypto_interop PROPERTIES LABELS "vectors" TIMEOUT 120)
# --- log tree and status tree (Merkle engineer) ---
tb_unit_test(test_crypto_log SOURCES unit/test_crypto_log.c LIBS tb_crypto LABELS unit vectors)
tb_unit_test(test_crypto_smt SOURCES unit/test_crypto_smt.c LIBS tb_crypto LABELS unit vectors)
tb_fuzz_target(fuzz_merkle_proof fuzz/fuzz_merkle_proof.c tb_crypto)
# --- signed agency requests and node TLS identities (authentication engineer) ---
tb_unit_test(test_crypto_httpsig SOURCES unit/test_crypto_httpsig.c LIBS tb_crypto
  LABELS unit vectors)
tb_unit_test(test_crypto_tls SOURCES unit/test_crypto_tls.c LIBS tb_crypto PkgConfig::OPENSSL
  LABELS unit)
tb_fuzz_target(fuzz_httpsig fuzz/fuzz_httpsig.c tb_crypto)
