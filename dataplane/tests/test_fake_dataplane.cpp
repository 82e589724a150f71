// Tests of the dataplane interface types (validate, KeyBytes) and of FakeDataplane.
#include <catch2/catch.hpp>

#include <vector>

#include "cgwd/dataplane/fake_dataplane.hpp"

using namespace cgwd::dataplane;
namespace cfg = cgwd::config;

namespace {

KeyBytes key_of_size(std::size_t n, std::uint8_t fill) {
    std::vector<std::uint8_t> bytes(n, fill);
    return KeyBytes(bytes);
}

SaConfig gcm_sa(std::uint32_t spi, Direction dir = Direction::outbound) {
    SaConfig sa;
    sa.direction = dir;
    sa.spi = spi;
    sa.src = *cfg::Ipv4Address::parse("198.51.100.1");
    sa.dst = *cfg::Ipv4Address::parse("203.0.113.9");
    sa.cipher = {cfg::encr::aes_gcm_16, 256};
    sa.enc_key = key_of_size(36, 0x11);
    sa.lifetime.seconds = {3330, 3600};
    sa.if_id = 7;
    return sa;
}

TunnelInterface tunnel(std::uint32_t if_id, std::string name) {
    TunnelInterface t;
    t.name = std::move(name);
    t.if_id = if_id;
    t.mtu = 1436;
    return t;
}

}  // namespace

TEST_CASE("KeyBytes copies, moves and wipes the moved-from key") {
    const std::uint8_t raw[4] = {1, 2, 3, 4};
    KeyBytes a(raw);
    KeyBytes b = a;
    CHECK(a == b);
    KeyBytes c = std::move(a);
    CHECK(c == b);
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from key is wiped
    std::vector<std::uint8_t> too_long(KeyBytes::capacity + 1, 0);
    KeyBytes d(too_long);
    CHECK_FALSE(d.valid());
}

TEST_CASE("validate checks transforms, key lengths, SPI, window and lifetimes") {
    SaConfig sa = gcm_sa(0x1000);
    CHECK(validate(sa));

    SECTION("GCM key must include the 4-byte salt") {
        sa.enc_key = key_of_size(32, 1);
        CHECK_FALSE(validate(sa));
    }
    SECTION("GCM with an integrity transform is refused") {
        sa.integ = cfg::integ::hmac_sha2_256_128;
        CHECK_FALSE(validate(sa));
    }
    SECTION("CBC needs an integrity transform with the hash-length key") {
        sa.cipher = {cfg::encr::aes_cbc, 128};
        sa.enc_key = key_of_size(16, 1);
        CHECK_FALSE(validate(sa));
        sa.integ = cfg::integ::hmac_sha2_384_192;
        sa.integ_key = key_of_size(32, 2);
        CHECK_FALSE(validate(sa));
        sa.integ_key = key_of_size(48, 2);
        CHECK(validate(sa));
    }
    SECTION("reserved SPIs") {
        sa.spi = 255;
        CHECK(validate(sa).error().code == Errc::invalid_argument);
    }
    SECTION("inbound replay window range") {
        sa.direction = Direction::inbound;
        sa.replay_window = 32;
        CHECK_FALSE(validate(sa));
        sa.replay_window = 4096;
        CHECK(validate(sa));
        sa.replay_window = 4097;
        CHECK_FALSE(validate(sa));
    }
    SECTION("soft above hard") {
        sa.lifetime.bytes = {2000, 1000};
        CHECK_FALSE(validate(sa));
    }
}

TEST_CASE("FakeDataplane keeps SAs and enforces add/update/delete rules") {
    FakeDataplane dp;
    const SaConfig sa = gcm_sa(0xc0ffee01);
    REQUIRE(dp.add_sa(sa));
    CHECK(dp.add_sa(sa).error().code == Errc::already_exists);
    REQUIRE(dp.find_sa(sa.key()) != nullptr);
    CHECK(dp.find_sa(sa.key())->if_id == 7);

    SaConfig moved = sa;
    moved.encap = UdpEncap{4500, 31337};
    REQUIRE(dp.update_sa(moved));
    CHECK(dp.find_sa(sa.key())->encap == UdpEncap{4500, 31337});

    REQUIRE(dp.set_counters(sa.key(), SaCounters{1500, 1, 2, 3}));
    auto stats = dp.query_sa(sa.key());
    REQUIRE(stats);
    CHECK(stats->counters == SaCounters{1500, 1, 2, 3});
    CHECK(stats->lifetime.seconds == Limit{3330, 3600});

    REQUIRE(dp.del_sa(sa.key()));
    CHECK(dp.del_sa(sa.key()).error().code == Errc::not_found);
    CHECK(dp.query_sa(sa.key()).error().code == Errc::not_found);
    CHECK(dp.update_sa(sa).error().code == Errc::not_found);

    SaConfig bad = gcm_sa(0x2000);
    bad.enc_key = key_of_size(3, 0);
    CHECK(dp.add_sa(bad).error().code == Errc::invalid_argument);
    CHECK(dp.sa_count() == 0);

    // Every call was recorded, in order, with its arguments.
    REQUIRE(dp.calls().size() == 9);
    CHECK(std::holds_alternative<call::AddSa>(dp.calls()[0]));
    CHECK(std::holds_alternative<call::UpdateSa>(dp.calls()[2]));
    CHECK(std::get<call::UpdateSa>(dp.calls()[2]).sa.encap->dst_port == 31337);
    CHECK(std::holds_alternative<call::QuerySa>(dp.calls()[3]));
    CHECK(std::get<call::DelSa>(dp.calls()[4]).key == sa.key());
}

TEST_CASE("FakeDataplane fail_next makes exactly one call fail without side effects") {
    FakeDataplane dp;
    dp.fail_next(Error{Errc::system, "ENOBUFS", 105});
    auto r = dp.add_sa(gcm_sa(0x3000));
    REQUIRE_FALSE(r);
    CHECK(r.error().sys_errno == 105);
    CHECK(dp.sa_count() == 0);
    CHECK(dp.add_sa(gcm_sa(0x3000)));
    CHECK(dp.sa_count() == 1);
}

TEST_CASE("FakeDataplane policies, tunnels, multipath routes and MSS clamp") {
    FakeDataplane dp;
    Policy out;
    out.direction = PolicyDirection::out;
    out.src = *cfg::Ipv4Prefix::parse("0.0.0.0/0");
    out.dst = *cfg::Ipv4Prefix::parse("0.0.0.0/0");
    out.if_id = 7;
    Policy in = out;
    in.direction = PolicyDirection::in;
    REQUIRE(dp.add_policy(out));
    REQUIRE(dp.add_policy(in));
    CHECK(dp.add_policy(out).error().code == Errc::already_exists);
    CHECK(dp.policy_count() == 2);
    REQUIRE(dp.del_policy(key_of(in)));
    CHECK(dp.find_policy(key_of(in)) == nullptr);
    CHECK(dp.find_policy(key_of(out)) != nullptr);

    REQUIRE(dp.create_tunnel(tunnel(7, "cgwd1")));
    REQUIRE(dp.create_tunnel(tunnel(8, "cgwd2")));
    CHECK(dp.create_tunnel(tunnel(9, "cgwd1")).error().code == Errc::already_exists);
    CHECK(dp.find_tunnel(7)->mtu == 1436);

    Route r;
    r.destination = *cfg::Ipv4Prefix::parse("10.0.0.0/16");
    r.next_hops = {NextHop{7, std::nullopt, 1, {}}, NextHop{8, std::nullopt, 1, {}}};
    REQUIRE(dp.add_route(r));
    // Same key again replaces (one path withdrawn).
    r.next_hops = {NextHop{8, std::nullopt, 1, {}}};
    REQUIRE(dp.add_route(r));
    CHECK(dp.route_count() == 1);
    CHECK(dp.find_route(r.key())->next_hops.size() == 1);
    Route unknown_hop = r;
    unknown_hop.next_hops = {NextHop{99, std::nullopt, 1, {}}};
    CHECK(dp.add_route(unknown_hop).error().code == Errc::not_found);

    REQUIRE(dp.set_mss_clamp(7, 1379));
    CHECK(dp.mss_clamp(7) == 1379);
    REQUIRE(dp.set_mss_clamp(7, 0));
    CHECK_FALSE(dp.mss_clamp(7).has_value());
    CHECK(dp.set_mss_clamp(42, 1379).error().code == Errc::not_found);

    // Deleting tunnel 8 takes the route that only used it.
    REQUIRE(dp.delete_tunnel(8));
    CHECK(dp.find_route(r.key()) == nullptr);
    CHECK(dp.delete_tunnel(8).error().code == Errc::not_found);
    CHECK(dp.del_route(r.key()).error().code == Errc::not_found);
}

TEST_CASE("FakeDataplane IPv6 routes: keyed apart from IPv4, no next hop of the other family") {
    FakeDataplane dp;
    REQUIRE(dp.create_tunnel(tunnel(7, "cgwd1")));
    Route v4;
    v4.destination = *cfg::Ipv4Prefix::parse("10.200.0.0/16");
    v4.next_hops = {NextHop{7, *cfg::IpAddress::parse("169.254.10.1"), 1, {}}};
    Route v6;
    v6.destination = *cfg::IpPrefix::parse("ac8::/16");  // the same bytes, the other family
    v6.next_hops = {NextHop{7, *cfg::IpAddress::parse("2001:db8:99::2"), 1, {}},
                    NextHop{7, *cfg::IpAddress::parse("fe80::1"), 2, {}}};
    REQUIRE(dp.add_route(v4));
    REQUIRE(dp.add_route(v6));
    CHECK(dp.route_count() == 2);
    CHECK(dp.find_route(v6.key())->next_hops.size() == 2);
    CHECK_FALSE(v4.key() == v6.key());

    Route cross = v6;
    cross.next_hops[1].gateway = *cfg::IpAddress::parse("169.254.10.1");
    CHECK(dp.add_route(cross).error().code == Errc::invalid_argument);
    cross = v4;
    cross.next_hops[0].gateway = *cfg::IpAddress::parse("2001:db8:99::2");
    CHECK(dp.add_route(cross).error().code == Errc::invalid_argument);
    CHECK(dp.find_route(v6.key())->next_hops == v6.next_hops);  // unchanged

    REQUIRE(dp.del_route(v4.key()));
    CHECK(dp.find_route(v6.key()) != nullptr);
    REQUIRE(dp.del_route(v6.key()));
    CHECK(dp.route_count() == 0);
}

TEST_CASE("FakeDataplane raises expiry events to the handler, which may delete the SA") {
    FakeDataplane dp;
    const SaConfig sa = gcm_sa(0x4000, Direction::inbound);
    REQUIRE(dp.add_sa(sa));
    CHECK_FALSE(dp.raise_expiry(sa.key(), ExpiryKind::soft, ExpiryCause::bytes));  // no handler

    std::vector<ExpiryEvent> seen;
    dp.set_expiry_handler([&](const ExpiryEvent& e) {
        seen.push_back(e);
        if (e.kind == ExpiryKind::hard) (void)dp.del_sa(e.sa);
    });
    CHECK(dp.raise_expiry(sa.key(), ExpiryKind::soft, ExpiryCause::packets));
    CHECK(dp.raise_expiry(sa.key(), ExpiryKind::hard, ExpiryCause::time));
    CHECK_FALSE(dp.raise_expiry(sa.key(), ExpiryKind::hard, ExpiryCause::time));  // deleted
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] ==
          ExpiryEvent{sa.key(), Direction::inbound, ExpiryKind::soft, ExpiryCause::packets});
    CHECK(seen[1] ==
          ExpiryEvent{sa.key(), Direction::inbound, ExpiryKind::hard, ExpiryCause::time});
    CHECK(dp.sa_count() == 0);
}
