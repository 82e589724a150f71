// Runs a test body in a forked child inside a private network namespace (as root:
// unshare(CLONE_NEWNET); otherwise a user namespace as well, which Debian allows unprivileged
// users), loopback up. If the namespace cannot be made the case FAILS (never skips). The child
// reports "ok" or its first failure (an exception's text) through a pipe.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

namespace cgwd::dataplane::test {

// New network namespace with lo up; "" or what failed.
inline std::string enter_netns_with_lo() {
    const int flags = ::geteuid() == 0 ? CLONE_NEWNET : (CLONE_NEWUSER | CLONE_NEWNET);
    if (::unshare(flags) != 0)
        return std::string("unshare(network namespace): ") + std::strerror(errno);
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    if (fd < 0 || ::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) return "SIOCGIFFLAGS lo";
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) return "SIOCSIFFLAGS lo";
    ::close(fd);
    return "";
}

// "ok" or the child's first failure.
inline std::string run_in_netns(const std::function<void()>& body) {
    int p[2];
    if (::pipe(p) != 0) return "pipe";
    const pid_t pid = ::fork();
    if (pid < 0) return "fork";
    if (pid == 0) {
        ::close(p[0]);
        std::string result = enter_netns_with_lo();
        if (result.empty()) {
            try {
                body();
                result = "ok";
            } catch (const std::exception& e) {
                result = e.what();
            }
        }
        [[maybe_unused]] const ssize_t w = ::write(p[1], result.data(), result.size());
        ::_exit(0);
    }
    ::close(p[1]);
    std::string text;
    char buf[256];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) return "child died: " + text;
    return text.empty() ? "child reported nothing" : text;
}

}  // namespace cgwd::dataplane::test
