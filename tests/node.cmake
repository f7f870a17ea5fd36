# Tests of node/ and the tongban binary.

# cli
add_test(NAME cli_foundation COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cli_foundation.sh
  $<TARGET_FILE:tongban>)
set_tests_properties(cli_foundation PROPERTIES LABELS "e2e" TIMEOUT 300)
# store
tb_unit_test(test_node_store SOURCES unit/test_node_store.c LIBS tb_store tb_crypto tb_base
  LABELS unit)
# net
tb_unit_test(test_node_http SOURCES unit/test_node_http.c LIBS tb_http tb_testlib_tls tb_base
  PkgConfig::LIBEVENT PkgConfig::JANSSON PkgConfig::OPENSSL LABELS unit)
tb_unit_test(test_node_peer SOURCES unit/test_node_peer.c LIBS tb_peer tb_http tb_testlib_tls
  tb_base PkgConfig::LIBEVENT PkgConfig::JANSSON PkgConfig::OPENSSL LABELS unit)

# ledger
tb_unit_test(test_node_ledger SOURCES unit/test_node_ledger.c LIBS tb_ledger tb_testlib_chain)

# qr
tb_unit_test(test_node_qr SOURCES unit/test_node_qr.c LIBS tb_qr tb_base PkgConfig::QRENCODE
  LABELS unit)
tb_fuzz_target(fuzz_qr_uri fuzz/fuzz_qr_uri.c tb_qr tb_base)

# e2e
add_test(NAME cli_commands COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cli_commands.sh
  $<TARGET_FILE:tongban>)
set_tests_properties(cli_commands PROPERTIES LABELS "e2e" TIMEOUT 300)
add_test(NAME cli_stand_in COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cli_stand_in.sh
  $<TARGET_FILE:tongban>)
set_tests_properties(cli_stand_in PROPERTIES LABELS "e2e" TIMEOUT 300)
foreach(suite ed25519-sha256 sm2-sm3)
  add_test(NAME demo_once_${suite} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/demo_once.sh
    $<TARGET_FILE:tongban> ${suite})
  # The demo prefers ports 7101-7104: never two demos at once.
  set_tests_properties(demo_once_${suite} PROPERTIES LABELS "e2e" TIMEOUT 300
    RESOURCE_LOCK tongban_demo_ports)
endforeach()
foreach(suite ed25519-sha256 sm2-sm3)
  # 4 nodes, 1,000 records (TB_E2E_RECORDS), kill -9 under load, proposer kill, full restart.
  add_test(NAME cluster_records_${suite} COMMAND bash
    ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_records.sh $<TARGET_FILE:tongban> ${suite})
  set_tests_properties(cluster_records_${suite} PROPERTIES LABELS "e2e" TIMEOUT 900)
endforeach()
foreach(suite ed25519-sha256 sm2-sm3)
  # 4 nodes: bundles from another city verified offline, tampering, revoke/stale/expired,
  # another federation, consistency proofs between many heights, QR codes, POST /v1/verify.
  add_test(NAME cluster_proofs_${suite} COMMAND bash
    ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_proofs.sh $<TARGET_FILE:tongban> ${suite})
  set_tests_properties(cluster_proofs_${suite} PROPERTIES LABELS "e2e" TIMEOUT 300)
endforeach()

# nodecore
add_executable(txgen e2e/txgen.c)
target_link_libraries(txgen PRIVATE tb_config tb_wire tb_crypto tb_base)
tb_warnings(txgen)
add_test(NAME cluster_basic COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_basic.sh
  $<TARGET_FILE:tongban> $<TARGET_FILE:txgen>)
set_tests_properties(cluster_basic PROPERTIES LABELS "e2e" TIMEOUT 120)
tb_unit_test(test_node_mempool SOURCES unit/test_node_mempool.c LIBS tb_node LABELS unit)
tb_unit_test(test_node_peer_msg SOURCES unit/test_node_peer_msg.c LIBS tb_wire tb_base
  LABELS unit)
tb_unit_test(test_node_wal SOURCES unit/test_node_wal.c LIBS tb_node LABELS unit)
tb_unit_test(test_node_sync SOURCES unit/test_node_sync.c LIBS tb_node LABELS unit)
tb_unit_test(test_node_log SOURCES unit/test_node_log.c LIBS tb_node PkgConfig::JANSSON
  LABELS unit)

# api: the agency request gate (node/api_auth.h) over a real store and ledger
tb_unit_test(test_node_api_auth SOURCES unit/test_node_api_auth.c LIBS tb_api tb_ledger tb_store tb_testlib_chain
  tb_wire tb_crypto tb_config tb_base LABELS unit)
# api
tb_unit_test(test_node_api SOURCES unit/test_node_api.c LIBS tb_api tb_http tb_ledger tb_store tb_testlib_chain
  tb_wire tb_crypto tb_config tb_base PkgConfig::LIBEVENT PkgConfig::JANSSON LABELS unit)

# proof bundles (node/proof.h)
tb_unit_test(test_node_proof SOURCES unit/test_node_proof.c LIBS tb_proof tb_testlib_chain LABELS unit)
tb_fuzz_target(fuzz_proof_bundle fuzz/fuzz_proof_bundle.c tb_proof)

# auth: signed agency reads, the authorisation matrix, no ID numbers anywhere (issue 6)
add_executable(httpsig_sign e2e/httpsig_sign.c)
target_link_libraries(httpsig_sign PRIVATE tb_crypto tb_base)
tb_warnings(httpsig_sign)
foreach(suite ed25519-sha256 sm2-sm3)
  add_test(NAME cluster_authz_${suite} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_authz.sh
    $<TARGET_FILE:tongban> $<TARGET_FILE:httpsig_sign> ${suite})
  set_tests_properties(cluster_authz_${suite} PROPERTIES LABELS "e2e" TIMEOUT 300)
endforeach()
add_test(NAME cluster_no_idnumbers COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_no_idnumbers.sh
  $<TARGET_FILE:tongban> $<TARGET_FILE:httpsig_sign>)
set_tests_properties(cluster_no_idnumbers PROPERTIES LABELS "e2e" TIMEOUT 300)
# `tongban verify --offline` on bundles and genesis files the test writes (every exit status)
add_test(NAME proof_cli COMMAND test_node_proof --cli $<TARGET_FILE:tongban>)
set_tests_properties(proof_cli PROPERTIES LABELS "e2e" TIMEOUT 120)

# mutual TLS between members (issue 6): 4 nodes over mTLS, every refusal at the header phase
add_executable(tlsgen e2e/tlsgen.c)
target_link_libraries(tlsgen PRIVATE tb_config tb_crypto tb_base)
tb_warnings(tlsgen)
add_test(NAME cluster_tls COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_tls.sh
  $<TARGET_FILE:tongban> $<TARGET_FILE:tlsgen>)
set_tests_properties(cluster_tls PROPERTIES LABELS "e2e" TIMEOUT 180)

# data sharing with consent (issue 6 items 1-4): documents at home, tokens, fetch, access log
tb_unit_test(test_node_docstore SOURCES unit/test_node_docstore.c LIBS tb_api LABELS unit)
foreach(suite ed25519-sha256 sm2-sm3)
  add_test(NAME cluster_consent_${suite} COMMAND bash
    ${CMAKE_SOURCE_DIR}/tests/e2e/cluster_consent.sh $<TARGET_FILE:tongban>
    $<TARGET_FILE:httpsig_sign> ${suite})
  set_tests_properties(cluster_consent_${suite} PROPERTIES LABELS "e2e" TIMEOUT 300)
endforeach()
