# tb_warnings(target [CONVERSION]): the project's warning set; -Werror when TB_WERROR is ON.
function(tb_warnings target)
  cmake_parse_arguments(W "CONVERSION" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
    -Wimplicit-fallthrough -Wno-unused-parameter)
  if(W_CONVERSION)
    target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion)
  endif()
  if(TB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
