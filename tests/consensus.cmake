# Tests of consensus/ (owned by whoever works on consensus/).
tb_unit_test(test_consensus_core SOURCES unit/test_consensus_core.c LIBS tb_consensus
  LABELS unit veryquick)
tb_fuzz_target(fuzz_cs_step fuzz/fuzz_cs_step.c tb_consensus)
add_subdirectory(sim) # tests/sim: tongban-sim and its ctest registrations (owned by the sim work)
