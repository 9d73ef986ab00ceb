# mc_ort_peer: run a model in ONNX Runtime from C++ tests (through tests/peers/ort_run.js).
# Included from tests/support/CMakeLists.txt: include(${CMAKE_CURRENT_SOURCE_DIR}/ort_peer.cmake)
if(TARGET mcrt_npy AND TARGET mc_test_process)
  add_library(mc_ort_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/ort_peer.cpp)
  target_include_directories(mc_ort_peer PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(mc_ort_peer PUBLIC mcrt_npy PRIVATE mc_test_process)
  target_compile_definitions(mc_ort_peer PRIVATE MC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_compile_options(mc_ort_peer PRIVATE ${MC_WARNINGS})
endif()
