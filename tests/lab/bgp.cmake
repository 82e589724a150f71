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

# TCP-MD5 (RFC 2385) and BFD (RFC 5880/5881) against BIRD 2.
add_test(NAME "lab: bgp TCP-MD5 with BIRD 2 (right, wrong and no key)"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_md5.sh $<TARGET_FILE:bgp_peer>)
add_test(NAME "lab: bgp BFD with BIRD 2, nftables cut to BGP down under 1 s"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_bfd.sh $<TARGET_FILE:bgp_peer> nft)
add_test(NAME "lab: bgp BFD with BIRD 2, link down to BGP down under 1 s"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_bfd.sh $<TARGET_FILE:bgp_peer> link)
set_tests_properties("lab: bgp TCP-MD5 with BIRD 2 (right, wrong and no key)"
                     "lab: bgp BFD with BIRD 2, nftables cut to BGP down under 1 s"
                     "lab: bgp BFD with BIRD 2, link down to BGP down under 1 s"
                     PROPERTIES LABELS lab TIMEOUT 120)

# FRR 8 (zebra + bgpd + bfdd, private instance): IPv4 + IPv6 routes both ways, BFD, cut < 1 s.
add_test(NAME "lab: bgp IPv4 + IPv6 and BFD with FRR"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/frr.sh $<TARGET_FILE:bgp_peer>)
set_tests_properties("lab: bgp IPv4 + IPv6 and BFD with FRR" PROPERTIES LABELS lab TIMEOUT 120)

# ExaBGP sends malformed UPDATEs (bad ORIGIN value/length, malformed AS_PATH segments): RFC 7606
# treat-as-withdraw, no session reset, later announcements still accepted.
add_test(NAME "lab: bgp RFC 7606 treat-as-withdraw with ExaBGP malformed UPDATEs"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/exabgp.sh $<TARGET_FILE:bgp_peer>)
set_tests_properties("lab: bgp RFC 7606 treat-as-withdraw with ExaBGP malformed UPDATEs"
                     PROPERTIES LABELS lab TIMEOUT 90)

# Graceful restart (RFC 4724), bgp_peer as helper: BIRD restarts (SIGKILL + `bird -R`, or
# `birdc graceful restart`): routes kept stale, only the one not re-announced flushed after
# End-of-RIB; with GR off in BIRD the routes go at once. GTSM (RFC 5082) both ways and ours only.
# Connection collision (RFC 4271 section 6.8) with either side's identifier higher.
foreach(mode on birdc off)
    add_test(NAME "lab: bgp graceful restart helper with BIRD 2 (${mode})"
             COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_gr.sh $<TARGET_FILE:bgp_peer> ${mode})
    set_tests_properties("lab: bgp graceful restart helper with BIRD 2 (${mode})"
                         PROPERTIES LABELS lab TIMEOUT 90)
endforeach()
foreach(mode both ours-only ours-only-listen)
    add_test(NAME "lab: bgp GTSM with BIRD 2 (${mode})"
             COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_gtsm.sh $<TARGET_FILE:bgp_peer> ${mode})
    set_tests_properties("lab: bgp GTSM with BIRD 2 (${mode})" PROPERTIES LABELS lab TIMEOUT 60)
endforeach()
foreach(mode higher lower)
    add_test(NAME "lab: bgp connection collision with BIRD 2 (our identifier ${mode})"
             COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/bgp/bird_collision.sh $<TARGET_FILE:bgp_peer>
                     ${mode})
    set_tests_properties("lab: bgp connection collision with BIRD 2 (our identifier ${mode})"
                         PROPERTIES LABELS lab TIMEOUT 60)
endforeach()
