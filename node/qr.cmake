# node/qr: credential URIs and QR codes (qr.h). qr.c is the only libqrencode and libpng user;
# PkgConfig::QRENCODE covers both (top CMakeLists.txt).
add_library(tb_qr STATIC ${CMAKE_CURRENT_LIST_DIR}/qr.c)
target_include_directories(tb_qr PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(tb_qr PUBLIC tb_base PRIVATE PkgConfig::QRENCODE)
tb_warnings(tb_qr CONVERSION)
