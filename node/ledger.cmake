# node/ledger: the deterministic state machine over the store (ledger.h).
add_library(tb_ledger STATIC
  ${CMAKE_CURRENT_LIST_DIR}/ledger.c
  ${CMAKE_CURRENT_LIST_DIR}/ledger_check.c
  ${CMAKE_CURRENT_LIST_DIR}/ledger_block.c
)
target_include_directories(tb_ledger PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_ledger PUBLIC tb_store tb_wire tb_config tb_crypto tb_base)
tb_warnings(tb_ledger CONVERSION)
