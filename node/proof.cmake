# node/proof: proof bundles (build from the store, JSON, offline verification; proof.h).
# Included from node/CMakeLists.txt before api.cmake: the API and the CLI link it.
add_library(tb_proof STATIC
  ${CMAKE_CURRENT_LIST_DIR}/proof.c
  ${CMAKE_CURRENT_LIST_DIR}/proof_json.c
  ${CMAKE_CURRENT_LIST_DIR}/proof_verify.c
)
target_include_directories(tb_proof PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_proof PUBLIC tb_ledger tb_store tb_wire tb_crypto tb_config tb_base
  PkgConfig::JANSSON)
tb_warnings(tb_proof CONVERSION)
