# BGP interop lab tests (root + network namespaces): bgp_peer (bgp/tools) against BIRD 2 and GoBGP.
add_test(NAME "lab: bgp session with BIRD 2"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird.sh $<TARGET_FILE:bgp_peer>)
add_test(NAME "lab: bgp session with BIRD 2, 4-octet AS 4200000001"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird.sh $<TARGET_FILE:bgp_peer> 4200000001)
add_test(NAME "lab: bgp session with GoBGP"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/gobgp.sh $<TARGET_FILE:bgp_peer>)
set_tests_properties("lab: bgp session with BIRD 2"
                     "lab: bgp session with BIRD 2, 4-octet AS 4200000001"
                     "lab: bgp session with GoBGP"
                     PROPERTIES LABELS lab TIMEOUT 300)
