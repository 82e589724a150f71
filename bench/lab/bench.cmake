# bench/lab: convergence and failover of the customer gateway, cgwd vs strongSwan + BIRD 2 in the
# end-to-end lab (bench/lab/run; docs/benchmarks.md). The full runs are by hand: in the kernel lab
# VM (about 10 minutes a round) and, for convergence, on the host (--host). Smoke run: one round
# of convergence on the host, both gateways; proves the benchmark still produces its numbers
# (and that cgwd's userspace ESP carries traffic to strongSwan's kernel-libipsec).
add_test(NAME "bench: lab convergence smoke on the host (1 round, cgwd vs strongSwan + BIRD)"
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run --host --rounds 1 --impls "cgwd swan+bird"
                 --cgwd $<TARGET_FILE:cgwd>)
set_tests_properties("bench: lab convergence smoke on the host (1 round, cgwd vs strongSwan + BIRD)"
                     PROPERTIES LABELS lab TIMEOUT 300)
