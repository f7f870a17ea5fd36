# node/ networking: the HTTP server (the only libevent-http user) and the peer client
# (the only libcurl user). Included from node/CMakeLists.txt.
add_library(tb_http STATIC ${CMAKE_CURRENT_LIST_DIR}/http.c)
target_include_directories(tb_http PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_http PUBLIC PkgConfig::JANSSON tb_base PRIVATE PkgConfig::LIBEVENT)
tb_warnings(tb_http CONVERSION)

add_library(tb_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/peer.c)
target_include_directories(tb_peer PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_peer PUBLIC tb_base PRIVATE tb_crypto PkgConfig::LIBEVENT PkgConfig::CURL)
tb_warnings(tb_peer CONVERSION)
