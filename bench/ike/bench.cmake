# bench/ike: IKEv2 handshake cost, ike_probe (ike/tools) vs strongSwan's charon as initiator
# toward the same charon responder (bench/ike/run; docs/benchmarks.md).
# Smoke run: 3 handshakes each; proves the benchmark still produces its numbers.
add_test(NAME "bench: ike handshake smoke (3 each, cgwd vs charon initiator)"
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run --ike-probe $<TARGET_FILE:ike_probe> --handshakes 3)
set_tests_properties("bench: ike handshake smoke (3 each, cgwd vs charon initiator)"
                     PROPERTIES LABELS lab TIMEOUT 120)
