# Lab tests of the userspace ESP dataplane (root, network namespaces): esp_tunnel pairs.
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

# Kernel backend on a kernel without ESP: KernelRoutes, XFRM policies, the nft MSS table,
# cleanup_leftovers and shutdown (kernel_dp in a private namespace).
add_test(NAME "lab: dataplane kernel backend routes, XFRM policies, nft MSS table, cleanup"
         COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/dataplane/kernel_host.sh $<TARGET_FILE:kernel_dp>)
set_tests_properties("lab: dataplane kernel backend routes, XFRM policies, nft MSS table, cleanup"
                     PROPERTIES LABELS lab TIMEOUT 120)
