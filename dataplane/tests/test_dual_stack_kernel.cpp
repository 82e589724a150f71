// IPv6 next to IPv4 in a real kernel (routes.hpp, rtnl_messages.hpp), each case in a forked
// child inside a private network namespace (netns_child.hpp): a veth pair with an IPv4 and an
// IPv6 subnet on each end, made over rtnetlink here. What the kernel holds afterwards is read
// back with KernelRoutes::list() (its own dump) and, for addresses, with an address dump whose
// flags are decoded here (IFA_F_TENTATIVE: DAD still running, the address not usable yet).
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/routes.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "netns_child.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::IpAddress;
using cgwd::config::IpPrefix;
using cgwd::config::Ipv4Address;
using cgwd::config::Ipv4Prefix;
using cgwd::config::Ipv6Address;
using cgwd::config::Ipv6Prefix;
using test::Bytes;

namespace {

void need(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
}
template <class T>
T take(std::expected<T, Error> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
    return std::move(*r);
}
void need(std::expected<void, Error> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message);
}

Ipv4Address ip(const char* s) {
    return *Ipv4Address::parse(s);
}
Ipv6Address ip6(const char* s) {
    return *Ipv6Address::parse(s);
}
IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}

// RTM_NEWLINK kind veth: `a`, its peer `b` (VETH_INFO_PEER holds an ifinfomsg and then the
// peer's own attributes).
void make_veth(nl::NetlinkSocket& rtnl, const std::string& a, const std::string& b) {
    nl::NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifinfomsg));
    m.put_strz(IFLA_IFNAME, a);
    nlattr* info = m.nest_start(IFLA_LINKINFO);
    m.put_strz(IFLA_INFO_KIND, "veth");
    nlattr* data = m.nest_start(IFLA_INFO_DATA);
    Bytes peer(sizeof(ifinfomsg), 0);
    const nlattr name{static_cast<std::uint16_t>(sizeof(nlattr) + b.size() + 1), IFLA_IFNAME};
    const auto* h = reinterpret_cast<const std::uint8_t*>(&name);
    peer.insert(peer.end(), h, h + sizeof name);
    peer.insert(peer.end(), b.begin(), b.end());
    peer.resize(peer.size() + 1 + (4 - (b.size() + 1) % 4) % 4, 0);
    m.put(VETH_INFO_PEER, peer);
    m.nest_end(data);
    m.nest_end(info);
    need(rtnl.request(m, "create veth"), "veth " + a);
}

std::uint32_t index_of(const char* name) {
    const std::uint32_t i = if_nametoindex(name);
    need(i != 0, std::string("no interface ") + name);
    return i;
}

// The flags of `address` on `ifindex` (IFA_FLAGS, else ifa_flags); nullopt: not there.
std::optional<std::uint32_t> address_flags(nl::NetlinkSocket& rtnl, std::uint32_t ifindex,
                                           const IpAddress& address) {
    std::optional<std::uint32_t> flags;
    auto dump = rtnl::build_address_dump();
    need(rtnl.dump(dump, "dump addresses",
                   [&](const nlmsghdr* nlh) {
                       auto a = rtnl::parse_address(nlh);
                       if (!a || a->ifindex != ifindex || a->local != address) return;
                       const auto* ifa = nl::header_as<ifaddrmsg>(nlh);
                       std::uint32_t f = ifa->ifa_flags;
                       nl::for_each_attr(nlh, sizeof(ifaddrmsg), [&](const nlattr* at) {
                           if (mnl_attr_get_type(at) == IFA_FLAGS &&
                               mnl_attr_get_payload_len(at) == 4)
                               f = mnl_attr_get_u32(at);
                       });
                       flags = f;
                   }),
         "address dump");
    return flags;
}

// In a fresh namespace: veth va <-> vb, both up; va 10.99.0.1/24 and 2001:db8:99::1/64,
// vb 10.99.1.1/24 and 2001:db8:99:1::1/64 (IPv6 through build_address, so without DAD).
void two_links(nl::NetlinkSocket& rtnl) {
    make_veth(rtnl, "va", "vb");
    const std::uint32_t va = index_of("va"), vb = index_of("vb");
    for (std::uint32_t i : {va, vb}) {
        auto up = rtnl::build_link_up(i);
        need(rtnl.request(up, "link up"), "link up");
    }
    struct Address {
        std::uint32_t ifindex;
        IpAddress address;
        std::uint8_t length;
    };
    const Address addrs[] = {
        {va, ip("10.99.0.1"), 24},
        {vb, ip("10.99.1.1"), 24},
        {va, ip6("2001:db8:99::1"), 64},
        {vb, ip6("2001:db8:99:1::1"), 64},
    };
    for (const auto& a : addrs) {
        auto m = rtnl::build_address(a.ifindex, a.address, a.length);
        need(rtnl.request(m, "address"), "address " + a.address.to_string());
    }
}

std::map<IpPrefix, rtnl::RouteMessage> by_destination(const std::vector<rtnl::RouteMessage>& v) {
    std::map<IpPrefix, rtnl::RouteMessage> out;
    for (const auto& r : v) {
        need(!out.contains(r.destination), "listed twice: " + r.destination.to_string());
        out[r.destination] = r;
    }
    return out;
}

std::string describe(const rtnl::RouteMessage& r) {
    std::string s = r.destination.to_string() + " metric " + std::to_string(r.metric) + " table " +
                    std::to_string(r.table) + " proto " + std::to_string(r.protocol);
    for (const auto& h : r.hops)
        s += " [" + std::to_string(h.ifindex) +
             (h.gateway ? " via " + h.gateway->to_string() : "") + " w" + std::to_string(h.weight) +
             "]";
    return s;
}

}  // namespace

TEST_CASE("Kernel: IPv6 address from build_address is usable at once (NODAD), DAD otherwise") {
    CHECK(test::run_in_netns([] {
              auto rtnl = take(nl::NetlinkSocket::open(NETLINK_ROUTE), "socket");
              two_links(rtnl);
              const std::uint32_t va = index_of("va");
              // Ours: present, not tentative, flagged nodad; the IPv4 one is there too.
              auto f = address_flags(rtnl, va, ip6("2001:db8:99::1"));
              need(f.has_value(), "2001:db8:99::1 not on va");
              need((*f & IFA_F_TENTATIVE) == 0, "2001:db8:99::1 is tentative");
              need((*f & IFA_F_NODAD) != 0, "2001:db8:99::1 without nodad");
              need(address_flags(rtnl, va, ip("10.99.0.1")).has_value(), "10.99.0.1 not on va");
              // The control: the same kind of address without IFA_F_NODAD is tentative right
              // after it was added (DAD runs on this link), so the check above means something.
              nl::NlMessage plain(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifaddrmsg));
              auto* ifa = plain.header_as<ifaddrmsg>();
              ifa->ifa_family = AF_INET6;
              ifa->ifa_prefixlen = 125;
              ifa->ifa_index = va;
              const auto a = ip6("2001:db8:98::1");
              plain.put(IFA_LOCAL, a.bytes.data(), 16);
              plain.put(IFA_ADDRESS, a.bytes.data(), 16);
              need(rtnl.request(plain, "address without nodad"), "address without nodad");
              auto g = address_flags(rtnl, va, a);
              need(g.has_value() && (*g & IFA_F_TENTATIVE) != 0,
                   "an address added without IFA_F_NODAD is not tentative: no DAD here?");
              // And the delete builder removes an IPv6 address.
              auto del = rtnl::build_address_delete(va, ip6("2001:db8:99::1"), 64);
              need(rtnl.request(del, "delete address"), "delete IPv6 address");
              need(!address_flags(rtnl, va, ip6("2001:db8:99::1")).has_value(),
                   "2001:db8:99::1 still there after the delete");
          }) == "ok");
}

TEST_CASE("Kernel: IPv6 ECMP route via two links, replace, remove, flush of both families") {
    CHECK(test::run_in_netns([] {
              auto rtnl = take(nl::NetlinkSocket::open(NETLINK_ROUTE), "socket");
              two_links(rtnl);
              const std::uint32_t va = index_of("va"), vb = index_of("vb");
              auto routes = take(KernelRoutes::open(KernelRoutes::Options{254, 240}), "open");
              const IpPrefix dst = pfx("2001:db8:50::/48");
              RouteSpec ecmp;
              ecmp.destination = dst;
              ecmp.hops = {RouteHop{0, "va", ip6("2001:db8:99::2"), 1},
                           RouteHop{0, "vb", ip6("2001:db8:99:1::2"), 3}};
              need(routes.replace(ecmp), "replace ECMP");
              const std::vector<rtnl::ResolvedHop> two = {{va, ip6("2001:db8:99::2"), 1},
                                                          {vb, ip6("2001:db8:99:1::2"), 3}};
              auto listed = take(routes.list(), "list");
              need(listed.size() == 1, "routes: " + std::to_string(listed.size()));
              const rtnl::RouteMessage& r = listed[0];
              need(r.destination == dst && r.destination.is_v6() && r.table == 254 &&
                       r.protocol == 240 && r.metric == 1024 && r.hops == two,
                   "ECMP route: " + describe(r));

              // Replaced by one hop: the other hop is gone (no sibling left behind).
              RouteSpec one = ecmp;
              one.hops = {RouteHop{0, "vb", ip6("2001:db8:99:1::5"), 1}};
              need(routes.replace(one), "replace by one hop");
              listed = take(routes.list(), "list");
              need(listed.size() == 1 &&
                       listed[0].hops ==
                           std::vector<rtnl::ResolvedHop>{{vb, ip6("2001:db8:99:1::5"), 1}},
                   "one hop: " + (listed.empty() ? "none" : describe(listed[0])));
              // And back to two hops.
              need(routes.replace(ecmp), "replace by ECMP again");
              listed = take(routes.list(), "list");
              need(listed.size() == 1 && listed[0].hops == two,
                   "ECMP again: " + (listed.empty() ? "none" : describe(listed[0])));

              // Remove (metric 0, as the route was asked for): gone; again: not_found.
              need(routes.remove(dst), "remove");
              need(take(routes.list(), "list").empty(), "the IPv6 route is still there");
              auto again = routes.remove(dst);
              need(!again && again.error().code == Errc::not_found, "second remove");

              // A next hop of the other family never reaches the kernel.
              RouteSpec cross = ecmp;
              cross.hops[1].gateway = ip("10.99.1.2");
              auto refused = routes.replace(cross);
              need(!refused && refused.error().code == Errc::invalid_argument,
                   "cross-family next hop accepted");
              need(take(routes.list(), "list").empty(), "the refused route was installed");

              // flush_protocol: our IPv4 and IPv6 routes go, another protocol's stay.
              need(routes.replace(ecmp), "ECMP");
              RouteSpec dev6;
              dev6.destination = pfx("2001:db8:51::/64");
              dev6.hops = {RouteHop{va, "", std::nullopt, 1}};
              need(routes.replace(dev6), "IPv6 device route");
              RouteSpec v4;
              v4.destination = pfx("10.50.0.0/24");
              v4.hops = {RouteHop{0, "va", ip("10.99.0.2"), 1}};
              need(routes.replace(v4), "IPv4 route");
              auto foreign = take(KernelRoutes::open(KernelRoutes::Options{254, 241}), "open 241");
              RouteSpec theirs6 = ecmp;
              theirs6.destination = pfx("2001:db8:77::/48");
              need(foreign.replace(theirs6), "foreign IPv6");
              RouteSpec theirs4 = v4;
              theirs4.destination = pfx("10.77.0.0/24");
              need(foreign.replace(theirs4), "foreign IPv4");
              auto ours = by_destination(take(routes.list(), "list"));
              need(ours.size() == 3 && ours.contains(dst) && ours.contains(dev6.destination) &&
                       ours.contains(v4.destination),
                   "before the flush: " + std::to_string(ours.size()) + " routes");
              need(ours[dev6.destination].hops ==
                       std::vector<rtnl::ResolvedHop>{{va, std::nullopt, 1}},
                   "device route: " + describe(ours[dev6.destination]));
              const std::size_t removed = take(routes.flush_protocol(), "flush");
              need(removed == 3, "flush removed " + std::to_string(removed));
              need(take(routes.list(), "list").empty(), "routes left after the flush");
              auto left = by_destination(take(foreign.list(), "list 241"));
              need(left.size() == 2 && left.contains(theirs6.destination) &&
                       left.contains(theirs4.destination),
                   "the flush touched another protocol's routes");
          }) == "ok");
}

namespace {

IpPrefix host4(std::uint32_t i) {
    return Ipv4Prefix::of(Ipv4Address{0x0ac80000 + i}, 32);  // 10.200.0.0 + i
}
// The same four bytes as host4(i), as an IPv6 /32 (ac8:i::/32): a different route.
IpPrefix twin6(std::uint32_t i) {
    Ipv6Address a;
    a.bytes[0] = 0x0a;
    a.bytes[1] = 0xc8;
    a.bytes[2] = static_cast<std::uint8_t>(i >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(i);
    return Ipv6Prefix::of(a, 32);
}

}  // namespace

TEST_CASE("Kernel: a batch of IPv4 and IPv6 routes with the same bytes, ENOBUFS resync") {
    // 200 IPv4 /32s and 200 IPv6 /32s whose bytes are the same, then deletes of a quarter of
    // the IPv4 ones, in one apply with a tiny receive buffer: acknowledgements are lost and
    // the resync works out each route's final state by its key, which must tell the families
    // apart (a delete of 10.200.0.1/32 says nothing about ac8:1::/32). Odd routes have metric
    // 1024 in both families, so only the family separates their keys; even ones metric 0,
    // which IPv6 keeps as 1024.
    CHECK(test::run_in_netns([] {
              auto rtnl = take(nl::NetlinkSocket::open(NETLINK_ROUTE), "socket");
              two_links(rtnl);
              KernelRoutes::Options o{254, 240, 1};
              auto routes = take(KernelRoutes::open(o), "open");
              std::vector<RouteOp> ops;
              auto metric = [](std::uint32_t i) { return i % 2 == 0 ? 0U : 1024U; };
              for (std::uint32_t i = 0; i < 200; ++i) {
                  RouteOp v4;
                  v4.route.destination = host4(i);
                  v4.route.metric = metric(i);
                  v4.route.hops = {RouteHop{0, "va", ip("10.99.0.2"), 1}};
                  ops.push_back(v4);
                  RouteOp v6;
                  v6.route.destination = twin6(i);
                  v6.route.metric = metric(i);
                  v6.route.hops = {RouteHop{0, "va", ip6("2001:db8:99::2"), 1}};
                  ops.push_back(v6);
              }
              for (std::uint32_t i = 1; i < 200; i += 4) {
                  RouteOp del;
                  del.remove = true;
                  del.route.destination = host4(i);
                  del.route.metric = metric(i);
                  ops.push_back(del);
              }
              const RouteBatchOutcome out = routes.apply(ops);
              need(out.resynced, "no resync with a tiny receive buffer");
              need(out.failures == 0, "failures " + std::to_string(out.failures));
              // Every change went through, so the dump matches every route the batch wanted:
              // nothing to re-send, unless the keys mix families up or the IPv6 ones are not
              // the kernel's (metric 0 is 1024 there).
              need(out.repaired == 0, "repaired " + std::to_string(out.repaired));
              std::map<IpPrefix, std::uint32_t> want;  // route -> the metric the kernel shows
              for (std::uint32_t i = 0; i < 200; ++i) {
                  if (i % 4 != 1) want[host4(i)] = metric(i);
                  want[twin6(i)] = 1024;
              }
              std::map<IpPrefix, std::uint32_t> got;
              for (const auto& r : take(routes.list(), "list")) {
                  const auto gw = r.destination.is_v6() ? IpAddress(ip6("2001:db8:99::2"))
                                                        : IpAddress(ip("10.99.0.2"));
                  need(r.hops.size() == 1 && r.hops[0].gateway == gw, "hop of " + describe(r));
                  got[r.destination] = r.metric;
              }
              need(got == want, "table has " + std::to_string(got.size()) + " routes, want " +
                                    std::to_string(want.size()));
              const std::size_t removed = take(routes.flush_protocol(), "flush");
              need(removed == want.size(), "flush removed " + std::to_string(removed));
          }) == "ok");
}
