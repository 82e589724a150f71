#include "cgwd/daemon/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace cgwd::daemon {

std::uint64_t kept_capabilities() {
    return (std::uint64_t{1} << CAP_NET_BIND_SERVICE) | (std::uint64_t{1} << CAP_NET_ADMIN) |
           (std::uint64_t{1} << CAP_NET_RAW);
}

std::expected<void, std::string> keep_only_network_capabilities() {
    int last = CAP_LAST_CAP;
    if (std::ifstream f("/proc/sys/kernel/cap_last_cap"); f) f >> last;
    const auto keep = kept_capabilities();
    // Bounding set first: it needs CAP_SETPCAP, which the capset below removes.
    for (int cap = 0; cap <= last; ++cap) {
        if (keep & (std::uint64_t{1} << cap)) continue;
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // not in the set
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EPERM)
            return std::unexpected(std::string("PR_CAPBSET_DROP: ") + std::strerror(errno));
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0)
        return std::unexpected(std::string("capget: ") + std::strerror(errno));
    for (int i = 0; i < 2; ++i) {
        const auto mask = static_cast<std::uint32_t>(keep >> (32 * i));
        data[i].effective &= mask;
        data[i].permitted &= mask;
        data[i].inheritable &= mask;
    }
    if (::syscall(SYS_capset, &header, data) != 0)
        return std::unexpected(std::string("capset: ") + std::strerror(errno));
    return {};
}

std::expected<void, std::string> keep_secrets_out_of_core_dumps() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return std::unexpected(std::string("PR_SET_DUMPABLE: ") + std::strerror(errno));
    return {};
}

}  // namespace cgwd::daemon
