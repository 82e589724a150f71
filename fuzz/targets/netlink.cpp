// Fuzz target: the kernel backend's netlink reply and event decoders (dataplane/netlink.hpp,
// xfrm_messages.hpp, rtnl_messages.hpp): what the KernelDataplane, the route and link code do
// with a buffer the kernel returned (GETSA replies, SA / policy / link / address / route dumps,
// XFRM_MSG_EXPIRE notifications). The socket loop itself (NetlinkSocket::request / dump /
// drain) needs a kernel; its message walk is for_each_message, fuzzed here, and the ack /
// NLMSG_ERROR handling is libmnl's mnl_cb_run, not ours.
//
// Input: one receive buffer (a sequence of netlink messages), copied to 8-byte aligned memory
// as the kernel's receive buffer is. Every message the walk yields goes through every parser,
// because the message type numbers of NETLINK_XFRM and NETLINK_ROUTE overlap (XFRM_MSG_NEWSA
// and RTM_NEWLINK are both 16) and each parser must reject what is not its own.
// Checks: prefixes the parsers return are valid (length <= 32 for IPv4, <= 128 for IPv6, no
// host bits), route gateways are of the route's family; the walk never yields a message that
// overruns the buffer, and yields every message 8-byte aligned (a message after one of length
// 4 mod 8 sits on a 4-byte boundary in the kernel's buffer, and the XFRM headers hold 64-bit
// fields).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "cgwd/dataplane/xfrm_messages.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd::dataplane;

void check(bool condition) {
    if (!condition) std::abort();
}

void check_prefix(const cgwd::config::Ipv4Prefix& p) {
    check(p.length <= 32 && (p.address.value & ~p.mask()) == 0);
}

void check_prefix(const cgwd::config::IpPrefix& p) {
    check(p.length <= p.address.max_length() &&
          cgwd::config::IpPrefix::of(p.address, p.length) == p);
}

void parse_all(const nlmsghdr* nlh) {
    if (auto sa = xfrm::parse_sa(nlh)) (void)sa->key;
    if (auto p = xfrm::parse_policy(nlh)) {
        check_prefix(p->key.src);
        check_prefix(p->key.dst);
    }
    if (auto e = xfrm::parse_expire(nlh)) (void)e->cause;
    if (auto l = rtnl::parse_link(nlh)) check(l->kind == "xfrm" || l->xfrm_if_id == 0);
    if (auto a = rtnl::parse_address(nlh)) check(a->prefix_length <= a->local.max_length());
    if (auto r = rtnl::parse_route(nlh)) {
        check_prefix(r->destination);
        for (const auto& h : r->hops)
            check(!h.gateway || h.gateway->is_v6() == r->destination.is_v6());
    }
}

}  // namespace

int cgwd::fuzz::fuzz_netlink(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint64_t> aligned((size + 7) / 8);
    if (size > 0) std::memcpy(aligned.data(), data, size);
    const std::span<const std::uint8_t> buffer(
        reinterpret_cast<const std::uint8_t*>(aligned.data()), size);
    std::size_t at = 0;  // where the walk is in the buffer
    (void)nl::for_each_message(buffer, [&](const nlmsghdr* nlh) {
        // Within the buffer, and on memory aligned for the XFRM headers' 64-bit fields.
        check(nlh->nlmsg_len >= sizeof(nlmsghdr) && at + nlh->nlmsg_len <= size);
        check(reinterpret_cast<std::uintptr_t>(nlh) % alignof(std::uint64_t) == 0);
        at += MNL_ALIGN(nlh->nlmsg_len);
        parse_all(nlh);
    });
    return 0;
}
