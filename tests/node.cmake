# Tests of node/ and the tongban binary.

# cli
add_test(NAME cli_foundation COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/cli_foundation.sh
  $<TARGET_FILE:tongban>)
set_tests_properties(cli_foundation PROPERTIES LABELS "e2e" TIMEOUT 300)
