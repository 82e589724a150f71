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
