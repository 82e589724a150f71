# The daemon against third-party peers on this kernel (namespaces, no IKE): cgwd's inbound
# prefix limit with BIRD 2 as two Direct Connect routers (one over the limit, one not).
foreach(mode drop reset warn)
    add_test(NAME "lab: cgwd max_prefixes_in ${mode} with BIRD 2, the other session untouched"
             COMMAND ${CMAKE_SOURCE_DIR}/tests/lab/daemon/max_prefix_in.sh
                     $<TARGET_FILE_DIR:cgwd> ${mode})
    set_tests_properties("lab: cgwd max_prefixes_in ${mode} with BIRD 2, the other session untouched"
                         PROPERTIES LABELS lab TIMEOUT 120)
endforeach()
