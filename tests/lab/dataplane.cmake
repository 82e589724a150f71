# Lab tests of the userspace ESP dataplane (root, network namespaces): esp_tunnel pairs, ESP in
# UDP and raw ESP.
foreach(suite gcm cbc)
  if(suite STREQUAL "gcm")
    set(name "lab: dataplane userspace ESP-in-UDP pair, AES-256-GCM")
  else()
    set(name "lab: dataplane userspace ESP-in-UDP pair, AES-128-CBC HMAC-SHA1-96")
  endif()
  add_test(NAME "${name}"
           COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/userspace_pair.sh
                   $<TARGET_FILE:esp_tunnel> ${suite})
  set_tests_properties("${name}" PROPERTIES LABELS lab TIMEOUT 180)
endforeach()
# ESP in UDP without the offloads (no TSO/checksum offload on the TUN, no UDP GSO/GRO): the
# path a kernel without them takes, and the one the offloads must agree with.
add_test(NAME "lab: dataplane userspace ESP-in-UDP pair without offloads, AES-256-GCM"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/userspace_pair.sh
                 $<TARGET_FILE:esp_tunnel> gcm udp-no-offload)
set_tests_properties("lab: dataplane userspace ESP-in-UDP pair without offloads, AES-256-GCM"
                     PROPERTIES LABELS lab TIMEOUT 180)
# With the offloads, but the sender's veth MTU below the ESP packets' size: the kernel refuses
# UDP GSO; the dataplane turns GSO off and resends that run packet by packet, losing nothing.
add_test(NAME "lab: dataplane userspace ESP-in-UDP pair, UDP GSO refused by the kernel, AES-256-GCM"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/userspace_pair.sh
                 $<TARGET_FILE:esp_tunnel> gcm udp-gso-refused)
set_tests_properties(
  "lab: dataplane userspace ESP-in-UDP pair, UDP GSO refused by the kernel, AES-256-GCM"
  PROPERTIES LABELS lab TIMEOUT 180)
# The same pair over raw ESP (IP protocol 50 through raw sockets, no UDP): the capture must
# hold protocol-50 packets only; 1428-byte inner packets fit unfragmented.
foreach(suite gcm cbc)
  if(suite STREQUAL "gcm")
    set(name "lab: dataplane userspace raw ESP (IP protocol 50) pair, AES-256-GCM")
  else()
    set(name "lab: dataplane userspace raw ESP (IP protocol 50) pair, AES-128-CBC HMAC-SHA1-96")
  endif()
  add_test(NAME "${name}"
           COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/userspace_pair.sh
                   $<TARGET_FILE:esp_tunnel> ${suite} raw)
  set_tests_properties("${name}" PROPERTIES LABELS lab TIMEOUT 180)
endforeach()

# Kernel backend on a kernel without ESP: KernelRoutes (IPv4, then IPv6 ECMP next to IPv4 and
# a flush of both), XFRM policies, the nft MSS table, cleanup_leftovers and shutdown (kernel_dp
# in a private namespace).
set(name "lab: dataplane kernel backend routes IPv4 and IPv6, XFRM policies, nft MSS table, cleanup")
add_test(NAME "${name}"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/kernel_host.sh $<TARGET_FILE:kernel_dp>)
set_tests_properties("${name}" PROPERTIES LABELS lab TIMEOUT 120)

# Batched route installation (KernelDataplane::apply_routes): 20,000 routes in one call, exact
# table, deleted; the same with a tiny route-socket receive buffer forcing ENOBUFS and the resync;
# prints batched vs one-by-one times.
add_test(NAME "lab: dataplane kernel routes batched, 20000 in one call, ENOBUFS resync"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/route_batch.sh $<TARGET_FILE:kernel_dp>)
set_tests_properties("lab: dataplane kernel routes batched, 20000 in one call, ENOBUFS resync"
                     PROPERTIES LABELS lab TIMEOUT 180)

# Direct Connect pieces (tests/lab/dataplane/dx_links.sh): interface MSS clamps by name in
# `inet cgwd`, through KernelDataplane and a standalone NftMssClamp, on this host; SYNs through
# a clamp: IPv4 clamped, IPv6 not.
add_test(NAME "lab: dataplane interface MSS clamp by name, IPv4 only on the wire, KernelDataplane and standalone"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/dx_links.sh $<TARGET_FILE:kernel_dp> clamp)
set_tests_properties("lab: dataplane interface MSS clamp by name, IPv4 only on the wire, KernelDataplane and standalone"
                     PROPERTIES LABELS lab TIMEOUT 120)
# KernelLinks' 802.1Q VLAN (create, idempotent re-create, an IPv6 /125 added by a second call
# next to the IPv4 address and never tentative, conflict, clamp, delete) needs
# CONFIG_VLAN_8021Q, which this machine's kernel lacks: it runs in the kernel lab (qemu, Debian's
# kernel), once per CI run from the normal tree, like the other kernel-lab tests.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Asan")
  set(name "kernel: dataplane Direct Connect VLAN 100 on a veth, IPv4 + IPv6 /125, idempotent, MSS clamp, delete")
  add_test(NAME "${name}"
           COMMAND ${CMAKE_SOURCE_DIR}/tests/kernel/klab --timeout 300
                   ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/dx_links.sh $<TARGET_FILE:kernel_dp> vlan
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties("${name}" PROPERTIES LABELS kernel TIMEOUT 600)
endif()
