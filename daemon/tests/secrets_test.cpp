// Keeping secrets out of core dumps (capabilities.hpp): checked in a child process, so the test
// binary itself stays dumpable.
#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgwd/daemon/capabilities.hpp"

TEST_CASE("secrets: the daemon process is made non-dumpable (no core dumps, no ptrace)",
          "[daemon][secrets]") {
    REQUIRE(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);  // the default, before
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const bool ok = cgwd::daemon::keep_secrets_out_of_core_dumps().has_value() &&
                        ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
        ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);  // the parent untouched
}
