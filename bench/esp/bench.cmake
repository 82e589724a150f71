# bench/esp: userspace tunnel throughput, cgwd's userspace ESP (esp_tunnel, dataplane/tools) vs
# wireguard-go in the same two-namespace topology (bench/esp/run; docs/benchmarks.md).
# Smoke run: 2 s per iperf3 test, one stream, GCM only; proves the benchmark still produces its
# numbers (no figure is asserted).
add_test(NAME "bench: esp userspace throughput smoke (2 s iperf3, cgwd vs wireguard-go)"
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run --esp-tunnel $<TARGET_FILE:esp_tunnel>
                 --seconds 2 --streams 1 --suites gcm256)
set_tests_properties("bench: esp userspace throughput smoke (2 s iperf3, cgwd vs wireguard-go)"
                     PROPERTIES LABELS lab TIMEOUT 120)
