# mcrun end to end: run a model the writer made; bad files must give exit code 2 and
# one line naming the file.  -DWRITER= -DMCRUN= -DEMULATOR= -DWORK=
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(model ${WORK}/cnn.mcrt)
execute_process(COMMAND ${EMULATOR} ${WRITER} ${model} ${WORK}/image.npy ${WORK}/bad_shape.npy RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "writer failed: ${rc}")
endif()

execute_process(COMMAND ${EMULATOR} ${MCRUN} ${model} --random --seed 3 --batch 2 --threads 2 --runs 3 --warmup 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mcrun failed (${rc})")
endif()
foreach(want "output prob float32 \\[2,10\\]" "argmax" "p50" "p90" "arena bytes" "weight bytes")
  if(NOT out MATCHES "${want}")
    message(FATAL_ERROR "mcrun output lacks '${want}'")
  endif()
endforeach()

# Inputs from .npy, outputs to .npy.
execute_process(COMMAND ${EMULATOR} ${MCRUN} ${model} --input image=${WORK}/image.npy --batch 2 --out-dir ${WORK}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/prob.npy)
  message(FATAL_ERROR "mcrun --input/--out-dir failed (${rc})")
endif()
file(SIZE ${WORK}/prob.npy npy_size)
if(NOT npy_size EQUAL 208)  # 128-byte header + 2*10 float32
  message(FATAL_ERROR "prob.npy has ${npy_size} bytes, expected 208")
endif()
execute_process(COMMAND ${EMULATOR} ${MCRUN} ${model} --input image=${WORK}/bad_shape.npy --batch 2
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "bad_shape.npy: shape")
  message(FATAL_ERROR "wrong-shape input: exit ${rc}, '${err}'")
endif()

# Garbage and truncated files: exit 2, one line naming the file.
file(WRITE ${WORK}/garbage.mcrt "this is not a model at all, not even close to one....................")
execute_process(COMMAND head -c 200 ${model} OUTPUT_FILE ${WORK}/truncated.mcrt)
foreach(bad garbage truncated missing)
  execute_process(COMMAND ${EMULATOR} ${MCRUN} ${WORK}/${bad}.mcrt RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  message(STATUS "${bad}: rc=${rc} ${err}")
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "mcrun on ${bad} file: exit ${rc}, expected 2")
  endif()
  if(NOT err MATCHES "${bad}.mcrt")
    message(FATAL_ERROR "error line does not name the file: ${err}")
  endif()
  string(REGEX MATCHALL "\n" lines "${err}")
  list(LENGTH lines nl)
  if(NOT nl EQUAL 0)
    message(FATAL_ERROR "expected one error line, got: ${err}")
  endif()
endforeach()
