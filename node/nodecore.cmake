# node/ core: the running node (node.h): loop, consensus driver, mempool, peer API, block sync,
# logs and metrics. Included from node/CMakeLists.txt after api.cmake.
add_library(tb_node STATIC
  ${CMAKE_CURRENT_LIST_DIR}/node.c
  ${CMAKE_CURRENT_LIST_DIR}/admit.c
  ${CMAKE_CURRENT_LIST_DIR}/driver.c
  ${CMAKE_CURRENT_LIST_DIR}/mempool.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_api.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_documents.c
  ${CMAKE_CURRENT_LIST_DIR}/commit_watch.c
  ${CMAKE_CURRENT_LIST_DIR}/node_tls.c
  ${CMAKE_CURRENT_LIST_DIR}/sync.c
  ${CMAKE_CURRENT_LIST_DIR}/log.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
)
target_include_directories(tb_node PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_node PUBLIC tb_api tb_ledger tb_store tb_http tb_peer tb_consensus
  tb_config tb_wire tb_crypto tb_base PkgConfig::LIBEVENT PkgConfig::JANSSON)
tb_warnings(tb_node CONVERSION)
