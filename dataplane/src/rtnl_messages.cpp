#include "cgwd/dataplane/rtnl_messages.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>

namespace cgwd::dataplane::rtnl {

namespace {

int family_of(const config::IpAddress& a) {
    return a.is_v6() ? AF_INET6 : AF_INET;
}

// The address in network order, 4 or 16 bytes.
struct WireAddress {
    std::uint8_t bytes[16] = {};
    std::size_t size = 0;
};
WireAddress wire(const config::IpAddress& a) {
    WireAddress w;
    if (const auto* v4 = a.v4()) {
        const std::uint32_t n = htonl(v4->value);
        std::memcpy(w.bytes, &n, 4);
        w.size = 4;
    } else {
        std::memcpy(w.bytes, a.v6()->bytes.data(), 16);
        w.size = 16;
    }
    return w;
}

void put_address(nl::NlMessage& msg, std::uint16_t type, const config::IpAddress& a) {
    const WireAddress w = wire(a);
    msg.put(type, w.bytes, w.size);
}

std::string attr_string(const nlattr* a) {
    const auto p = nl::payload(a);
    std::size_t n = 0;
    while (n < p.size() && p[n] != 0) ++n;
    return std::string(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
}

// An address attribute of `family` (AF_INET: 4 bytes, AF_INET6: 16); nullopt for any other size.
std::optional<config::IpAddress> attr_address(const nlattr* a, int family) {
    const auto p = nl::payload(a);
    if (family == AF_INET && p.size() == 4) {
        std::uint32_t v = 0;
        std::memcpy(&v, p.data(), 4);
        return config::IpAddress(config::Ipv4Address{ntohl(v)});
    }
    if (family == AF_INET6 && p.size() == 16) {
        config::Ipv6Address v;
        std::memcpy(v.bytes.data(), p.data(), 16);
        return config::IpAddress(v);
    }
    return std::nullopt;
}

// The all-zero address of `family` (a default route has no RTA_DST).
config::IpAddress zero_of(int family) {
    if (family == AF_INET6) return config::Ipv6Address{};
    return config::Ipv4Address{};
}

}  // namespace

nl::NlMessage build_xfrm_link(const XfrmLink& link) {
    nl::NlMessage msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifinfomsg));
    msg.header_as<ifinfomsg>()->ifi_family = AF_UNSPEC;
    msg.put_strz(IFLA_IFNAME, link.name);
    if (link.mtu != 0) msg.put_u32(IFLA_MTU, link.mtu);
    nlattr* info = msg.nest_start(IFLA_LINKINFO);
    msg.put_strz(IFLA_INFO_KIND, "xfrm");
    nlattr* data = msg.nest_start(IFLA_INFO_DATA);
    if (link.underlying_ifindex != 0) msg.put_u32(IFLA_XFRM_LINK, link.underlying_ifindex);
    msg.put_u32(IFLA_XFRM_IF_ID, link.if_id);
    msg.nest_end(data);
    msg.nest_end(info);
    return msg;
}

nl::NlMessage build_vlan_link(const VlanLink& link) {
    nl::NlMessage msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifinfomsg));
    msg.header_as<ifinfomsg>()->ifi_family = AF_UNSPEC;
    msg.put_strz(IFLA_IFNAME, link.name);
    msg.put_u32(IFLA_LINK, link.parent_ifindex);
    if (link.mtu != 0) msg.put_u32(IFLA_MTU, link.mtu);
    nlattr* info = msg.nest_start(IFLA_LINKINFO);
    msg.put_strz(IFLA_INFO_KIND, "vlan");
    nlattr* data = msg.nest_start(IFLA_INFO_DATA);
    msg.put_u16(IFLA_VLAN_ID, link.vlan_id);
    msg.nest_end(data);
    msg.nest_end(info);
    return msg;
}

nl::NlMessage build_link_get(std::string_view name) {
    nl::NlMessage msg(RTM_GETLINK, 0, sizeof(ifinfomsg));
    msg.header_as<ifinfomsg>()->ifi_family = AF_UNSPEC;
    msg.put_strz(IFLA_IFNAME, name);
    return msg;
}

nl::NlMessage build_link_delete(std::uint32_t ifindex) {
    nl::NlMessage msg(RTM_DELLINK, 0, sizeof(ifinfomsg));
    auto* ifi = msg.header_as<ifinfomsg>();
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = static_cast<int>(ifindex);
    return msg;
}

nl::NlMessage build_link_up(std::uint32_t ifindex) {
    nl::NlMessage msg(RTM_NEWLINK, 0, sizeof(ifinfomsg));
    auto* ifi = msg.header_as<ifinfomsg>();
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = static_cast<int>(ifindex);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    return msg;
}

nl::NlMessage build_link_dump() {
    nl::NlMessage msg(RTM_GETLINK, NLM_F_DUMP, sizeof(ifinfomsg));
    msg.header_as<ifinfomsg>()->ifi_family = AF_UNSPEC;
    return msg;
}

std::optional<LinkInfo> parse_link(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWLINK) return std::nullopt;
    const auto* ifi = nl::header_as<ifinfomsg>(nlh);
    if (ifi == nullptr) return std::nullopt;
    LinkInfo link;
    link.ifindex = static_cast<std::uint32_t>(ifi->ifi_index);
    link.up = (ifi->ifi_flags & IFF_UP) != 0;
    nl::for_each_attr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
            case IFLA_IFNAME:
                link.name = attr_string(a);
                break;
            case IFLA_MTU:
                if (mnl_attr_get_payload_len(a) >= 4) link.mtu = mnl_attr_get_u32(a);
                break;
            case IFLA_LINK:
                if (mnl_attr_get_payload_len(a) >= 4) link.parent_ifindex = mnl_attr_get_u32(a);
                break;
            case IFLA_LINKINFO:
                nl::for_each_nested(a, [&](const nlattr* i) {
                    if (mnl_attr_get_type(i) == IFLA_INFO_KIND) link.kind = attr_string(i);
                    if (mnl_attr_get_type(i) == IFLA_INFO_DATA) {
                        nl::for_each_nested(i, [&](const nlattr* d) {
                            // IFLA_INFO_DATA numbers are per kind: the kind decides below.
                            if (mnl_attr_get_type(d) == IFLA_XFRM_IF_ID &&
                                mnl_attr_get_payload_len(d) >= 4)
                                link.xfrm_if_id = mnl_attr_get_u32(d);
                            if (mnl_attr_get_type(d) == IFLA_VLAN_ID &&
                                mnl_attr_get_payload_len(d) >= 2)
                                link.vlan_id = mnl_attr_get_u16(d);
                        });
                    }
                });
                break;
            default:
                break;
        }
    });
    if (link.kind != "xfrm") link.xfrm_if_id = 0;
    if (link.kind != "vlan") link.vlan_id = 0;
    return link;
}

namespace {

// A family we handle, and a prefix length within its address size (a netlink message's header).
bool prefix_fits(int family, unsigned length) {
    return (family == AF_INET && length <= 32) || (family == AF_INET6 && length <= 128);
}

nl::NlMessage address_message(std::uint16_t type, std::uint16_t flags, std::uint32_t ifindex,
                              const config::IpAddress& local, std::uint8_t prefix_length) {
    nl::NlMessage msg(type, flags, sizeof(ifaddrmsg));
    auto* ifa = msg.header_as<ifaddrmsg>();
    ifa->ifa_family = static_cast<std::uint8_t>(family_of(local));
    ifa->ifa_prefixlen = prefix_length;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;  // IPv6 derives the scope from the address itself
    ifa->ifa_index = ifindex;
    put_address(msg, IFA_LOCAL, local);
    put_address(msg, IFA_ADDRESS, local);
    return msg;
}

}  // namespace

nl::NlMessage build_address(std::uint32_t ifindex, const config::IpAddress& local,
                            std::uint8_t prefix_length) {
    auto msg =
        address_message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, local, prefix_length);
    if (local.is_v6()) {
        // Without it the address stays "tentative" (unusable for bind()) until DAD has run.
        msg.header_as<ifaddrmsg>()->ifa_flags = IFA_F_NODAD;
        msg.put_u32(IFA_FLAGS, IFA_F_NODAD);
    }
    return msg;
}

nl::NlMessage build_address_delete(std::uint32_t ifindex, const config::IpAddress& local,
                                   std::uint8_t prefix_length) {
    return address_message(RTM_DELADDR, 0, ifindex, local, prefix_length);
}

nl::NlMessage build_address_dump() {
    nl::NlMessage msg(RTM_GETADDR, NLM_F_DUMP, sizeof(ifaddrmsg));
    msg.header_as<ifaddrmsg>()->ifa_family = AF_UNSPEC;
    return msg;
}

std::optional<AddressInfo> parse_address(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWADDR) return std::nullopt;
    const auto* ifa = nl::header_as<ifaddrmsg>(nlh);
    if (ifa == nullptr) return std::nullopt;
    const int family = ifa->ifa_family;
    if (!prefix_fits(family, ifa->ifa_prefixlen)) return std::nullopt;
    AddressInfo info;
    info.ifindex = ifa->ifa_index;
    info.prefix_length = ifa->ifa_prefixlen;
    // IPv6 reports IFA_ADDRESS alone unless the address has a peer (then IFA_LOCAL is ours).
    std::optional<config::IpAddress> local, address;
    nl::for_each_attr(nlh, sizeof(ifaddrmsg), [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == IFA_LOCAL) local = attr_address(a, family);
        if (mnl_attr_get_type(a) == IFA_ADDRESS) address = attr_address(a, family);
    });
    if (!local) local = address;
    if (!local) return std::nullopt;
    info.local = *local;
    return info;
}

namespace {

void fill_rtmsg(rtmsg& rtm, const config::IpPrefix& destination, std::uint32_t table,
                std::uint8_t protocol) {
    rtm.rtm_family = static_cast<std::uint8_t>(family_of(destination.address));
    rtm.rtm_dst_len = destination.length;
    rtm.rtm_table = static_cast<std::uint8_t>(table < 256 ? table : std::uint32_t{RT_TABLE_UNSPEC});
    rtm.rtm_protocol = protocol;
    rtm.rtm_type = RTN_UNICAST;
}

void put_destination(nl::NlMessage& msg, const config::IpPrefix& destination, std::uint32_t table,
                     std::uint32_t metric) {
    put_address(msg, RTA_DST, destination.address);
    msg.put_u32(RTA_TABLE, table);
    msg.put_u32(RTA_PRIORITY, metric);
}

}  // namespace

nl::NlMessage build_route_replace(const RouteMessage& route) {
    nl::NlMessage msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(rtmsg));
    auto* rtm = msg.header_as<rtmsg>();
    fill_rtmsg(*rtm, route.destination, route.table, route.protocol);
    bool any_gateway = false;
    for (const auto& h : route.hops) any_gateway = any_gateway || h.gateway.has_value();
    // (IPv6 ignores rtm_scope; IPv4 needs link scope for a route without a gateway.)
    rtm->rtm_scope = any_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    put_destination(msg, route.destination, route.table, route.metric);

    if (route.hops.size() == 1) {
        const ResolvedHop& h = route.hops.front();
        msg.put_u32(RTA_OIF, h.ifindex);
        if (h.gateway) put_address(msg, RTA_GATEWAY, *h.gateway);
        return msg;
    }
    // RTA_MULTIPATH: a packed sequence of rtnexthop, each followed by its own attributes.
    //   struct rtnexthop { u16 rtnh_len; u8 rtnh_flags; u8 rtnh_hops; int rtnh_ifindex; }
    //   [RTA_GATEWAY (4 + 4 bytes for IPv4, 4 + 16 for IPv6)]
    std::vector<std::uint8_t> hops;
    for (const auto& h : route.hops) {
        const WireAddress gw = h.gateway ? wire(*h.gateway) : WireAddress{};
        const std::size_t gw_len = h.gateway ? MNL_ALIGN(sizeof(nlattr) + gw.size) : 0;
        const std::size_t len = RTNH_ALIGN(sizeof(rtnexthop)) + gw_len;
        const std::size_t at = hops.size();
        hops.resize(at + len);
        rtnexthop nh{};
        nh.rtnh_len = static_cast<unsigned short>(len);
        nh.rtnh_hops = static_cast<unsigned char>(h.weight == 0 ? 0 : h.weight - 1);
        nh.rtnh_ifindex = static_cast<int>(h.ifindex);
        std::memcpy(hops.data() + at, &nh, sizeof nh);
        if (h.gateway) {
            nlattr a{};
            a.nla_len = static_cast<std::uint16_t>(sizeof(nlattr) + gw.size);
            a.nla_type = RTA_GATEWAY;
            std::uint8_t* p = hops.data() + at + RTNH_ALIGN(sizeof(rtnexthop));
            std::memcpy(p, &a, sizeof a);
            std::memcpy(p + sizeof a, gw.bytes, gw.size);
        }
    }
    msg.put(RTA_MULTIPATH, hops);
    return msg;
}

nl::NlMessage build_route_delete(const config::IpPrefix& destination, std::uint32_t table,
                                 std::uint32_t metric, std::uint8_t protocol) {
    nl::NlMessage msg(RTM_DELROUTE, 0, sizeof(rtmsg));
    auto* rtm = msg.header_as<rtmsg>();
    fill_rtmsg(*rtm, destination, table, protocol);
    rtm->rtm_scope = RT_SCOPE_NOWHERE;  // any scope
    put_destination(msg, destination, table, metric);
    return msg;
}

nl::NlMessage build_route_dump() {
    nl::NlMessage msg(RTM_GETROUTE, NLM_F_DUMP, sizeof(rtmsg));
    msg.header_as<rtmsg>()->rtm_family = AF_UNSPEC;
    return msg;
}

std::optional<RouteMessage> parse_route(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
    const auto* rtm = nl::header_as<rtmsg>(nlh);
    if (rtm == nullptr || rtm->rtm_type != RTN_UNICAST) return std::nullopt;
    const int family = rtm->rtm_family;
    if (!prefix_fits(family, rtm->rtm_dst_len)) return std::nullopt;
    RouteMessage r;
    r.table = rtm->rtm_table;
    r.protocol = rtm->rtm_protocol;
    config::IpAddress dst = zero_of(family);
    ResolvedHop single;
    bool has_single = false;
    nl::for_each_attr(nlh, sizeof(rtmsg), [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
            case RTA_DST:
                if (auto v = attr_address(a, family)) dst = *v;
                break;
            case RTA_TABLE:
                if (mnl_attr_get_payload_len(a) >= 4) r.table = mnl_attr_get_u32(a);
                break;
            case RTA_PRIORITY:
                if (mnl_attr_get_payload_len(a) >= 4) r.metric = mnl_attr_get_u32(a);
                break;
            case RTA_OIF:
                if (mnl_attr_get_payload_len(a) >= 4) {
                    single.ifindex = mnl_attr_get_u32(a);
                    has_single = true;
                }
                break;
            case RTA_GATEWAY:
                single.gateway = attr_address(a, family);
                has_single = true;
                break;
            case RTA_MULTIPATH: {
                const auto p = nl::payload(a);
                std::size_t at = 0;
                while (at + sizeof(rtnexthop) <= p.size()) {
                    rtnexthop nh{};
                    std::memcpy(&nh, p.data() + at, sizeof nh);
                    if (nh.rtnh_len < sizeof(rtnexthop) || at + nh.rtnh_len > p.size()) break;
                    ResolvedHop h;
                    h.ifindex = static_cast<std::uint32_t>(nh.rtnh_ifindex);
                    // The kernel's weights are 1..256; ours 1..255: 256 reads as 255.
                    h.weight =
                        static_cast<std::uint8_t>(nh.rtnh_hops == 255 ? 255 : nh.rtnh_hops + 1);
                    const std::size_t attrs = RTNH_ALIGN(sizeof(rtnexthop));
                    if (nh.rtnh_len > attrs)
                        nl::for_each_in(p.data() + at + attrs, nh.rtnh_len - attrs,
                                        [&](const nlattr* g) {
                                            if (mnl_attr_get_type(g) == RTA_GATEWAY)
                                                h.gateway = attr_address(g, family);
                                        });
                    r.hops.push_back(h);
                    at += RTNH_ALIGN(nh.rtnh_len);
                }
                break;
            }
            default:
                break;
        }
    });
    r.destination = config::IpPrefix::of(dst, rtm->rtm_dst_len);
    if (r.hops.empty() && has_single) r.hops.push_back(single);
    return r;
}

}  // namespace cgwd::dataplane::rtnl
