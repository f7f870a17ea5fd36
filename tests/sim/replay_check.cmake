# Replay check for tongban-sim: one seed run twice, in two separate processes, must print the
# same trace hash; the next seed must print a different one (so the hash is not a constant).
# Usage: cmake -DSIM=<tongban-sim> -DNODES=<n> -DSEED=<s> -P replay_check.cmake
foreach(run a b c)
  set(seed ${SEED})
  if(run STREQUAL "c")
    math(EXPR seed "${SEED} + 1")
  endif()
  execute_process(COMMAND ${SIM} --nodes ${NODES} --seed ${seed} --count 1
    OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  string(REGEX MATCH "trace=[0-9a-f]+" trace_${run} "${out}")
  if(NOT trace_${run})
    message(FATAL_ERROR "no trace hash in the output of seed ${seed} (exit ${rc}):\n${out}")
  endif()
  message(STATUS "seed ${seed}: ${trace_${run}} (exit ${rc})")
endforeach()
if(NOT trace_a STREQUAL trace_b)
  message(FATAL_ERROR "seed ${SEED} is not deterministic: ${trace_a} then ${trace_b}")
endif()
if(trace_a STREQUAL trace_c)
  message(FATAL_ERROR "seeds ${SEED} and the next give one trace hash ${trace_a}")
endif()
