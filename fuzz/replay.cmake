# Included by tests/CMakeLists.txt in every tree with tests: the fuzz targets' bodies
# (fuzz/targets/*.cpp) linked without libFuzzer into fuzz_replay, and one ctest test per target
# (label unit) replaying every file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/. A
# missing or empty corpus fails the test. fuzz_make_seeds regenerates the generated seeds
# (docs/fuzzing.md). In the sanitizer tree (CGWD_FUZZ=ON) the bodies library of fuzz/ is reused.
set(fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
if(NOT TARGET cgwd_fuzz_bodies)
  file(GLOB fuzz_replay_bodies CONFIGURE_DEPENDS ${fuzz_dir}/targets/*.cpp)
  add_library(cgwd_fuzz_bodies STATIC ${fuzz_replay_bodies})
  target_link_libraries(cgwd_fuzz_bodies
                        PUBLIC cgwd::config cgwd::ike cgwd::bgp cgwd::dataplane cgwd::daemon
                        PRIVATE cgwd_warnings)
  target_compile_definitions(cgwd_fuzz_bodies PRIVATE
                             CGWD_FUZZ_FIXTURES="${CMAKE_SOURCE_DIR}/config/tests/fixtures")
endif()

add_executable(fuzz_replay ${fuzz_dir}/replay.cpp)
target_link_libraries(fuzz_replay PRIVATE cgwd_fuzz_bodies cgwd_warnings)
# The seed generator runs the stateful targets' scripts to check its seeds.
add_executable(fuzz_make_seeds ${fuzz_dir}/make_seeds.cpp)
target_link_libraries(fuzz_make_seeds PRIVATE cgwd_fuzz_bodies cgwd_warnings)

file(GLOB fuzz_entry_points CONFIGURE_DEPENDS ${fuzz_dir}/*_fuzz.cpp)
foreach(src ${fuzz_entry_points})
  get_filename_component(target ${src} NAME_WE)
  add_test(NAME "fuzz replay: ${target} corpus and regressions"
           COMMAND fuzz_replay ${target} ${fuzz_dir}/corpus/${target}
                   ${fuzz_dir}/regressions/${target})
  set_tests_properties("fuzz replay: ${target} corpus and regressions"
                       PROPERTIES LABELS unit TIMEOUT 120)
endforeach()
