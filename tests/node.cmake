# Tests of node/ and the tongban binary.

# cli
add_test(NAME cli_foundation COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cli_foundation.sh
  $<TARGET_FILE:tongban>)
set_tests_properties(cli_foundation PROPERTIES LABELS "e2e" TIMEOUT 300)
# store
tb_unit_test(test_node_store SOURCES unit/test_node_store.c LIBS tb_store tb_crypto tb_base
  LABELS unit)
# net
tb_unit_test(test_node_http SOURCES unit/test_node_http.c LIBS tb_http tb_base PkgConfig::LIBEVENT
  PkgConfig::JANSSON PkgConfig::OPENSSL LABELS unit)
tb_unit_test(test_node_peer SOURCES unit/test_node_peer.c LIBS tb_peer tb_http tb_base
  PkgConfig::LIBEVENT PkgConfig::JANSSON PkgConfig::OPENSSL LABELS unit)

# ledger
tb_unit_test(test_node_ledger SOURCES unit/test_node_ledger.c LIBS tb_ledger)

# qr
tb_unit_test(test_node_qr SOURCES unit/test_node_qr.c LIBS tb_qr tb_base PkgConfig::QRENCODE
  LABELS unit)
tb_fuzz_target(fuzz_qr_uri fuzz/fuzz_qr_uri.c tb_qr tb_base)
