# bench/bgp: route ingestion, cgwd's Session + Rib (bgp_ingest) vs BIRD 2 as the receiver of the
# same BIRD 2 generator (bench/bgp/run; docs/benchmarks.md).
add_executable(bgp_ingest ${CMAKE_CURRENT_LIST_DIR}/bgp_ingest.cpp)
target_link_libraries(bgp_ingest PRIVATE cgwd::bgp cgwd::dataplane CLI11::CLI11 cgwd_warnings)

# Smoke run: 2000 prefixes, one round each; proves the benchmark still produces its numbers.
add_test(NAME "bench: bgp route ingestion smoke (2k prefixes, cgwd vs BIRD 2)"
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run --prefixes 2000 --rounds 1
                 --ingest $<TARGET_FILE:bgp_ingest> --blast $<TARGET_FILE:bgp_blast>)
set_tests_properties("bench: bgp route ingestion smoke (2k prefixes, cgwd vs BIRD 2)"
                     PROPERTIES LABELS lab TIMEOUT 120)

# The default generator of bench/bgp/run: pre-encoded UPDATEs written as fast as TCP takes them.
add_executable(bgp_blast ${CMAKE_CURRENT_LIST_DIR}/bgp_blast.cpp)
target_link_libraries(bgp_blast PRIVATE cgwd::bgp CLI11::CLI11 cgwd_warnings)

# The same with both receivers installing the routes into a kernel table (--kernel).
add_test(NAME "bench: bgp route ingestion into the kernel smoke (2k prefixes, cgwd vs BIRD 2)"
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run --prefixes 2000 --rounds 1 --kernel
                 --ingest $<TARGET_FILE:bgp_ingest> --blast $<TARGET_FILE:bgp_blast>)
set_tests_properties("bench: bgp route ingestion into the kernel smoke (2k prefixes, cgwd vs BIRD 2)"
                     PROPERTIES LABELS lab TIMEOUT 120)
