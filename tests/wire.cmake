# Tests of wire/ (owned by whoever works on wire/).
tb_unit_test(test_wire SOURCES unit/test_wire.c LIBS tb_wire tb_crypto LABELS unit veryquick)
tb_unit_test(test_wire_reject SOURCES unit/test_wire_reject.c LIBS tb_wire LABELS unit veryquick)
tb_unit_test(test_wire_roundtrip SOURCES unit/test_wire_roundtrip.c LIBS tb_wire
  LABELS unit veryquick)

# libFuzzer targets (TB_FUZZ=ON), or corpus replays under ctest otherwise. The seed corpus in
# tests/fuzz/corpus/fuzz_wire_*/ is written by `test_wire --write-corpus tests/fuzz/corpus`.
tb_fuzz_target(fuzz_wire_tx fuzz/fuzz_wire_tx.c tb_wire)
tb_fuzz_target(fuzz_wire_block fuzz/fuzz_wire_block.c tb_wire)
tb_fuzz_target(fuzz_wire_consensus fuzz/fuzz_wire_consensus.c tb_wire)
tb_fuzz_target(fuzz_wire_misc fuzz/fuzz_wire_misc.c tb_wire)
tb_fuzz_target(fuzz_wire_peer fuzz/fuzz_wire_peer.c tb_wire tb_base)
