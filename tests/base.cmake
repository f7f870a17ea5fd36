tb_unit_test(test_base SOURCES unit/test_base.c LIBS tb_base LABELS unit veryquick)
