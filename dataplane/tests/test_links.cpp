// Direct Connect VLAN interfaces (links.hpp, rtnl_messages.hpp) and interface MSS clamps
// (nft_mss.hpp). Messages are decoded back attribute by attribute with libmnl; the expected
// layouts are Linux UAPI <linux/rtnetlink.h> and <linux/if_link.h> (IFLA_VLAN_ID is a u16
// nested in IFLA_LINKINFO / IFLA_INFO_DATA, as iproute2's `ip link add ... type vlan id N`
// sends it). KernelLinks runs against a scripted transport that plays a small kernel.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/dataplane/kernel.hpp"
#include "cgwd/dataplane/links.hpp"
#include "cgwd/dataplane/nft_mss.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "netlink_decode.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::IpAddress;
using cgwd::config::Ipv4Address;
using cgwd::config::Ipv6Address;
using test::Bytes;
using namespace test::nl;

namespace {

Ipv4Address ip(const char* s) {
    return *Ipv4Address::parse(s);
}
Ipv6Address ip6(const char* s) {
    return *Ipv6Address::parse(s);
}

// IFA_LOCAL of an address request, 4 or 16 bytes after its family.
IpAddress local_of(const Decoded& d) {
    const Bytes& b = d.get(IFA_LOCAL).payload;
    if (d.header_as<ifaddrmsg>().ifa_family == AF_INET6) {
        REQUIRE(b.size() == 16);
        Ipv6Address a;
        std::copy(b.begin(), b.end(), a.bytes.begin());
        return a;
    }
    return Ipv4Address{ntohl(u32_of(d.get(IFA_LOCAL)))};
}

// --- a scripted kernel behind KernelLinks ---
struct FakeLink {
    std::uint32_t ifindex = 0;
    std::string kind;
    std::uint32_t parent = 0;
    std::uint16_t vlan = 0;
    std::uint32_t mtu = 1500;
    bool up = false;
};

struct FakeKernel {
    std::map<std::string, FakeLink> links;
    std::vector<rtnl::AddressInfo> addrs;
    std::uint32_t next_ifindex = 20;
    std::optional<std::uint16_t> fail_type;  // a request of this type gets EPERM ...
    int fail_skip = 0;                       // ... after this many of them went through
    std::vector<Decoded> sent;               // every request/dump, decoded

    std::string name_of(std::uint32_t ifindex) const {
        for (const auto& [n, l] : links)
            if (l.ifindex == ifindex) return n;
        return "";
    }
};

class FakeTransport final : public LinkTransport {
  public:
    explicit FakeTransport(FakeKernel& k) : k_(k) {}

    std::expected<void, Error> request(nl::NlMessage& msg, std::string_view what,
                                       const nl::NetlinkSocket::Handler& on_reply) override {
        const std::uint16_t type = msg.nlh()->nlmsg_type;
        const bool addr = type == RTM_NEWADDR || type == RTM_DELADDR;
        Decoded d = decode(msg.bytes(), addr ? sizeof(ifaddrmsg) : sizeof(ifinfomsg));
        k_.sent.push_back(d);
        if (k_.fail_type == type) {
            if (k_.fail_skip == 0) {
                k_.fail_type.reset();
                return nl::errno_error(EPERM, what);
            }
            --k_.fail_skip;
        }
        switch (type) {
            case RTM_GETLINK: {
                auto it = k_.links.find(str_of(d.get(IFLA_IFNAME)));
                if (it == k_.links.end()) return nl::errno_error(ENODEV, what);
                reply_link(it->first, it->second, on_reply);
                return {};
            }
            case RTM_NEWLINK: {
                const auto ifi = d.header_as<ifinfomsg>();
                if (ifi.ifi_index != 0) {  // link up
                    const std::string n = k_.name_of(static_cast<std::uint32_t>(ifi.ifi_index));
                    if (n.empty()) return nl::errno_error(ENODEV, what);
                    k_.links[n].up = (ifi.ifi_flags & IFF_UP) != 0;
                    return {};
                }
                const std::string n = str_of(d.get(IFLA_IFNAME));
                if (k_.links.contains(n)) return nl::errno_error(EEXIST, what);
                FakeLink l;
                l.ifindex = k_.next_ifindex++;
                l.kind = str_of(decode_nested(d.get(IFLA_LINKINFO))[0]);
                l.parent = u32_of(d.get(IFLA_LINK));
                l.vlan = u16_of(decode_nested(decode_nested(d.get(IFLA_LINKINFO))[1])[0]);
                l.mtu = u32_of(d.get(IFLA_MTU));
                k_.links[n] = l;
                return {};
            }
            case RTM_DELLINK: {
                const auto ifi = d.header_as<ifinfomsg>();
                const std::string n = k_.name_of(static_cast<std::uint32_t>(ifi.ifi_index));
                if (n.empty()) return nl::errno_error(ENODEV, what);
                k_.links.erase(n);
                std::erase_if(k_.addrs, [&](const rtnl::AddressInfo& a) {
                    return a.ifindex == static_cast<std::uint32_t>(ifi.ifi_index);
                });
                return {};
            }
            case RTM_NEWADDR: {
                const auto ifa = d.header_as<ifaddrmsg>();
                const rtnl::AddressInfo a{ifa.ifa_index, local_of(d), ifa.ifa_prefixlen};
                if (std::find(k_.addrs.begin(), k_.addrs.end(), a) != k_.addrs.end())
                    return nl::errno_error(EEXIST, what);
                k_.addrs.push_back(a);
                return {};
            }
            case RTM_DELADDR: {
                const auto ifa = d.header_as<ifaddrmsg>();
                std::erase(k_.addrs,
                           rtnl::AddressInfo{ifa.ifa_index, local_of(d), ifa.ifa_prefixlen});
                return {};
            }
            default:
                FAIL("unexpected request type " << type);
                return {};
        }
    }

    std::expected<void, Error> dump(nl::NlMessage& msg, std::string_view,
                                    const nl::NetlinkSocket::Handler& f) override {
        Decoded d = decode(msg.bytes(), sizeof(ifaddrmsg));
        REQUIRE(d.type == RTM_GETADDR);
        k_.sent.push_back(d);
        for (const auto& a : k_.addrs) {
            auto m = rtnl::build_address(a.ifindex, a.local, a.prefix_length);
            m.nlh()->nlmsg_type = RTM_NEWADDR;
            f(m.nlh());
        }
        return {};
    }

  private:
    void reply_link(const std::string& name, const FakeLink& l,
                    const nl::NetlinkSocket::Handler& on_reply) {
        nl::NlMessage m(RTM_NEWLINK, 0, sizeof(ifinfomsg));
        auto* ifi = m.header_as<ifinfomsg>();
        ifi->ifi_index = static_cast<int>(l.ifindex);
        ifi->ifi_flags = l.up ? IFF_UP : 0;
        m.put_strz(IFLA_IFNAME, name);
        m.put_u32(IFLA_MTU, l.mtu);
        if (l.parent != 0) m.put_u32(IFLA_LINK, l.parent);
        nlattr* info = m.nest_start(IFLA_LINKINFO);
        m.put_strz(IFLA_INFO_KIND, l.kind);
        if (l.kind == "vlan") {
            nlattr* data = m.nest_start(IFLA_INFO_DATA);
            m.put_u16(IFLA_VLAN_ID, l.vlan);
            m.nest_end(data);
        }
        m.nest_end(info);
        on_reply(m.nlh());
    }
    FakeKernel& k_;
};

VlanSpec dx_spec() {
    VlanSpec s;
    s.parent = "eth1";
    s.vlan_id = 100;
    s.mtu = 1500;
    s.address = ip("192.0.2.1");
    s.prefix_length = 30;
    return s;
}

FakeKernel kernel_with_parent() {
    FakeKernel k;
    k.links["eth1"] = FakeLink{3, "veth", 0, 0, 9001, true};
    return k;
}

}  // namespace

TEST_CASE("RTM_NEWLINK kind vlan: name, IFLA_LINK parent, MTU, IFLA_VLAN_ID u16 nested") {
    auto msg = rtnl::build_vlan_link({"eth1.100", 3, 100, 1500});
    const Decoded d = decode(msg.bytes(), sizeof(ifinfomsg));
    CHECK(d.type == RTM_NEWLINK);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));
    CHECK(d.header_as<ifinfomsg>().ifi_index == 0);
    CHECK(d.header_as<ifinfomsg>().ifi_family == AF_UNSPEC);
    CHECK(d.types() == std::vector<std::uint16_t>{IFLA_IFNAME, IFLA_LINK, IFLA_MTU, IFLA_LINKINFO});
    CHECK(str_of(d.get(IFLA_IFNAME)) == "eth1.100");
    CHECK(u32_of(d.get(IFLA_LINK)) == 3);
    CHECK(u32_of(d.get(IFLA_MTU)) == 1500);
    const auto info = decode_nested(d.get(IFLA_LINKINFO));
    REQUIRE(info.size() == 2);
    CHECK(info[0].type == IFLA_INFO_KIND);
    CHECK(str_of(info[0]) == "vlan");
    CHECK(info[1].type == IFLA_INFO_DATA);
    const auto data = decode_nested(info[1]);
    REQUIRE(data.size() == 1);
    CHECK(data[0].type == IFLA_VLAN_ID);
    CHECK(u16_of(data[0]) == 100);  // 2 bytes, host order (NLA_U16)

    auto link = rtnl::parse_link(msg.nlh());
    REQUIRE(link.has_value());
    CHECK(link->kind == "vlan");
    CHECK(link->vlan_id == 100);
    CHECK(link->parent_ifindex == 3);
    CHECK(link->mtu == 1500);
    CHECK(link->xfrm_if_id == 0);
    CHECK_FALSE(link->up);

    // MTU 0: the parent's, no IFLA_MTU.
    auto bare = rtnl::build_vlan_link({"eth1.4094", 3, 4094, 0});
    const Decoded b = decode(bare.bytes(), sizeof(ifinfomsg));
    CHECK(b.types() == std::vector<std::uint16_t>{IFLA_IFNAME, IFLA_LINK, IFLA_LINKINFO});
    CHECK(u16_of(decode_nested(decode_nested(b.get(IFLA_LINKINFO))[1])[0]) == 4094);
}

TEST_CASE("RTM_GETLINK by name, RTM_DELADDR, the address dump and its decoding") {
    auto get = rtnl::build_link_get("eth1.100");
    const Decoded g = decode(get.bytes(), sizeof(ifinfomsg));
    CHECK(g.type == RTM_GETLINK);
    CHECK(g.flags == NLM_F_REQUEST);  // one link, no dump
    CHECK(g.header_as<ifinfomsg>().ifi_index == 0);
    CHECK(g.types() == std::vector<std::uint16_t>{IFLA_IFNAME});
    CHECK(str_of(g.get(IFLA_IFNAME)) == "eth1.100");

    auto del = rtnl::build_address_delete(21, ip("192.0.2.1"), 30);
    const Decoded a = decode(del.bytes(), sizeof(ifaddrmsg));
    CHECK(a.type == RTM_DELADDR);
    CHECK(a.flags == NLM_F_REQUEST);
    CHECK(a.header_as<ifaddrmsg>().ifa_family == AF_INET);
    CHECK(a.header_as<ifaddrmsg>().ifa_prefixlen == 30);
    CHECK(a.header_as<ifaddrmsg>().ifa_index == 21);
    CHECK(a.types() == std::vector<std::uint16_t>{IFA_LOCAL, IFA_ADDRESS});
    CHECK(u32_of(a.get(IFA_LOCAL)) == htonl(0xc0000201));

    auto dump = rtnl::build_address_dump();
    const Decoded dd = decode(dump.bytes(), sizeof(ifaddrmsg));
    CHECK(dd.type == RTM_GETADDR);
    CHECK(dd.flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(dd.header_as<ifaddrmsg>().ifa_family == AF_UNSPEC);  // IPv4 and IPv6
    CHECK(dd.attrs.empty());

    // An RTM_NEWADDR entry decodes back; other message types do not.
    auto entry = rtnl::build_address(21, ip("192.0.2.1"), 30);
    CHECK(rtnl::parse_address(entry.nlh()) == rtnl::AddressInfo{21, ip("192.0.2.1"), 30});
    CHECK_FALSE(rtnl::parse_address(del.nlh()).has_value());
}

TEST_CASE("KernelLinks creates a VLAN: link, address, up, in that order") {
    FakeKernel k = kernel_with_parent();
    KernelLinks links(std::make_unique<FakeTransport>(k));
    auto r = links.create_vlan(dx_spec());
    REQUIRE(r.has_value());
    CHECK(*r == 20);
    REQUIRE(k.links.contains("eth1.100"));
    const FakeLink& l = k.links["eth1.100"];
    CHECK(l.kind == "vlan");
    CHECK(l.parent == 3);
    CHECK(l.vlan == 100);
    CHECK(l.mtu == 1500);
    CHECK(l.up);
    CHECK(k.addrs == std::vector<rtnl::AddressInfo>{{20, ip("192.0.2.1"), 30}});
    std::vector<std::uint16_t> types;
    for (const auto& d : k.sent) types.push_back(d.type);
    // parent lookup, existing? (no), create, lookup of the new index, address, up
    CHECK(types == std::vector<std::uint16_t>{RTM_GETLINK, RTM_GETLINK, RTM_NEWLINK, RTM_GETLINK,
                                              RTM_NEWADDR, RTM_NEWLINK});
    CHECK(k.sent[5].header_as<ifinfomsg>().ifi_index == 20);
    CHECK(k.sent[5].header_as<ifinfomsg>().ifi_flags == IFF_UP);
    CHECK(links.ifindex_of("eth1.100").value_or(0) == 20);
    CHECK(links.ifindex_of("eth9").error().code == Errc::not_found);

    // Again with the same settings: nothing is created or added.
    k.sent.clear();
    REQUIRE(links.create_vlan(dx_spec()).value_or(0) == 20);
    types.clear();
    for (const auto& d : k.sent) types.push_back(d.type);
    CHECK(types == std::vector<std::uint16_t>{RTM_GETLINK, RTM_GETLINK, RTM_GETADDR});
    CHECK(k.addrs.size() == 1);

    // Delete: RTM_DELLINK of its index; a second delete is not_found.
    REQUIRE(links.delete_vlan("eth1.100").has_value());
    CHECK(k.sent.back().type == RTM_DELLINK);
    CHECK(k.sent.back().header_as<ifinfomsg>().ifi_index == 20);
    CHECK_FALSE(k.links.contains("eth1.100"));
    CHECK(links.delete_vlan("eth1.100").error().code == Errc::not_found);
    CHECK(links.delete_vlan("eth1").error().code == Errc::invalid_argument);  // not a VLAN
    CHECK(k.links.contains("eth1"));
}

TEST_CASE("KernelLinks rolls back a failed step and leaves nothing behind") {
    struct Case {
        std::uint16_t type;
        int skip;  // matching requests let through first
    };
    // The address step fails; the up step (the second RTM_NEWLINK) fails.
    for (const Case c : {Case{RTM_NEWADDR, 0}, Case{RTM_NEWLINK, 1}}) {
        INFO("failing message type " << c.type);
        FakeKernel k = kernel_with_parent();
        k.fail_type = c.type;
        k.fail_skip = c.skip;
        KernelLinks links(std::make_unique<FakeTransport>(k));
        auto r = links.create_vlan(dx_spec());
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::system);
        CHECK(r.error().sys_errno == EPERM);
        // The new interface was deleted again, with its address.
        CHECK(k.sent.back().type == RTM_DELLINK);
        CHECK(k.sent.back().header_as<ifinfomsg>().ifi_index == 20);
        CHECK_FALSE(k.links.contains("eth1.100"));
        CHECK(k.addrs.empty());
        CHECK(k.links.size() == 1);  // the parent is untouched
    }
    // The create itself fails: nothing to undo.
    FakeKernel k = kernel_with_parent();
    k.fail_type = RTM_NEWLINK;
    KernelLinks links(std::make_unique<FakeTransport>(k));
    CHECK(links.create_vlan(dx_spec()).error().sys_errno == EPERM);
    CHECK(k.sent.back().type == RTM_NEWLINK);
    CHECK(k.links.size() == 1);
}

TEST_CASE("KernelLinks on an existing VLAN: adds only what is missing, refuses other settings") {
    FakeKernel k = kernel_with_parent();
    k.links["eth1.100"] = FakeLink{30, "vlan", 3, 100, 1500, false};
    KernelLinks links(std::make_unique<FakeTransport>(k));
    REQUIRE(links.create_vlan(dx_spec()).value_or(0) == 30);
    CHECK(k.addrs == std::vector<rtnl::AddressInfo>{{30, ip("192.0.2.1"), 30}});
    CHECK(k.links["eth1.100"].up);
    CHECK(k.links.size() == 2);

    // The address step fails on an existing link: the link stays, our address does not.
    k.addrs.clear();
    k.links["eth1.100"].up = false;
    k.fail_type = RTM_NEWLINK;  // the up step
    auto r = links.create_vlan(dx_spec());
    REQUIRE_FALSE(r.has_value());
    CHECK(k.sent.back().type == RTM_DELADDR);
    CHECK(k.links.contains("eth1.100"));
    CHECK(k.addrs.empty());

    // Other MTU, other VLAN id, other parent, other kind: already_exists, nothing sent after
    // the lookups.
    k.links["eth1.100"].mtu = 1400;
    k.sent.clear();
    CHECK(links.create_vlan(dx_spec()).error().code == Errc::already_exists);
    for (const auto& d : k.sent) CHECK(d.type == RTM_GETLINK);
    k.links["eth1.100"] = FakeLink{30, "vlan", 3, 200, 1500, true};
    CHECK(links.create_vlan(dx_spec()).error().code == Errc::already_exists);
    k.links["eth1.100"] = FakeLink{30, "vlan", 4, 100, 1500, true};
    CHECK(links.create_vlan(dx_spec()).error().code == Errc::already_exists);
    k.links["eth1.100"] = FakeLink{30, "dummy", 0, 0, 1500, true};
    CHECK(links.create_vlan(dx_spec()).error().code == Errc::already_exists);

    // Missing parent: not_found before anything is created.
    auto spec = dx_spec();
    spec.parent = "eth7";
    CHECK(links.create_vlan(spec).error().code == Errc::not_found);
}

TEST_CASE("KernelLinks dual stack: a second call adds the IPv6 /125 next to the IPv4 address") {
    FakeKernel k = kernel_with_parent();
    KernelLinks links(std::make_unique<FakeTransport>(k));
    REQUIRE(links.create_vlan(dx_spec()).value_or(0) == 20);
    // The IPv6 BGP session of the same virtual interface: same VLAN, its own address.
    VlanSpec v6 = dx_spec();
    v6.address = ip6("2001:db8:100::1");
    v6.prefix_length = 125;
    k.sent.clear();
    REQUIRE(links.create_vlan(v6).value_or(0) == 20);
    std::vector<std::uint16_t> types;
    for (const auto& d : k.sent) types.push_back(d.type);
    // parent, existing VLAN, its addresses, the IPv6 address; it is up already.
    CHECK(types == std::vector<std::uint16_t>{RTM_GETLINK, RTM_GETLINK, RTM_GETADDR, RTM_NEWADDR});
    const Decoded& add = k.sent[3];
    CHECK(add.header_as<ifaddrmsg>().ifa_family == AF_INET6);
    CHECK(add.header_as<ifaddrmsg>().ifa_prefixlen == 125);
    CHECK(add.header_as<ifaddrmsg>().ifa_index == 20);
    CHECK(u32_of(add.get(IFA_FLAGS)) == IFA_F_NODAD);
    CHECK(k.addrs == std::vector<rtnl::AddressInfo>{{20, ip("192.0.2.1"), 30},
                                                    {20, ip6("2001:db8:100::1"), 125}});
    CHECK(k.links.size() == 2);
    auto listed = links.addresses(20);
    REQUIRE(listed.has_value());
    CHECK(*listed == k.addrs);

    // Either call again: nothing added (each finds its own address among both families).
    for (const VlanSpec& again : {dx_spec(), v6}) {
        k.sent.clear();
        REQUIRE(links.create_vlan(again).value_or(0) == 20);
        CHECK(k.sent.back().type == RTM_GETADDR);
        CHECK(k.addrs.size() == 2);
    }

    // The IPv6 step fails on the existing VLAN: only the address this call added goes again,
    // the IPv4 one and the interface stay.
    k.addrs.pop_back();
    k.links["eth1.100"].up = false;
    k.fail_type = RTM_NEWLINK;  // the up step
    auto r = links.create_vlan(v6);
    REQUIRE_FALSE(r.has_value());
    CHECK(k.sent.back().type == RTM_DELADDR);
    CHECK(k.sent.back().header_as<ifaddrmsg>().ifa_family == AF_INET6);
    CHECK(k.addrs == std::vector<rtnl::AddressInfo>{{20, ip("192.0.2.1"), 30}});
    CHECK(k.links.contains("eth1.100"));

    // A new VLAN made by the IPv6 session first: the same three steps.
    VlanSpec first = v6;
    first.vlan_id = 200;
    k.sent.clear();
    REQUIRE(links.create_vlan(first).has_value());
    types.clear();
    for (const auto& d : k.sent) types.push_back(d.type);
    CHECK(types == std::vector<std::uint16_t>{RTM_GETLINK, RTM_GETLINK, RTM_NEWLINK, RTM_GETLINK,
                                              RTM_NEWADDR, RTM_NEWLINK});
    CHECK(k.links["eth1.200"].up);
}

TEST_CASE("KernelLinks checks its arguments before any netlink") {
    FakeKernel k = kernel_with_parent();
    KernelLinks links(std::make_unique<FakeTransport>(k));
    auto spec = dx_spec();
    spec.vlan_id = 0;
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec.vlan_id = 4095;
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec = dx_spec();
    spec.parent = "averylongname12";  // "averylongname12.100" is longer than IFNAMSIZ - 1
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec = dx_spec();
    spec.parent = "eth\"1";
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec = dx_spec();
    spec.prefix_length = 33;
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec.address = ip6("2001:db8:100::1");  // 33 is fine for IPv6, 129 is not
    spec.prefix_length = 129;
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    spec = dx_spec();
    spec.mtu = 60;
    CHECK(links.create_vlan(spec).error().code == Errc::invalid_argument);
    CHECK(k.sent.empty());
    CHECK(dx_spec().name() == "eth1.100");
}

TEST_CASE("nft MSS clamp: interface clamps after tunnel clamps, IPv4 only, marked with a comment") {
    const std::string syn = " tcp flags & (syn | rst) == syn tcp option maxseg size > ";
    const std::string v4 = " meta nfproto ipv4";
    const std::string c = " comment \"cgwd interface\"\n";
    // Only an interface clamp: the DX VLAN clamped to the VPN's MSS.
    const std::string only = NftMssClamp::ruleset({}, {{"eth1.100", 1379}});
    const std::string expected_only =
        "add table inet cgwd\n"
        "delete table inet cgwd\n"
        "table inet cgwd {\n"
        "  chain forward {\n"
        "    type filter hook forward priority mangle; policy accept;\n"
        "    iifname \"eth1.100\"" +
        v4 + syn + "1379 tcp option maxseg size set 1379" + c + "    oifname \"eth1.100\"" + v4 +
        syn + "1379 tcp option maxseg size set 1379" + c +
        "  }\n"
        "  chain output {\n"
        "    type filter hook output priority mangle; policy accept;\n"
        "    oifname \"eth1.100\"" +
        v4 + syn + "1379 tcp option maxseg size set 1379" + c +
        "  }\n"
        "  chain input {\n"
        "    type filter hook input priority mangle; policy accept;\n"
        "    iifname \"eth1.100\"" +
        v4 + syn + "1379 tcp option maxseg size set 1379" + c +
        "  }\n"
        "}\n";
    CHECK(only == expected_only);

    // Both kinds: tunnel rules first (no comment), then interface rules.
    const std::string both = NftMssClamp::ruleset({{"cgwd1", 1379}}, {{"dx0.7", 1400}});
    const std::string expected_output =
        "  chain output {\n"
        "    type filter hook output priority mangle; policy accept;\n"
        "    oifname \"cgwd1\"" +
        syn +
        "1379 tcp option maxseg size set 1379\n"
        "    oifname \"dx0.7\"" +
        v4 + syn + "1400 tcp option maxseg size set 1400" + c + "  }\n";
    CHECK(both.find(expected_output) != std::string::npos);
    // The one-argument form is the two-argument form with no interface clamps.
    CHECK(NftMssClamp::ruleset({{"cgwd1", 1379}}) == NftMssClamp::ruleset({{"cgwd1", 1379}}, {}));
    CHECK(NftMssClamp::ruleset({}, {}) == "add table inet cgwd\ndelete table inet cgwd\n");

    NftMssClamp clamp;  // standalone (no KernelDataplane); checks happen before nft runs
    CHECK(clamp.set_interface_clamp("eth1 .100", 1379).error().code == Errc::invalid_argument);
    CHECK(clamp.set_interface_clamp("eth1.100", 87).error().code == Errc::invalid_argument);
    CHECK(clamp.set_interface_clamp("", 1379).error().code == Errc::invalid_argument);
    CHECK(clamp.set_interface_clamp("eth1.100", 0).has_value());  // nothing to remove
    CHECK(clamp.interface_clamps().empty());
    CHECK(clamp.empty());

    auto dp = KernelDataplane::create({});
    REQUIRE(dp.has_value());
    CHECK((*dp)->set_interface_mss_clamp("bad\"name", 1379).error().code == Errc::invalid_argument);
    CHECK((*dp)->mss_clamp().empty());
}
