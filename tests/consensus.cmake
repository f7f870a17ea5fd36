# Tests of consensus/ (owned by whoever works on consensus/).
tb_unit_test(test_consensus_core SOURCES unit/test_consensus_core.c LIBS tb_consensus
  LABELS unit veryquick)
