# The daemon against BIRD 2 as Direct Connect routers on this kernel (namespaces, no IKE):
# the inbound prefix limit (one session over it, one not), graceful restart helper mode
# (BIRD killed and restarted with -R), GTSM, connection collisions (RFC 4271 section 6.8),
# per-peer policy, and a dual-stack virtual interface.
function(cgwd_dx_lab_test script mode title)
    add_test(NAME "lab: cgwd ${title} with BIRD 2 (${mode})"
             COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/daemon/${script} $<TARGET_FILE_DIR:cgwd> ${mode})
    set_tests_properties("lab: cgwd ${title} with BIRD 2 (${mode})"
                         PROPERTIES LABELS lab TIMEOUT 120)
endfunction()
foreach(mode drop reset warn)
    cgwd_dx_lab_test(max_prefix_in.sh ${mode} "max_prefixes_in, the other session untouched,")
endforeach()
foreach(mode on off)
    cgwd_dx_lab_test(graceful_restart.sh ${mode} "graceful restart helper")
endforeach()
foreach(mode both mismatch)
    cgwd_dx_lab_test(gtsm.sh ${mode} "GTSM on a Direct Connect peer")
endforeach()
foreach(mode higher lower)
    cgwd_dx_lab_test(collision.sh ${mode} "BGP connection collision, router id")
endforeach()
# Per-peer policy: accept_prefixes in, as_path_prepend and med out.
cgwd_dx_lab_test(policy.sh accept+prepend+med "per-peer BGP policy")
# A reload that changes [bgp] advertise: announced and withdrawn on the running session.
cgwd_dx_lab_test(reload_advertise.sh advertise "reload of [bgp] advertise")
# A dual-stack virtual interface: an IPv4 and an IPv6 session on one VLAN, MD5 and BFD on each.
cgwd_dx_lab_test(dual_stack.sh veth "IPv4 and IPv6 Direct Connect peers, BFD each,")
# The same on a VLAN cgwd creates (both addresses on it): 802.1Q needs the kernel lab.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Asan")
  set(name "kernel: cgwd IPv4 and IPv6 Direct Connect peers on one VLAN it creates, with BIRD 2")
  add_test(NAME "${name}"
           COMMAND ${CMAKE_SOURCE_DIR}/tests/kernel/klab --timeout 300
                   ${CMAKE_SOURCE_DIR}/tests/lab/daemon/dual_stack.sh $<TARGET_FILE_DIR:cgwd> vlan
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties("${name}" PROPERTIES LABELS kernel TIMEOUT 600)
endif()
