# Tests of config/ (owned by whoever works on config/).
tb_unit_test(test_config SOURCES unit/test_config.c LIBS tb_config LABELS unit veryquick)
tb_unit_test(test_config_genesis SOURCES unit/test_config_genesis.c
  LIBS tb_config tb_crypto PkgConfig::JANSSON LABELS unit veryquick)
tb_fuzz_target(fuzz_config fuzz/fuzz_config.c tb_config)
tb_fuzz_target(fuzz_genesis fuzz/fuzz_genesis.c tb_config)
