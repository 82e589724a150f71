// rtnetlink messages (Linux <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>) of the
// kernel backend: XFRM interfaces (RTM_NEWLINK kind "xfrm" with IFLA_XFRM_IF_ID /
// IFLA_XFRM_LINK), 802.1Q VLAN interfaces (kind "vlan": IFLA_LINK = parent, IFLA_VLAN_ID nested
// in IFLA_INFO_DATA), interface addresses of either family (RTM_NEWADDR / RTM_DELADDR / dump),
// link lookup by name (RTM_GETLINK), link up, and IPv4 and IPv6 routes with one or more next
// hops (RTM_NEWROUTE with RTA_MULTIPATH / rtnexthop for ECMP, rtnh_hops = weight - 1). The
// family of a route message is its destination's (AF_INET: 4-byte RTA_DST / RTA_GATEWAY,
// AF_INET6: 16-byte ones, per hop inside RTA_MULTIPATH as well). Built without I/O; dumps
// decoded back into plain structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/config/net.hpp"
#include "cgwd/dataplane/netlink.hpp"

namespace cgwd::dataplane::rtnl {

// --- links ---
struct XfrmLink {
    std::string name;
    std::uint32_t if_id = 0;
    std::uint32_t underlying_ifindex = 0;  // IFLA_XFRM_LINK; 0: none
    std::uint16_t mtu = 0;                 // 0: kernel default
};
nl::NlMessage build_xfrm_link(const XfrmLink& link);  // RTM_NEWLINK, create + excl
// RTM_NEWLINK kind "vlan", create + excl: IFLA_IFNAME, IFLA_LINK, IFLA_MTU (when nonzero),
// IFLA_LINKINFO { IFLA_INFO_KIND "vlan", IFLA_INFO_DATA { IFLA_VLAN_ID (u16) } }. The VLAN
// protocol is the kernel's default, 802.1Q.
struct VlanLink {
    std::string name;
    std::uint32_t parent_ifindex = 0;
    std::uint16_t vlan_id = 0;  // 1..4094
    std::uint16_t mtu = 0;      // 0: the parent's
};
nl::NlMessage build_vlan_link(const VlanLink& link);
// RTM_GETLINK of one link by name (IFLA_IFNAME); the reply is one RTM_NEWLINK.
nl::NlMessage build_link_get(std::string_view name);
nl::NlMessage build_link_delete(std::uint32_t ifindex);
nl::NlMessage build_link_up(std::uint32_t ifindex);
nl::NlMessage build_link_dump();

struct LinkInfo {
    std::uint32_t ifindex = 0;
    std::string name;
    std::string kind;              // IFLA_INFO_KIND ("xfrm", "veth", ...); empty when none
    std::uint32_t xfrm_if_id = 0;  // kind "xfrm" only
    std::uint32_t mtu = 0;
    std::uint32_t parent_ifindex = 0;  // IFLA_LINK; 0: none
    std::uint16_t vlan_id = 0;         // kind "vlan" only
    bool up = false;                   // IFF_UP in ifi_flags
};
std::optional<LinkInfo> parse_link(const nlmsghdr* nlh);

// --- addresses ---
// RTM_NEWADDR: `local`/prefix_length on `ifindex`, family AF_INET or AF_INET6 after `local`
// (IFA_LOCAL and IFA_ADDRESS both local: no peer address, and the kernel adds the connected
// prefix route). IPv6 addresses also carry IFA_F_NODAD, in ifa_flags and in IFA_FLAGS (u32,
// read instead of ifa_flags when present): usable at once, never "tentative", so a BGP session
// can bind to it without waiting ~1 s for duplicate address detection. They are addresses AWS
// assigns on a point-to-point link, where DAD would only delay.
nl::NlMessage build_address(std::uint32_t ifindex, const config::IpAddress& local,
                            std::uint8_t prefix_length);
// RTM_DELADDR of the same address (IFA_LOCAL and IFA_ADDRESS, no flags).
nl::NlMessage build_address_delete(std::uint32_t ifindex, const config::IpAddress& local,
                                   std::uint8_t prefix_length);
nl::NlMessage build_address_dump();  // every address of every family (AF_UNSPEC)

struct AddressInfo {
    std::uint32_t ifindex = 0;
    config::IpAddress local;  // IFA_LOCAL (IFA_ADDRESS when there is no IFA_LOCAL)
    std::uint8_t prefix_length = 0;
    friend bool operator==(const AddressInfo&, const AddressInfo&) = default;
};
// Decodes an RTM_NEWADDR dump entry of an IPv4 or IPv6 address (others: nullopt).
std::optional<AddressInfo> parse_address(const nlmsghdr* nlh);

// --- routes ---
struct ResolvedHop {
    std::uint32_t ifindex = 0;
    std::optional<config::IpAddress> gateway;  // of the route's family
    std::uint8_t weight = 1;                   // 1..255 (a kernel weight of 256 decodes as 255)
    friend bool operator==(const ResolvedHop&, const ResolvedHop&) = default;
};

struct RouteMessage {
    config::IpPrefix destination;   // its family is the message's
    std::vector<ResolvedHop> hops;  // one: RTA_OIF/RTA_GATEWAY; several: RTA_MULTIPATH
    std::uint32_t table = 254;      // RT_TABLE_MAIN
    std::uint32_t metric = 0;       // RTA_PRIORITY
    std::uint8_t protocol = 0;      // rtm_protocol
    friend bool operator==(const RouteMessage&, const RouteMessage&) = default;
};
// RTM_NEWROUTE with NLM_F_CREATE | NLM_F_REPLACE (add or replace).
nl::NlMessage build_route_replace(const RouteMessage& route);
// RTM_DELROUTE of destination/metric/table, restricted to `protocol` (the kernel matches it).
nl::NlMessage build_route_delete(const config::IpPrefix& destination, std::uint32_t table,
                                 std::uint32_t metric, std::uint8_t protocol);
// All routes of all tables, IPv4 and IPv6 in one dump (AF_UNSPEC: the kernel runs each
// family's dump in turn; parse_route skips the other families' entries, e.g. multicast).
nl::NlMessage build_route_dump();
// Decodes an RTM_NEWROUTE dump entry: IPv4 and IPv6 unicast routes (RTN_UNICAST) only, so the
// kernel's local, broadcast, anycast, multicast and unreachable entries are skipped. A
// gateway (RTA_GATEWAY, per hop as well) of the wrong size for the family reads as none.
std::optional<RouteMessage> parse_route(const nlmsghdr* nlh);

}  // namespace cgwd::dataplane::rtnl
