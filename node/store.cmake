# node/store: the LMDB storage layer (store.h). store_lmdb.c is the only LMDB user.
add_library(tb_store STATIC
  ${CMAKE_CURRENT_LIST_DIR}/store_lmdb.c
  ${CMAKE_CURRENT_LIST_DIR}/store_typed.c
  ${CMAKE_CURRENT_LIST_DIR}/store_writelog.c
  ${CMAKE_CURRENT_LIST_DIR}/store_trees.c
)
target_include_directories(tb_store PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_store PUBLIC tb_crypto tb_base PRIVATE PkgConfig::LMDB)
tb_warnings(tb_store CONVERSION)
