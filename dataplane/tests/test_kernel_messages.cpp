// The kernel backend's netlink messages, decoded back attribute by attribute with libmnl.
// Expected layouts: Linux UAPI <linux/xfrm.h>, <linux/rtnetlink.h>, <linux/if_link.h>;
// algorithm names and lengths as iproute2's `ip xfrm state` and strongSwan's kernel-netlink
// plugin use them (RFC 4106 ICV 128 bits; RFC 2404 / RFC 4868 truncation 96/128/192/256).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cgwd/dataplane/kernel.hpp"
#include "cgwd/dataplane/nft_mss.hpp"
#include "cgwd/dataplane/routes.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "cgwd/dataplane/xfrm_messages.hpp"
#include "netlink_decode.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::IpAddress;
using cgwd::config::IpPrefix;
using cgwd::config::Ipv4Address;
using cgwd::config::Ipv4Prefix;
using cgwd::config::Ipv6Address;
using cgwd::config::Ipv6Prefix;
namespace integ = cgwd::config::integ;
namespace encr = cgwd::config::encr;
using test::Bytes;
using test::hex;
using namespace test::nl;

namespace {

Ipv4Address ip(const char* s) {
    return *Ipv4Address::parse(s);
}
Ipv4Prefix pfx(const char* s) {
    return *Ipv4Prefix::parse(s);
}
std::uint32_t be_ip(const char* s) {
    return htonl(ip(s).value);
}
Ipv6Address ip6(const char* s) {
    return *Ipv6Address::parse(s);
}
Ipv6Prefix pfx6(const char* s) {
    return *Ipv6Prefix::parse(s);
}
// The 16 network-order bytes of an IPv6 address, as an attribute payload holds them.
Bytes b6(const char* s) {
    const auto a = ip6(s);
    return Bytes(a.bytes.begin(), a.bytes.end());
}

SaConfig gcm_sa() {
    SaConfig sa;
    sa.direction = Direction::outbound;
    sa.spi = 0xc0ffee01;
    sa.src = ip("192.0.2.1");
    sa.dst = ip("198.51.100.7");
    sa.encap = UdpEncap{4500, 31337};
    sa.cipher = {encr::aes_gcm_16, 256};
    sa.enc_key =
        KeyBytes(hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                     "deadbeef"));
    sa.lifetime.bytes = {1000000, 2000000};
    sa.lifetime.packets = {0, 5000};
    sa.lifetime.seconds = {2700, 3600};
    sa.reqid = 17;
    sa.if_id = default_if_id_min + 5;
    return sa;
}

}  // namespace

TEST_CASE("XFRM NEWSA, AES-GCM-16-256 with UDP encapsulation, if_id, mark and lifetimes") {
    const SaConfig sa = gcm_sa();
    auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, xfrm::Mark{0x42, 0xff});
    REQUIRE(msg.has_value());
    const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
    CHECK(d.type == XFRM_MSG_NEWSA);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));

    const auto info = d.header_as<xfrm_usersa_info>();
    CHECK(info.id.daddr.a4 == be_ip("198.51.100.7"));
    CHECK(info.id.spi == htonl(0xc0ffee01));
    CHECK(info.id.proto == IPPROTO_ESP);
    CHECK(info.saddr.a4 == be_ip("192.0.2.1"));
    CHECK(info.family == AF_INET);
    CHECK(info.mode == XFRM_MODE_TUNNEL);
    CHECK(info.reqid == 17);
    CHECK(info.flags == 0);  // no ESN
    CHECK(info.replay_window == 0);
    CHECK(info.sel.family == AF_INET);
    CHECK(info.sel.prefixlen_d == 0);
    CHECK(info.sel.prefixlen_s == 0);
    CHECK(info.lft.soft_byte_limit == 1000000);
    CHECK(info.lft.hard_byte_limit == 2000000);
    CHECK(info.lft.soft_packet_limit == XFRM_INF);  // 0 = no limit -> XFRM_INF
    CHECK(info.lft.hard_packet_limit == 5000);
    CHECK(info.lft.soft_add_expires_seconds == 2700);
    CHECK(info.lft.hard_add_expires_seconds == 3600);
    CHECK(info.lft.soft_use_expires_seconds == 0);
    CHECK(info.curlft.bytes == 0);

    CHECK(d.types() ==
          std::vector<std::uint16_t>{XFRMA_ALG_AEAD, XFRMA_ENCAP, XFRMA_IF_ID, XFRMA_MARK});
    const Attr* aead = d.find(XFRMA_ALG_AEAD);
    REQUIRE(aead != nullptr);
    REQUIRE(aead->payload.size() == sizeof(xfrm_algo_aead) + 36);
    xfrm_algo_aead algo{};
    std::memcpy(&algo, aead->payload.data(), sizeof algo);
    CHECK(std::string(algo.alg_name) == "rfc4106(gcm(aes))");
    CHECK(algo.alg_key_len == 288);  // 32-byte key + 4-byte salt, in bits
    CHECK(algo.alg_icv_len == 128);
    CHECK(tail(*aead, sizeof(xfrm_algo_aead)) ==
          hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fdeadbeef"));

    const auto encap = struct_of<xfrm_encap_tmpl>(*d.find(XFRMA_ENCAP));
    CHECK(encap.encap_type == UDP_ENCAP_ESPINUDP);
    CHECK(encap.encap_sport == htons(4500));
    CHECK(encap.encap_dport == htons(31337));
    CHECK(encap.encap_oa.a4 == 0);
    CHECK(u32_of(*d.find(XFRMA_IF_ID)) == default_if_id_min + 5);
    const auto mark = struct_of<xfrm_mark>(*d.find(XFRMA_MARK));
    CHECK(mark.v == 0x42);
    CHECK(mark.m == 0xff);
}

TEST_CASE("XFRM NEWSA, AES-CBC with each HMAC: algorithm names, key and truncation lengths") {
    struct Row {
        std::uint16_t integ;
        const char* name;
        unsigned trunc_bits;
        std::size_t key_bytes;
    };
    const Row rows[] = {{integ::hmac_sha1_96, "hmac(sha1)", 96, 20},
                        {integ::hmac_sha2_256_128, "hmac(sha256)", 128, 32},
                        {integ::hmac_sha2_384_192, "hmac(sha384)", 192, 48},
                        {integ::hmac_sha2_512_256, "hmac(sha512)", 256, 64}};
    for (const Row& row : rows) {
        for (std::uint16_t bits : {std::uint16_t{128}, std::uint16_t{256}}) {
            CAPTURE(row.name, bits);
            SaConfig sa = gcm_sa();
            sa.encap.reset();
            sa.cipher = {encr::aes_cbc, bits};
            Bytes ek(bits / 8), ik(row.key_bytes);
            for (std::size_t i = 0; i < ek.size(); ++i) ek[i] = static_cast<std::uint8_t>(i);
            for (std::size_t i = 0; i < ik.size(); ++i) ik[i] = static_cast<std::uint8_t>(0xa0 + i);
            sa.enc_key = KeyBytes(ek);
            sa.integ = row.integ;
            sa.integ_key = KeyBytes(ik);
            REQUIRE(validate(sa).has_value());
            auto msg = xfrm::build_sa(XFRM_MSG_UPDSA, sa, std::nullopt);
            REQUIRE(msg.has_value());
            const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
            CHECK(d.type == XFRM_MSG_UPDSA);
            CHECK(d.flags == NLM_F_REQUEST);  // update: no create/excl
            CHECK(d.types() ==
                  std::vector<std::uint16_t>{XFRMA_ALG_CRYPT, XFRMA_ALG_AUTH_TRUNC, XFRMA_IF_ID});
            const Attr& crypt = *d.find(XFRMA_ALG_CRYPT);
            REQUIRE(crypt.payload.size() == sizeof(xfrm_algo) + ek.size());
            xfrm_algo c{};
            std::memcpy(&c, crypt.payload.data(), sizeof c);
            CHECK(std::string(c.alg_name) == "cbc(aes)");
            CHECK(c.alg_key_len == bits);
            CHECK(tail(crypt, sizeof(xfrm_algo)) == ek);

            const Attr& auth = *d.find(XFRMA_ALG_AUTH_TRUNC);
            REQUIRE(auth.payload.size() == sizeof(xfrm_algo_auth) + ik.size());
            xfrm_algo_auth a{};
            std::memcpy(&a, auth.payload.data(), sizeof a);
            CHECK(std::string(a.alg_name) == row.name);
            CHECK(a.alg_key_len == row.key_bytes * 8);
            CHECK(a.alg_trunc_len == row.trunc_bits);
            CHECK(tail(auth, sizeof(xfrm_algo_auth)) == ik);
        }
    }
}

TEST_CASE("XFRM replay state: legacy field, XFRMA_REPLAY_ESN_VAL for big windows and ESN") {
    SaConfig sa = gcm_sa();
    sa.direction = Direction::inbound;
    sa.replay_window = 1024;
    {
        auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, std::nullopt);
        REQUIRE(msg.has_value());
        const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
        const auto info = d.header_as<xfrm_usersa_info>();
        CHECK(info.replay_window == 0);  // the kernel wants 0 next to the ESN attribute
        CHECK(info.flags == 0);
        const Attr* r = d.find(XFRMA_REPLAY_ESN_VAL);
        REQUIRE(r != nullptr);
        REQUIRE(r->payload.size() == sizeof(xfrm_replay_state_esn) + 32 * 4);
        xfrm_replay_state_esn esn{};
        std::memcpy(&esn, r->payload.data(), sizeof esn);
        CHECK(esn.bmp_len == 32);
        CHECK(esn.replay_window == 1024);
        CHECK(esn.oseq == 0);
        CHECK(esn.seq == 0);
        CHECK(esn.oseq_hi == 0);
        CHECK(esn.seq_hi == 0);
        CHECK(tail(*r, sizeof esn) == Bytes(128, 0));
    }
    sa.replay_window = 100;  // not a multiple of 32: the bitmap rounds up
    sa.esn = true;
    {
        auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, std::nullopt);
        REQUIRE(msg.has_value());
        const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
        CHECK(d.header_as<xfrm_usersa_info>().flags == XFRM_STATE_ESN);
        const Attr* r = d.find(XFRMA_REPLAY_ESN_VAL);
        REQUIRE(r != nullptr);
        REQUIRE(r->payload.size() == sizeof(xfrm_replay_state_esn) + 4 * 4);
        xfrm_replay_state_esn esn{};
        std::memcpy(&esn, r->payload.data(), sizeof esn);
        CHECK(esn.bmp_len == 4);
        CHECK(esn.replay_window == 100);
    }
    sa.direction = Direction::outbound;  // outbound ESN: a one-word window, flag set
    {
        auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, std::nullopt);
        REQUIRE(msg.has_value());
        const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
        CHECK(d.header_as<xfrm_usersa_info>().flags == XFRM_STATE_ESN);
        CHECK(d.header_as<xfrm_usersa_info>().replay_window == 0);
        const auto esn = struct_of<xfrm_replay_state_esn>(*d.find(XFRMA_REPLAY_ESN_VAL),
                                                          sizeof(xfrm_replay_state_esn) + 4);
        CHECK(esn.bmp_len == 1);
        CHECK(esn.replay_window == 32);
    }
    sa.esn = false;  // outbound without ESN: no replay state at all
    {
        auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, std::nullopt);
        REQUIRE(msg.has_value());
        const Decoded d = decode(msg->bytes(), sizeof(xfrm_usersa_info));
        CHECK(d.find(XFRMA_REPLAY_ESN_VAL) == nullptr);
        CHECK(d.header_as<xfrm_usersa_info>().replay_window == 0);
    }
}

TEST_CASE("XFRM DELSA / GETSA: the SA id, and the mark when there is one") {
    const SaKey key{0x00001234, ip("203.0.113.9")};
    for (std::uint16_t type : {std::uint16_t{XFRM_MSG_DELSA}, std::uint16_t{XFRM_MSG_GETSA}}) {
        auto msg = xfrm::build_sa_id(type, key, std::nullopt);
        const Decoded d = decode(msg.bytes(), sizeof(xfrm_usersa_id));
        CHECK(d.type == type);
        CHECK(d.flags == NLM_F_REQUEST);
        const auto id = d.header_as<xfrm_usersa_id>();
        CHECK(id.daddr.a4 == be_ip("203.0.113.9"));
        CHECK(id.spi == htonl(0x1234));
        CHECK(id.family == AF_INET);
        CHECK(id.proto == IPPROTO_ESP);
        CHECK(d.attrs.empty());
    }
    auto marked = xfrm::build_sa_id(XFRM_MSG_DELSA, key, xfrm::Mark{7, 0xffffffff});
    const Decoded d = decode(marked.bytes(), sizeof(xfrm_usersa_id));
    REQUIRE(d.types() == std::vector<std::uint16_t>{XFRMA_MARK});
    CHECK(struct_of<xfrm_mark>(d.attrs[0]).v == 7);
}

TEST_CASE("XFRM NEWPOLICY / DELPOLICY: selector, tunnel-mode ESP template, if_id") {
    Policy p;
    p.direction = PolicyDirection::fwd;
    p.src = pfx("0.0.0.0/0");
    p.dst = pfx("10.20.0.0/16");
    p.tunnel_src = ip("198.51.100.7");
    p.tunnel_dst = ip("192.0.2.1");
    p.reqid = 17;
    p.if_id = default_if_id_min + 5;
    p.priority = 1000;
    auto msg = xfrm::build_policy(p, std::nullopt);
    const Decoded d = decode(msg.bytes(), sizeof(xfrm_userpolicy_info));
    CHECK(d.type == XFRM_MSG_NEWPOLICY);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));
    const auto info = d.header_as<xfrm_userpolicy_info>();
    CHECK(info.dir == XFRM_POLICY_FWD);
    CHECK(info.action == XFRM_POLICY_ALLOW);
    CHECK(info.priority == 1000);
    CHECK(info.sel.family == AF_INET);
    CHECK(info.sel.saddr.a4 == 0);
    CHECK(info.sel.prefixlen_s == 0);
    CHECK(info.sel.daddr.a4 == be_ip("10.20.0.0"));
    CHECK(info.sel.prefixlen_d == 16);
    CHECK(info.lft.hard_byte_limit == XFRM_INF);
    CHECK(info.lft.hard_packet_limit == XFRM_INF);
    CHECK(d.types() == std::vector<std::uint16_t>{XFRMA_TMPL, XFRMA_IF_ID});
    const auto t = struct_of<xfrm_user_tmpl>(*d.find(XFRMA_TMPL));
    CHECK(t.id.daddr.a4 == be_ip("192.0.2.1"));
    CHECK(t.id.spi == 0);
    CHECK(t.id.proto == IPPROTO_ESP);
    CHECK(t.saddr.a4 == be_ip("198.51.100.7"));
    CHECK(t.family == AF_INET);
    CHECK(t.mode == XFRM_MODE_TUNNEL);
    CHECK(t.reqid == 17);
    CHECK(t.optional == 0);
    CHECK(t.aalgos == ~0U);
    CHECK(t.ealgos == ~0U);
    CHECK(t.calgos == ~0U);
    CHECK(u32_of(*d.find(XFRMA_IF_ID)) == default_if_id_min + 5);

    // The kernel's own dump entry of that policy decodes back to the key.
    auto parsed = xfrm::parse_policy(msg.nlh());
    REQUIRE(parsed.has_value());
    CHECK(parsed->key == key_of(p));

    auto del = xfrm::build_policy_delete(key_of(p), xfrm::Mark{1, 1});
    const Decoded dd = decode(del.bytes(), sizeof(xfrm_userpolicy_id));
    CHECK(dd.type == XFRM_MSG_DELPOLICY);
    const auto id = dd.header_as<xfrm_userpolicy_id>();
    CHECK(id.dir == XFRM_POLICY_FWD);
    CHECK(id.sel.daddr.a4 == be_ip("10.20.0.0"));
    CHECK(id.sel.prefixlen_d == 16);
    CHECK(dd.types() == std::vector<std::uint16_t>{XFRMA_IF_ID, XFRMA_MARK});
}

TEST_CASE("XFRM replies: GETSA counters and EXPIRE notifications decode into dataplane types") {
    // A reply as the kernel sends it: our NEWSA with the current-lifetime fields filled in.
    auto reply = xfrm::build_sa(XFRM_MSG_NEWSA, gcm_sa(), std::nullopt);
    REQUIRE(reply.has_value());
    auto* info = reply->header_as<xfrm_usersa_info>();
    info->curlft.bytes = 123456;
    info->curlft.packets = 789;
    info->curlft.add_time = 1700000000;
    info->curlft.use_time = 1700000005;
    info->stats.replay = 3;
    info->stats.replay_window = 2;
    info->stats.integrity_failed = 4;
    auto sa = xfrm::parse_sa(reply->nlh());
    REQUIRE(sa.has_value());
    CHECK(sa->key == gcm_sa().key());
    CHECK(sa->src == ip("192.0.2.1"));
    CHECK(sa->if_id == default_if_id_min + 5);
    CHECK_FALSE(sa->mark.has_value());
    CHECK(sa->stats.counters == SaCounters{123456, 789, 5, 4});
    CHECK(sa->stats.lifetime == gcm_sa().lifetime);  // XFRM_INF back to 0
    CHECK(sa->stats.add_time == 1700000000);
    CHECK(sa->stats.use_time == 1700000005);

    // XFRM_MSG_EXPIRE = xfrm_user_expire (state + hard flag) + the SA's attributes.
    auto expire = [&](bool hard, std::uint64_t bytes, std::uint64_t packets) {
        nl::NlMessage m(XFRM_MSG_EXPIRE, 0, sizeof(xfrm_user_expire));
        auto* ue = m.header_as<xfrm_user_expire>();
        ue->state = *info;
        ue->state.curlft.bytes = bytes;
        ue->state.curlft.packets = packets;
        ue->hard = hard ? 1 : 0;
        m.put_u32(XFRMA_IF_ID, default_if_id_min + 5);
        auto e = xfrm::parse_expire(m.nlh());
        REQUIRE(e.has_value());
        CHECK(e->sa.key == gcm_sa().key());
        CHECK(e->sa.if_id == default_if_id_min + 5);
        return std::make_pair(e->kind, e->cause);
    };
    // Soft byte limit 1000000, hard 2000000; packets: hard 5000 only.
    CHECK(expire(false, 1000000, 10) == std::make_pair(ExpiryKind::soft, ExpiryCause::bytes));
    CHECK(expire(false, 999999, 10) == std::make_pair(ExpiryKind::soft, ExpiryCause::time));
    CHECK(expire(true, 1500000, 5000) == std::make_pair(ExpiryKind::hard, ExpiryCause::packets));
    CHECK(expire(true, 2000000, 1) == std::make_pair(ExpiryKind::hard, ExpiryCause::bytes));
    CHECK(expire(true, 1999999, 4999) == std::make_pair(ExpiryKind::hard, ExpiryCause::time));
    // Not an expire message: refused.
    CHECK_FALSE(xfrm::parse_expire(reply->nlh()).has_value());
}

TEST_CASE("RTM_NEWLINK kind xfrm: name, MTU, IFLA_XFRM_LINK and IFLA_XFRM_IF_ID nested") {
    auto msg = rtnl::build_xfrm_link({"cgwd7", 0x63670007, 3, 1436});
    const Decoded d = decode(msg.bytes(), sizeof(ifinfomsg));
    CHECK(d.type == RTM_NEWLINK);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));
    CHECK(d.header_as<ifinfomsg>().ifi_index == 0);
    CHECK(d.types() == std::vector<std::uint16_t>{IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO});
    CHECK(str_of(*d.find(IFLA_IFNAME)) == "cgwd7");
    CHECK(u32_of(*d.find(IFLA_MTU)) == 1436);
    const auto info = decode_nested(*d.find(IFLA_LINKINFO));
    REQUIRE(info.size() == 2);
    CHECK(info[0].type == IFLA_INFO_KIND);
    CHECK(str_of(info[0]) == "xfrm");
    CHECK(info[1].type == IFLA_INFO_DATA);
    const auto data = decode_nested(info[1]);
    REQUIRE(data.size() == 2);
    CHECK(data[0].type == IFLA_XFRM_LINK);
    CHECK(u32_of(data[0]) == 3);
    CHECK(data[1].type == IFLA_XFRM_IF_ID);
    CHECK(u32_of(data[1]) == 0x63670007);

    // As a dump entry, the same message decodes into the link's kind and if_id.
    auto link = rtnl::parse_link(msg.nlh());
    REQUIRE(link.has_value());
    CHECK(link->name == "cgwd7");
    CHECK(link->kind == "xfrm");
    CHECK(link->xfrm_if_id == 0x63670007);
    CHECK(link->mtu == 1436);

    // No underlying interface: no IFLA_XFRM_LINK.
    auto bare = rtnl::build_xfrm_link({"cgwd8", 9, 0, 0});
    const Decoded b = decode(bare.bytes(), sizeof(ifinfomsg));
    CHECK(b.types() == std::vector<std::uint16_t>{IFLA_IFNAME, IFLA_LINKINFO});
    const auto binfo = decode_nested(*b.find(IFLA_LINKINFO));
    REQUIRE(binfo.size() == 2);
    const auto bdata = decode_nested(binfo[1]);
    REQUIRE(bdata.size() == 1);
    CHECK(bdata[0].type == IFLA_XFRM_IF_ID);
}

TEST_CASE("RTM_NEWADDR, link up and RTM_DELLINK") {
    auto addr = rtnl::build_address(12, ip("169.254.10.2"), 30);
    const Decoded a = decode(addr.bytes(), sizeof(ifaddrmsg));
    CHECK(a.type == RTM_NEWADDR);
    CHECK(a.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));
    const auto ifa = a.header_as<ifaddrmsg>();
    CHECK(ifa.ifa_family == AF_INET);
    CHECK(ifa.ifa_prefixlen == 30);
    CHECK(ifa.ifa_index == 12);
    CHECK(a.types() == std::vector<std::uint16_t>{IFA_LOCAL, IFA_ADDRESS});
    CHECK(u32_of(*a.find(IFA_LOCAL)) == be_ip("169.254.10.2"));
    CHECK(u32_of(*a.find(IFA_ADDRESS)) == be_ip("169.254.10.2"));

    auto up = rtnl::build_link_up(12);
    const Decoded u = decode(up.bytes(), sizeof(ifinfomsg));
    CHECK(u.type == RTM_NEWLINK);
    CHECK(u.flags == NLM_F_REQUEST);
    CHECK(u.header_as<ifinfomsg>().ifi_index == 12);
    CHECK(u.header_as<ifinfomsg>().ifi_flags == IFF_UP);
    CHECK(u.header_as<ifinfomsg>().ifi_change == IFF_UP);
    CHECK(u.attrs.empty());

    auto del = rtnl::build_link_delete(12);
    const Decoded l = decode(del.bytes(), sizeof(ifinfomsg));
    CHECK(l.type == RTM_DELLINK);
    CHECK(l.header_as<ifinfomsg>().ifi_index == 12);
}

TEST_CASE("RTM_NEWROUTE: one hop with gateway, in a table above 255, replace semantics") {
    rtnl::RouteMessage r;
    r.destination = pfx("10.1.0.0/16");
    r.hops = {{5, ip("169.254.10.1"), 1}};
    r.table = 1000;
    r.metric = 50;
    r.protocol = default_route_protocol;
    auto msg = rtnl::build_route_replace(r);
    const Decoded d = decode(msg.bytes(), sizeof(rtmsg));
    CHECK(d.type == RTM_NEWROUTE);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE));
    const auto rtm = d.header_as<rtmsg>();
    CHECK(rtm.rtm_family == AF_INET);
    CHECK(rtm.rtm_dst_len == 16);
    CHECK(rtm.rtm_table == RT_TABLE_UNSPEC);  // > 255: only in RTA_TABLE
    CHECK(rtm.rtm_protocol == 199);
    CHECK(rtm.rtm_scope == RT_SCOPE_UNIVERSE);
    CHECK(rtm.rtm_type == RTN_UNICAST);
    CHECK(d.types() ==
          std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY, RTA_OIF, RTA_GATEWAY});
    CHECK(u32_of(*d.find(RTA_DST)) == be_ip("10.1.0.0"));
    CHECK(u32_of(*d.find(RTA_TABLE)) == 1000);
    CHECK(u32_of(*d.find(RTA_PRIORITY)) == 50);
    CHECK(u32_of(*d.find(RTA_OIF)) == 5);
    CHECK(u32_of(*d.find(RTA_GATEWAY)) == be_ip("169.254.10.1"));
    auto back = rtnl::parse_route(msg.nlh());
    REQUIRE(back.has_value());
    CHECK(*back == r);

    // A device route (no gateway) in the main table: scope link, table in both places.
    rtnl::RouteMessage dev{pfx("10.2.0.0/24"), {{7, std::nullopt, 1}}, 254, 0, 199};
    auto dm = rtnl::build_route_replace(dev);
    const Decoded dd = decode(dm.bytes(), sizeof(rtmsg));
    CHECK(dd.header_as<rtmsg>().rtm_table == RT_TABLE_MAIN);
    CHECK(dd.header_as<rtmsg>().rtm_scope == RT_SCOPE_LINK);
    CHECK(dd.find(RTA_GATEWAY) == nullptr);
    CHECK(rtnl::parse_route(dm.nlh()) == dev);
}

TEST_CASE("RTM_NEWROUTE: ECMP as RTA_MULTIPATH with weights and per-hop gateways") {
    rtnl::RouteMessage r;
    r.destination = pfx("0.0.0.0/0");
    r.hops = {{5, ip("169.254.10.1"), 1}, {6, std::nullopt, 3}, {9, ip("169.254.11.5"), 255}};
    r.table = 100;
    r.protocol = 199;
    auto msg = rtnl::build_route_replace(r);
    const Decoded d = decode(msg.bytes(), sizeof(rtmsg));
    CHECK(d.header_as<rtmsg>().rtm_table == 100);
    CHECK(d.header_as<rtmsg>().rtm_dst_len == 0);
    CHECK(d.types() == std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY, RTA_MULTIPATH});
    const Attr& mp = *d.find(RTA_MULTIPATH);
    // Three rtnexthop (8 bytes each), two of them followed by RTA_GATEWAY (8 bytes).
    REQUIRE(mp.payload.size() == 8 + 8 + 8 + 8 + 8);
    struct Expect {
        std::uint16_t len;
        std::uint8_t hops;
        int ifindex;
        std::uint32_t gw;  // 0: none
    };
    const Expect expect[] = {
        {16, 0, 5, be_ip("169.254.10.1")}, {8, 2, 6, 0}, {16, 254, 9, be_ip("169.254.11.5")}};
    std::size_t at = 0;
    for (const Expect& e : expect) {
        rtnexthop nh{};
        std::memcpy(&nh, mp.payload.data() + at, sizeof nh);
        CHECK(nh.rtnh_len == e.len);
        CHECK(nh.rtnh_flags == 0);
        CHECK(nh.rtnh_hops == e.hops);  // weight - 1
        CHECK(nh.rtnh_ifindex == e.ifindex);
        if (e.gw != 0) {
            nlattr a{};
            std::memcpy(&a, mp.payload.data() + at + 8, sizeof a);
            CHECK(a.nla_len == 8);
            CHECK(a.nla_type == RTA_GATEWAY);
            std::uint32_t gw = 0;
            std::memcpy(&gw, mp.payload.data() + at + 12, 4);
            CHECK(gw == e.gw);
        }
        at += e.len;
    }
    CHECK(rtnl::parse_route(msg.nlh()) == r);

    // A hop the kernel reports with weight 256 (`ip route ... nexthop weight 256`, rtnh_hops
    // 255) reads as 255, not as 0 (uint8 overflow).
    auto bytes = std::vector<std::uint8_t>(msg.bytes().begin(), msg.bytes().end());
    const auto found =
        std::search(bytes.begin(), bytes.end(), mp.payload.begin(), mp.payload.end());
    REQUIRE(found != bytes.end());
    const auto mp_at = static_cast<std::size_t>(found - bytes.begin());
    bytes[mp_at + 16 + 3] = 255;  // the second hop's rtnh_hops
    std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    auto heavy = rtnl::parse_route(reinterpret_cast<const nlmsghdr*>(aligned.data()));
    REQUIRE(heavy.has_value());
    REQUIRE(heavy->hops.size() == 3);
    CHECK(heavy->hops[1].weight == 255);
    CHECK(heavy->hops[0].weight == 1);
}

TEST_CASE("RTM_DELROUTE restricted to our protocol, and the dump requests") {
    auto del = rtnl::build_route_delete(pfx("10.1.0.0/16"), 254, 20, 199);
    const Decoded d = decode(del.bytes(), sizeof(rtmsg));
    CHECK(d.type == RTM_DELROUTE);
    CHECK(d.flags == NLM_F_REQUEST);
    CHECK(d.header_as<rtmsg>().rtm_protocol == 199);
    CHECK(d.header_as<rtmsg>().rtm_dst_len == 16);
    CHECK(d.header_as<rtmsg>().rtm_scope == RT_SCOPE_NOWHERE);
    CHECK(d.types() == std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY});
    CHECK(u32_of(*d.find(RTA_PRIORITY)) == 20);

    auto dump = rtnl::build_route_dump();
    const Decoded r = decode(dump.bytes(), sizeof(rtmsg));
    CHECK(r.type == RTM_GETROUTE);
    CHECK(r.flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(r.header_as<rtmsg>().rtm_family == AF_UNSPEC);  // IPv4 and IPv6 in one dump
    CHECK(r.attrs.empty());
    CHECK(decode(xfrm::build_sa_dump().bytes(), 0).flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(decode(xfrm::build_policy_dump().bytes(), 0).type == XFRM_MSG_GETPOLICY);
}

TEST_CASE("RTM_NEWROUTE IPv6: one hop, AF_INET6, 16-byte RTA_DST and RTA_GATEWAY") {
    rtnl::RouteMessage r;
    r.destination = pfx6("2001:db8:50::/48");
    r.hops = {{5, ip6("2001:db8:99::2"), 1}};
    r.table = 254;
    r.metric = 1024;
    r.protocol = 199;
    auto msg = rtnl::build_route_replace(r);
    const Decoded d = decode(msg.bytes(), sizeof(rtmsg));
    CHECK(d.type == RTM_NEWROUTE);
    CHECK(d.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE));
    const auto rtm = d.header_as<rtmsg>();
    CHECK(rtm.rtm_family == AF_INET6);
    CHECK(rtm.rtm_dst_len == 48);
    CHECK(rtm.rtm_src_len == 0);
    CHECK(rtm.rtm_table == RT_TABLE_MAIN);
    CHECK(rtm.rtm_protocol == 199);
    CHECK(rtm.rtm_type == RTN_UNICAST);
    CHECK(d.types() ==
          std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY, RTA_OIF, RTA_GATEWAY});
    CHECK(d.get(RTA_DST).payload == b6("2001:db8:50::"));
    CHECK(u32_of(d.get(RTA_TABLE)) == 254);
    CHECK(u32_of(d.get(RTA_PRIORITY)) == 1024);
    CHECK(u32_of(d.get(RTA_OIF)) == 5);
    CHECK(d.get(RTA_GATEWAY).payload == b6("2001:db8:99::2"));
    CHECK(rtnl::parse_route(msg.nlh()) == r);

    // A link-local gateway (a BGP next hop often is one) goes the same way, with its device.
    r.hops = {{7, ip6("fe80::1"), 1}};
    auto ll = rtnl::build_route_replace(r);
    const Decoded l = decode(ll.bytes(), sizeof(rtmsg));
    CHECK(l.get(RTA_GATEWAY).payload == b6("fe80::1"));
    CHECK(u32_of(l.get(RTA_OIF)) == 7);
    CHECK(rtnl::parse_route(ll.nlh()) == r);

    // A device route: no RTA_GATEWAY.
    rtnl::RouteMessage dev{pfx6("2001:db8:51::/64"), {{7, std::nullopt, 1}}, 254, 1024, 199};
    auto dm = rtnl::build_route_replace(dev);
    const Decoded dd = decode(dm.bytes(), sizeof(rtmsg));
    CHECK(dd.header_as<rtmsg>().rtm_family == AF_INET6);
    CHECK(dd.types() == std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY, RTA_OIF});
    CHECK(rtnl::parse_route(dm.nlh()) == dev);
}

TEST_CASE("RTM_NEWROUTE IPv6 ECMP: RTA_MULTIPATH, each rtnexthop with a 16-byte RTA_GATEWAY") {
    rtnl::RouteMessage r;
    r.destination = pfx6("::/0");
    r.hops = {{5, ip6("2001:db8:99::2"), 1}, {6, ip6("2001:db8:99:1::2"), 3}};
    r.table = 100;
    r.metric = 1024;
    r.protocol = 199;
    auto msg = rtnl::build_route_replace(r);
    const Decoded d = decode(msg.bytes(), sizeof(rtmsg));
    const auto rtm = d.header_as<rtmsg>();
    CHECK(rtm.rtm_family == AF_INET6);
    CHECK(rtm.rtm_dst_len == 0);
    CHECK(rtm.rtm_table == 100);
    CHECK(rtm.rtm_scope == RT_SCOPE_UNIVERSE);
    CHECK(d.types() == std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY, RTA_MULTIPATH});
    CHECK(d.get(RTA_DST).payload == Bytes(16, 0));  // ::, still 16 bytes
    const Attr& mp = d.get(RTA_MULTIPATH);
    // Two rtnexthop (8 bytes), each followed by RTA_GATEWAY (4 + 16 bytes): 28 bytes a hop.
    REQUIRE(mp.payload.size() == 2 * 28);
    struct Expect {
        std::uint8_t hops;
        int ifindex;
        const char* gw;
    };
    const Expect expect[] = {{0, 5, "2001:db8:99::2"}, {2, 6, "2001:db8:99:1::2"}};
    std::size_t at = 0;
    for (const Expect& e : expect) {
        rtnexthop nh{};
        std::memcpy(&nh, mp.payload.data() + at, sizeof nh);
        CHECK(nh.rtnh_len == 28);
        CHECK(nh.rtnh_flags == 0);
        CHECK(nh.rtnh_hops == e.hops);  // weight - 1
        CHECK(nh.rtnh_ifindex == e.ifindex);
        const auto attrs = walk(mp.payload.data() + at + 8, 20);
        REQUIRE(attrs.size() == 1);
        CHECK(attrs[0].type == RTA_GATEWAY);
        CHECK(attrs[0].payload == b6(e.gw));
        at += 28;
    }
    CHECK(rtnl::parse_route(msg.nlh()) == r);
}

TEST_CASE("RTM_DELROUTE IPv6: AF_INET6, 16-byte RTA_DST, restricted to our protocol") {
    auto del = rtnl::build_route_delete(pfx6("2001:db8:50::/48"), 1000, 1024, 199);
    const Decoded d = decode(del.bytes(), sizeof(rtmsg));
    CHECK(d.type == RTM_DELROUTE);
    CHECK(d.flags == NLM_F_REQUEST);
    const auto rtm = d.header_as<rtmsg>();
    CHECK(rtm.rtm_family == AF_INET6);
    CHECK(rtm.rtm_dst_len == 48);
    CHECK(rtm.rtm_protocol == 199);
    CHECK(rtm.rtm_scope == RT_SCOPE_NOWHERE);
    CHECK(rtm.rtm_table == RT_TABLE_UNSPEC);  // > 255: only in RTA_TABLE
    CHECK(d.types() == std::vector<std::uint16_t>{RTA_DST, RTA_TABLE, RTA_PRIORITY});
    CHECK(d.get(RTA_DST).payload == b6("2001:db8:50::"));
    CHECK(u32_of(d.get(RTA_TABLE)) == 1000);
    CHECK(u32_of(d.get(RTA_PRIORITY)) == 1024);
}

TEST_CASE("RTM_NEWADDR IPv6: AF_INET6, 16-byte IFA_LOCAL and IFA_ADDRESS, IFA_F_NODAD") {
    auto addr = rtnl::build_address(12, ip6("2001:db8:100::1"), 125);
    const Decoded a = decode(addr.bytes(), sizeof(ifaddrmsg));
    CHECK(a.type == RTM_NEWADDR);
    CHECK(a.flags == (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL));
    const auto ifa = a.header_as<ifaddrmsg>();
    CHECK(ifa.ifa_family == AF_INET6);
    CHECK(ifa.ifa_prefixlen == 125);
    CHECK(ifa.ifa_index == 12);
    CHECK(ifa.ifa_flags == IFA_F_NODAD);  // for kernels that do not read IFA_FLAGS
    CHECK(a.types() == std::vector<std::uint16_t>{IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS});
    CHECK(a.get(IFA_LOCAL).payload == b6("2001:db8:100::1"));
    CHECK(a.get(IFA_ADDRESS).payload == b6("2001:db8:100::1"));  // no peer
    CHECK(u32_of(a.get(IFA_FLAGS)) == IFA_F_NODAD);
    CHECK(rtnl::parse_address(addr.nlh()) == rtnl::AddressInfo{12, ip6("2001:db8:100::1"), 125});

    // The delete names the same address, without flags.
    auto del = rtnl::build_address_delete(12, ip6("2001:db8:100::1"), 125);
    const Decoded d = decode(del.bytes(), sizeof(ifaddrmsg));
    CHECK(d.type == RTM_DELADDR);
    CHECK(d.flags == NLM_F_REQUEST);
    CHECK(d.header_as<ifaddrmsg>().ifa_family == AF_INET6);
    CHECK(d.header_as<ifaddrmsg>().ifa_prefixlen == 125);
    CHECK(d.header_as<ifaddrmsg>().ifa_flags == 0);
    CHECK(d.types() == std::vector<std::uint16_t>{IFA_LOCAL, IFA_ADDRESS});
    CHECK(d.get(IFA_LOCAL).payload == b6("2001:db8:100::1"));

    // IPv4 addresses keep their form: no flags (DAD is IPv6's).
    auto v4 = rtnl::build_address(12, ip("169.254.10.2"), 30);
    const Decoded f = decode(v4.bytes(), sizeof(ifaddrmsg));
    CHECK(f.header_as<ifaddrmsg>().ifa_flags == 0);
    CHECK(f.find(IFA_FLAGS) == nullptr);
}

namespace {

// An RTM_NEWROUTE as the kernel dumps an IPv6 route (net/ipv6/route.c rt6_fill_node: RTA_TABLE,
// RTA_DST unless ::/0, RTA_PRIORITY, the hop(s), RTA_CACHEINFO, RTA_PREF).
struct KernelHop {
    int ifindex;
    std::uint8_t hops;  // weight - 1
    Bytes gateway;      // empty: none
};
nl::NlMessage kernel_route(std::uint8_t family, std::uint8_t type, std::uint8_t table,
                           const Bytes& dst, std::uint8_t dst_len,
                           const std::vector<KernelHop>& hops) {
    nl::NlMessage m(RTM_NEWROUTE, NLM_F_MULTI, sizeof(rtmsg));
    auto* rtm = m.header_as<rtmsg>();
    rtm->rtm_family = family;
    rtm->rtm_dst_len = dst_len;
    rtm->rtm_table = table;
    rtm->rtm_protocol = 199;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = type;
    m.put_u32(RTA_TABLE, table);
    if (!dst.empty()) m.put(RTA_DST, dst);
    m.put_u32(RTA_PRIORITY, 1024);
    if (hops.size() == 1) {
        if (!hops[0].gateway.empty()) m.put(RTA_GATEWAY, hops[0].gateway);
        m.put_u32(RTA_OIF, static_cast<std::uint32_t>(hops[0].ifindex));
    } else if (!hops.empty()) {
        Bytes mp;
        for (const KernelHop& h : hops) {
            const std::size_t gw = h.gateway.empty() ? 0 : MNL_ALIGN(4 + h.gateway.size());
            rtnexthop nh{};
            nh.rtnh_len = static_cast<unsigned short>(8 + gw);
            nh.rtnh_hops = h.hops;
            nh.rtnh_ifindex = h.ifindex;
            const std::size_t at = mp.size();
            mp.resize(at + 8 + gw);
            std::memcpy(mp.data() + at, &nh, 8);
            if (gw != 0) {
                nlattr a{static_cast<std::uint16_t>(4 + h.gateway.size()), RTA_GATEWAY};
                std::memcpy(mp.data() + at + 8, &a, 4);
                std::memcpy(mp.data() + at + 12, h.gateway.data(), h.gateway.size());
            }
        }
        m.put(RTA_MULTIPATH, mp);
    }
    const std::uint8_t cacheinfo[32] = {};
    m.put(RTA_CACHEINFO, cacheinfo, sizeof cacheinfo);
    m.put_u8(RTA_PREF, 0);
    return m;
}

}  // namespace

TEST_CASE("parse_route and parse_address: IPv6 entries as the kernel dumps them") {
    // ECMP over two gateways, one of them link-local, weights 1 and 3.
    auto ecmp = kernel_route(AF_INET6, RTN_UNICAST, RT_TABLE_MAIN, b6("2001:db8:50::"), 48,
                             {{5, 0, b6("fe80::1")}, {6, 2, b6("2001:db8:99:1::2")}});
    auto r = rtnl::parse_route(ecmp.nlh());
    REQUIRE(r.has_value());
    CHECK(*r == rtnl::RouteMessage{pfx6("2001:db8:50::/48"),
                                   {{5, ip6("fe80::1"), 1}, {6, ip6("2001:db8:99:1::2"), 3}},
                                   254,
                                   1024,
                                   199});
    CHECK(r->destination.is_v6());

    // The IPv6 default route has no RTA_DST: it is ::/0, not 0.0.0.0/0.
    auto def =
        kernel_route(AF_INET6, RTN_UNICAST, RT_TABLE_MAIN, {}, 0, {{5, 0, b6("2001:db8:99::2")}});
    r = rtnl::parse_route(def.nlh());
    REQUIRE(r.has_value());
    CHECK(r->destination == IpPrefix(pfx6("::/0")));
    CHECK(r->destination != IpPrefix(pfx("0.0.0.0/0")));
    CHECK(r->hops == std::vector<rtnl::ResolvedHop>{{5, ip6("2001:db8:99::2"), 1}});

    // A gateway of the wrong size for the family reads as none (either way round).
    auto odd = kernel_route(AF_INET6, RTN_UNICAST, RT_TABLE_MAIN, b6("2001:db8:52::"), 64,
                            {{5, 0, Bytes{10, 0, 0, 1}}});
    r = rtnl::parse_route(odd.nlh());
    REQUIRE(r.has_value());
    CHECK(r->hops == std::vector<rtnl::ResolvedHop>{{5, std::nullopt, 1}});
    auto odd4 = kernel_route(AF_INET, RTN_UNICAST, RT_TABLE_MAIN, Bytes{10, 1, 0, 0}, 16,
                             {{5, 0, b6("2001:db8:99::2")}});
    r = rtnl::parse_route(odd4.nlh());
    REQUIRE(r.has_value());
    CHECK(r->destination == IpPrefix(pfx("10.1.0.0/16")));
    CHECK(r->hops == std::vector<rtnl::ResolvedHop>{{5, std::nullopt, 1}});

    // Skipped: the kernel's local, multicast and unreachable IPv6 entries, IPv6 multicast
    // routing (RTNL_FAMILY_IP6MR), a prefix length above 128.
    CHECK_FALSE(rtnl::parse_route(kernel_route(AF_INET6, RTN_LOCAL, RT_TABLE_LOCAL,
                                               b6("2001:db8:99::1"), 128, {{5, 0, {}}})
                                      .nlh())
                    .has_value());
    CHECK_FALSE(rtnl::parse_route(kernel_route(AF_INET6, RTN_MULTICAST, RT_TABLE_LOCAL,
                                               b6("ff00::"), 8, {{5, 0, {}}})
                                      .nlh())
                    .has_value());
    CHECK_FALSE(rtnl::parse_route(kernel_route(AF_INET6, RTN_UNREACHABLE, RT_TABLE_MAIN,
                                               b6("2001:db8:53::"), 48, {{1, 0, {}}})
                                      .nlh())
                    .has_value());
    CHECK_FALSE(rtnl::parse_route(kernel_route(RTNL_FAMILY_IP6MR, RTN_UNICAST, RT_TABLE_MAIN,
                                               b6("ff0e::"), 16, {{5, 0, {}}})
                                      .nlh())
                    .has_value());
    CHECK_FALSE(rtnl::parse_route(kernel_route(AF_INET6, RTN_UNICAST, RT_TABLE_MAIN,
                                               b6("2001:db8::"), 129, {{5, 0, {}}})
                                      .nlh())
                    .has_value());
    CHECK(rtnl::parse_route(kernel_route(AF_INET6, RTN_UNICAST, RT_TABLE_MAIN, b6("2001:db8::1"),
                                         128, {{5, 0, {}}})
                                .nlh())
              .has_value());

    // An IPv6 address as inet6_fill_ifaddr reports it: IFA_ADDRESS alone (no peer), flags
    // in IFA_FLAGS, lifetimes in IFA_CACHEINFO.
    auto entry = [](std::uint8_t family, std::uint8_t len, const Bytes& local,
                    const Bytes& address) {
        nl::NlMessage m(RTM_NEWADDR, NLM_F_MULTI, sizeof(ifaddrmsg));
        auto* ifa = m.header_as<ifaddrmsg>();
        ifa->ifa_family = family;
        ifa->ifa_prefixlen = len;
        ifa->ifa_flags = IFA_F_PERMANENT | IFA_F_NODAD;
        ifa->ifa_index = 7;
        if (!address.empty()) m.put(IFA_ADDRESS, address);
        if (!local.empty()) m.put(IFA_LOCAL, local);
        const std::uint8_t cacheinfo[16] = {};
        m.put(IFA_CACHEINFO, cacheinfo, sizeof cacheinfo);
        m.put_u32(IFA_FLAGS, IFA_F_PERMANENT | IFA_F_NODAD);
        return m;
    };
    auto a = rtnl::parse_address(entry(AF_INET6, 125, {}, b6("2001:db8:100::1")).nlh());
    CHECK(a == rtnl::AddressInfo{7, ip6("2001:db8:100::1"), 125});
    // With a peer, IFA_LOCAL is ours and IFA_ADDRESS the peer's.
    a = rtnl::parse_address(
        entry(AF_INET6, 128, b6("2001:db8:100::1"), b6("2001:db8:100::2")).nlh());
    CHECK(a == rtnl::AddressInfo{7, ip6("2001:db8:100::1"), 128});
    // The kernel's link-local address is listed too.
    a = rtnl::parse_address(entry(AF_INET6, 64, {}, b6("fe80::1")).nlh());
    CHECK(a == rtnl::AddressInfo{7, ip6("fe80::1"), 64});
    CHECK_FALSE(rtnl::parse_address(entry(AF_INET6, 129, {}, b6("2001:db8::1")).nlh()));
    CHECK_FALSE(rtnl::parse_address(entry(AF_INET6, 64, {}, Bytes{10, 0, 0, 1}).nlh()));
    CHECK_FALSE(rtnl::parse_address(entry(AF_PACKET, 0, {}, b6("2001:db8::1")).nlh()));
    CHECK(rtnl::parse_address(entry(AF_INET, 24, {}, Bytes{10, 0, 0, 1}).nlh()) ==
          rtnl::AddressInfo{7, ip("10.0.0.1"), 24});
}

TEST_CASE("Routes refuse a next hop of the other family, IPv6 metric 0 is the kernel's 1024") {
    auto routes = KernelRoutes::open(KernelRoutes::Options{300, 199});
    REQUIRE(routes.has_value());
    RouteSpec v6;
    v6.destination = pfx6("2001:db8:50::/48");
    v6.hops = {RouteHop{42, "", ip6("2001:db8:99::2"), 1}, RouteHop{43, "", ip6("fe80::1"), 2}};
    auto m = routes->resolve(v6);
    REQUIRE(m.has_value());
    CHECK(m->destination == IpPrefix(pfx6("2001:db8:50::/48")));
    CHECK(m->metric == 1024);  // what the kernel stores and reports for 0
    CHECK(m->hops[1] == rtnl::ResolvedHop{43, ip6("fe80::1"), 2});
    v6.metric = 7;
    CHECK(routes->resolve(v6)->metric == 7);

    // Cross-family next hops: refused, whichever way round.
    v6.hops[1].gateway = ip("10.0.0.1");
    auto bad = routes->resolve(v6);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Errc::invalid_argument);
    RouteSpec v4;
    v4.destination = pfx("10.9.0.0/24");
    v4.hops = {RouteHop{42, "", ip6("2001:db8:99::2"), 1}};
    CHECK(routes->resolve(v4).error().code == Errc::invalid_argument);
    v4.hops[0].gateway = ip("10.0.0.1");
    CHECK(routes->resolve(v4)->metric == 0);  // IPv4 keeps metric 0

    // Prefix lengths are checked per family.
    RouteSpec long6;
    long6.destination.address = ip6("2001:db8::");
    long6.destination.length = 129;
    long6.hops = {RouteHop{42, "", std::nullopt, 1}};
    CHECK(routes->resolve(long6).error().code == Errc::invalid_argument);
    long6.destination.length = 128;
    CHECK(routes->resolve(long6).has_value());

    // In a batch they fail alone, before any netlink.
    std::vector<RouteOp> ops(2);
    ops[0].route = v6;
    ops[1].remove = true;
    ops[1].route.destination.address = ip6("2001:db8::");
    ops[1].route.destination.length = 129;
    const RouteBatchOutcome out = routes->apply(ops);
    CHECK(out.sends == 0);
    CHECK(out.failures == 2);
    CHECK(out.errors[0]->code == Errc::invalid_argument);
    CHECK(out.errors[1]->code == Errc::invalid_argument);

    // The Dataplane backends: the kernel one through KernelRoutes, the fake as well.
    auto dp = KernelDataplane::create({});
    REQUIRE(dp.has_value());
    Route r;
    r.destination = pfx6("2001:db8:50::/48");
    r.next_hops = {NextHop{0, ip("10.0.0.1"), 1, "lo"}};
    CHECK((*dp)->add_route(r).error().code == Errc::invalid_argument);
}

TEST_CASE("KernelRoutes resolves device names and checks hops before any netlink") {
    auto routes = KernelRoutes::open(KernelRoutes::Options{300, 199});
    REQUIRE(routes.has_value());
    RouteSpec spec;
    spec.destination = pfx("10.9.0.0/24");
    spec.hops = {RouteHop{0, "lo", std::nullopt, 2}, RouteHop{42, "", ip("10.0.0.1"), 1}};
    auto m = routes->resolve(spec);
    REQUIRE(m.has_value());
    CHECK(m->table == 300);  // table 0 -> the default table
    CHECK(m->protocol == 199);
    REQUIRE(m->hops.size() == 2);
    CHECK(m->hops[0] == rtnl::ResolvedHop{if_nametoindex("lo"), std::nullopt, 2});
    CHECK(m->hops[1] == rtnl::ResolvedHop{42, ip("10.0.0.1"), 1});

    spec.hops = {RouteHop{0, "nosuchdev0", std::nullopt, 1}};
    CHECK(routes->resolve(spec).error().code == Errc::not_found);
    spec.hops = {RouteHop{0, "", std::nullopt, 1}};
    CHECK(routes->resolve(spec).error().code == Errc::invalid_argument);
    spec.hops = {RouteHop{0, "lo", std::nullopt, 0}};
    CHECK(routes->resolve(spec).error().code == Errc::invalid_argument);
    spec.hops.clear();
    CHECK(routes->resolve(spec).error().code == Errc::invalid_argument);
}

TEST_CASE("nft MSS clamp ruleset: one transaction, SYN and SYN-ACK, smallest clamp wins") {
    CHECK(NftMssClamp::ruleset({}) == "add table inet cgwd\ndelete table inet cgwd\n");
    const std::string s = NftMssClamp::ruleset({{"cgwd1", 1379}, {"dx100", 1460}});
    const std::string syn = " tcp flags & (syn | rst) == syn tcp option maxseg size > ";
    const std::string expected =
        "add table inet cgwd\n"
        "delete table inet cgwd\n"
        "table inet cgwd {\n"
        "  chain forward {\n"
        "    type filter hook forward priority mangle; policy accept;\n"
        "    iifname \"cgwd1\"" +
        syn +
        "1379 tcp option maxseg size set 1379\n"
        "    oifname \"cgwd1\"" +
        syn +
        "1379 tcp option maxseg size set 1379\n"
        "    iifname \"dx100\"" +
        syn +
        "1460 tcp option maxseg size set 1460\n"
        "    oifname \"dx100\"" +
        syn +
        "1460 tcp option maxseg size set 1460\n"
        "  }\n"
        "  chain output {\n"
        "    type filter hook output priority mangle; policy accept;\n"
        "    oifname \"cgwd1\"" +
        syn +
        "1379 tcp option maxseg size set 1379\n"
        "    oifname \"dx100\"" +
        syn +
        "1460 tcp option maxseg size set 1460\n"
        "  }\n"
        "  chain input {\n"
        "    type filter hook input priority mangle; policy accept;\n"
        "    iifname \"cgwd1\"" +
        syn +
        "1379 tcp option maxseg size set 1379\n"
        "    iifname \"dx100\"" +
        syn +
        "1460 tcp option maxseg size set 1460\n"
        "  }\n"
        "}\n";
    CHECK(s == expected);

    NftMssClamp clamp;  // argument checks happen before nft runs
    CHECK(clamp.set("bad\"name", 1300).error().code == Errc::invalid_argument);
    CHECK(clamp.set("cgwd1", 87).error().code == Errc::invalid_argument);
    CHECK(clamp.set("averyveryverylongname", 1300).error().code == Errc::invalid_argument);
    CHECK(clamp.set("cgwd1", 0).has_value());  // nothing to remove: no nft run
    CHECK(clamp.clamps().empty());
}

TEST_CASE("KernelDataplane refuses objects outside the daemon's ownership space") {
    // Creating the backend needs no privilege (sockets only); requests are checked first.
    auto dp = KernelDataplane::create({});
    REQUIRE(dp.has_value());
    SaConfig sa = gcm_sa();
    sa.if_id = 5;  // outside [default_if_id_min, default_if_id_max]
    CHECK((*dp)->add_sa(sa).error().code == Errc::invalid_argument);
    Policy p;
    p.if_id = 0;
    CHECK((*dp)->add_policy(p).error().code == Errc::invalid_argument);
    TunnelInterface t;
    t.if_id = default_if_id_min;
    t.name = "xfrm0";  // not our prefix
    CHECK((*dp)->create_tunnel(t).error().code == Errc::invalid_argument);
    t.name = "cgwd0";
    t.mtu = 100;
    CHECK((*dp)->create_tunnel(t).error().code == Errc::invalid_argument);
    CHECK((*dp)->set_mss_clamp(default_if_id_min, 1300).error().code == Errc::not_found);
    Route r;
    r.destination = pfx("10.0.0.0/8");
    r.next_hops = {NextHop{default_if_id_min, std::nullopt, 1, {}}};
    CHECK((*dp)->add_route(r).error().code == Errc::not_found);
    CHECK((*dp)->owns_if_id(default_if_id_max));
    CHECK_FALSE((*dp)->owns_if_id(default_if_id_max + 1));
    KernelDataplane::Options bad;
    bad.if_id_min = 0;
    CHECK(KernelDataplane::create(bad).error().code == Errc::invalid_argument);
    KernelDataplane::Options no_dev;
    no_dev.underlying_interface = "nosuchdev0";
    CHECK(KernelDataplane::create(no_dev).error().code == Errc::not_found);
}
