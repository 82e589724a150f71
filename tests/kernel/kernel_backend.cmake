# Kernel lab: the kernel backend (KernelDataplane over XFRM + rtnetlink + nftables) on both ends
# of a veth inside a qemu VM with Debian's kernel (this machine's kernel has no ESP). Once per CI
# run, from the normal tree. Included from tests/CMakeLists.txt.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Asan")
  set(name "kernel: kernel backend, XFRM interfaces, GCM raw + CBC/SHA256 UDP, MSS clamp, cleanup")
  add_test(NAME "${name}"
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/klab --timeout 400
                   ${CMAKE_CURRENT_LIST_DIR}/kernel_backend.sh $<TARGET_FILE:kernel_dp>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties("${name}" PROPERTIES LABELS kernel TIMEOUT 600 COST 100)
endif()
