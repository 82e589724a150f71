// RIB storage: interned path attributes (routes with identical attributes share one set, freed
// with the last route), the Prefix order the RIB maps rely on, and the export / FIB bookkeeping
// that the cheaper settle() must keep exact (a route is not sent back to the peer it came from,
// but a withdrawal still is; a FIB flap within one batch yields nothing).
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>

#include "cgwd/bgp/rib.hpp"

using namespace cgwd::bgp;

namespace {

constexpr std::uint32_t kLocalAs = 65010;
constexpr std::uint32_t kAwsAs = 64512;

Prefix pfx(const char* text) {
    auto p = parse_prefix(text);
    REQUIRE(p.has_value());
    return *p;
}
IpAddress addr(const char* text) {
    auto a = parse_address(text);
    REQUIRE(a.has_value());
    return *a;
}

PeerConfig peer(std::uint32_t as, const char* address, const char* local) {
    PeerConfig c;
    c.peer_as = as;
    c.address = addr(address);
    c.local_address = addr(local);
    c.local_address_v6 = addr("fd00::1");
    c.import_policy = ImportPolicy{};
    c.export_policy = ExportPolicy{};
    return c;
}

void up(Rib& rib, PeerId id, std::uint32_t router_id) {
    SessionEstablished e;
    e.peer_identifier = router_id;
    e.peer_as = rib.peer_config(id)->peer_as;
    e.peer_capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    rib.peer_up(id, e);
}

Update announce(std::vector<Prefix> prefixes, const char* next_hop,
                std::optional<std::uint32_t> med = std::nullopt,
                std::vector<std::uint32_t> path = {kAwsAs}) {
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, std::move(path)}};
    u.attributes.next_hop = addr(next_hop).v4_host_order();
    u.attributes.med = med;
    u.nlri = std::move(prefixes);
    return u;
}

Update withdraw(std::vector<Prefix> prefixes) {
    Update u;
    u.withdrawn = std::move(prefixes);
    return u;
}

const Route& route_of(const Rib& rib, PeerId peer, const Prefix& p) {
    for (const auto& [prefix, r] : rib.adj_rib_in(peer)) {
        if (prefix == p) return *r;
    }
    FAIL("no route for " << p.to_string());
    throw std::logic_error("unreachable");  // FAIL throws
}

}  // namespace

TEST_CASE("interning: identical attributes share one set, different ones do not",
          "[bgp][rib][intern]") {
    Rib rib({kLocalAs, 0x0a000001, 2});
    const PeerId a = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId b = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, a, 1);
    up(rib, b, 2);
    CHECK(rib.attribute_sets() == 0);

    // Two UPDATEs from one peer and one from another, same attributes (NEXT_HOP included): one
    // set.
    REQUIRE(rib.apply_update(a, announce({pfx("10.1.0.0/16"), pfx("10.2.0.0/16")}, "169.254.10.1"))
                .accepted == 2);
    REQUIRE(rib.apply_update(a, announce({pfx("10.3.0.0/16")}, "169.254.10.1")).accepted == 1);
    const Route r1 = route_of(rib, a, pfx("10.1.0.0/16"));  // copies: later UPDATEs move routes
    const auto& r2 = route_of(rib, a, pfx("10.2.0.0/16"));
    const auto& r3 = route_of(rib, a, pfx("10.3.0.0/16"));
    CHECK(r1.attributes == r2.attributes);
    CHECK(r1.attributes == r3.attributes);
    CHECK(rib.attribute_sets() == 1);
    CHECK(r1.attributes->local_pref == 100u);  // eBGP: set on import
    CHECK_FALSE(r1.attributes->mp_reach.has_value());

    REQUIRE(rib.apply_update(b, announce({pfx("10.1.0.0/16")}, "169.254.10.1")).accepted == 1);
    CHECK(route_of(rib, b, pfx("10.1.0.0/16")).attributes == r1.attributes);
    CHECK(rib.attribute_sets() == 1);

    // A different MED is a different set; the first set is untouched.
    REQUIRE(rib.apply_update(b, announce({pfx("10.4.0.0/16")}, "169.254.10.1", 200)).accepted == 1);
    const Route r4 = route_of(rib, b, pfx("10.4.0.0/16"));
    CHECK(r4.attributes != r1.attributes);
    CHECK(r4.attributes->med == 200u);
    CHECK_FALSE(r1.attributes->med.has_value());
    CHECK(rib.attribute_sets() == 2);
    CHECK(r4.next_hop() == addr("169.254.10.1"));

    // IPv6 routes in MP_REACH_NLRI: the NLRI is not part of the stored set, so two UPDATEs with
    // different prefixes share one.
    auto v6 = [](const char* prefix) {
        Update u = announce({}, "169.254.10.1");
        u.attributes.next_hop.reset();
        MpReach mp;
        mp.af = kIpv6Unicast;
        const auto nh = addr("fd00::a");
        mp.next_hop.assign(nh.bytes.begin(), nh.bytes.end());
        mp.nlri = {pfx(prefix)};
        u.attributes.mp_reach = std::move(mp);
        return u;
    };
    REQUIRE(rib.apply_update(a, v6("2001:db8:1::/48")).accepted == 1);
    REQUIRE(rib.apply_update(a, v6("2001:db8:2::/48")).accepted == 1);
    CHECK(route_of(rib, a, pfx("2001:db8:1::/48")).attributes ==
          route_of(rib, a, pfx("2001:db8:2::/48")).attributes);
    CHECK(route_of(rib, a, pfx("2001:db8:1::/48")).next_hop() == addr("fd00::a"));
    CHECK(rib.attribute_sets() == 3);  // no IPv4 NEXT_HOP in it: not the first set
}

TEST_CASE("interning: the set is freed with the last route that holds it", "[bgp][rib][intern]") {
    Rib rib({kLocalAs, 0x0a000001, 1});
    const PeerId a = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId b = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, a, 1);
    up(rib, b, 2);
    REQUIRE(
        rib.apply_update(a, announce({pfx("10.1.0.0/16"), pfx("10.2.0.0/16")}, "169.254.10.1", 50))
            .accepted == 2);
    // Same attributes, NEXT_HOP included (it is part of the set; a third-party next hop).
    REQUIRE(rib.apply_update(b, announce({pfx("10.1.0.0/16")}, "169.254.10.1", 50)).accepted == 1);
    // Held by three routes (the count is in the set: reading it through b's route).
    auto holders = [&] { return route_of(rib, b, pfx("10.1.0.0/16")).attributes.use_count(); };
    CHECK(holders() == 3);
    (void)rib.take_fib_changes();

    // Withdrawn one route at a time, by UPDATE, by implicit withdraw and by session down.
    REQUIRE(rib.apply_update(a, withdraw({pfx("10.1.0.0/16")})).withdrawn == 1);
    (void)rib.take_fib_changes();
    CHECK(holders() == 2);
    REQUIRE(rib.apply_update(a, announce({pfx("10.2.0.0/16")}, "169.254.10.1", 60)).accepted == 1);
    CHECK(holders() == 1);
    CHECK(rib.attribute_sets() == 2);
    rib.peer_down(b);
    (void)rib.take_fib_changes();
    CHECK(rib.attribute_sets() == 1);  // the MED 50 set went with b's route

    // The same attributes again: a fresh set, shared again.
    REQUIRE(
        rib.apply_update(a, announce({pfx("10.5.0.0/16"), pfx("10.6.0.0/16")}, "169.254.10.1", 50))
            .accepted == 2);
    CHECK(route_of(rib, a, pfx("10.5.0.0/16")).attributes.use_count() == 2);
    CHECK(rib.attribute_sets() == 2);

    // Many distinct sets come and go: the count follows what routes hold.
    for (std::uint32_t i = 0; i < 300; ++i) {
        const auto p = Prefix::v4(0x0b000000 | (i << 8), 24);
        REQUIRE(rib.apply_update(a, announce({p}, "169.254.10.1", 1000 + i)).accepted == 1);
    }
    CHECK(rib.attribute_sets() == 302);
    for (std::uint32_t i = 0; i < 300; ++i) {
        REQUIRE(rib.apply_update(a, withdraw({Prefix::v4(0x0b000000 | (i << 8), 24)})).withdrawn ==
                1);
    }
    CHECK(rib.attribute_sets() == 2);
}

TEST_CASE("locally originated routes share one set per origin", "[bgp][rib][intern]") {
    Rib rib({kLocalAs, 0x0a000001, 1});
    rib.originate(pfx("192.168.0.0/24"));
    rib.originate(pfx("192.168.1.0/24"));
    rib.originate(pfx("192.168.2.0/24"), Origin::Incomplete);
    const auto b0 = rib.best(pfx("192.168.0.0/24"));
    const auto b1 = rib.best(pfx("192.168.1.0/24"));
    const auto b2 = rib.best(pfx("192.168.2.0/24"));
    REQUIRE(b0);
    REQUIRE(b1);
    REQUIRE(b2);
    CHECK(b0->paths.at(0)->attributes == b1->paths.at(0)->attributes);
    CHECK(b2->paths.at(0)->attributes->origin == Origin::Incomplete);
    CHECK(rib.attribute_sets() == 2);
    CHECK(rib.take_fib_changes().empty());  // local routes are not forwarded
    rib.withdraw_local(pfx("192.168.2.0/24"));
    CHECK_FALSE(rib.best(pfx("192.168.2.0/24")).has_value());
    CHECK(rib.attribute_sets() == 1);
}

TEST_CASE("Prefix order: family, then length, then address octets", "[bgp][prefix]") {
    const auto v6 = [](std::uint8_t first, std::uint8_t ninth, std::uint8_t last,
                       std::uint8_t len) {
        std::array<std::uint8_t, 16> a{};
        a[0] = first;
        a[8] = ninth;
        a[15] = last;
        return Prefix::v6(a, len);
    };
    // IPv4 (AFI 1) before IPv6 (AFI 2) whatever the address; shorter before longer.
    CHECK(Prefix::v4(0xff000000, 8) < v6(0, 0, 0, 0));
    CHECK(Prefix::v4(0xff000000, 8) < Prefix::v4(0x01000000, 16));
    // Same length: the address as a big-endian number, in both 64-bit halves.
    CHECK(Prefix::v4(0x0a000100, 24) < Prefix::v4(0x0a000200, 24));
    CHECK(Prefix::v4(0x0a0001ff, 32) < Prefix::v4(0x0a000200, 32));
    CHECK(v6(0x20, 0xff, 0xff, 128) < v6(0x21, 0, 0, 128));
    CHECK(v6(0x20, 0x01, 0xff, 128) < v6(0x20, 0x02, 0x00, 128));
    CHECK(v6(0x20, 0x01, 0x01, 128) < v6(0x20, 0x01, 0x02, 128));
    CHECK(v6(0x20, 0x01, 0x02, 128) == v6(0x20, 0x01, 0x02, 128));
    CHECK(v6(0x20, 0x01, 0x02, 128) != v6(0x20, 0x01, 0x02, 127));
    CHECK((v6(0x20, 0x01, 0x02, 64) <=> v6(0x20, 0x01, 0x02, 64)) == std::strong_ordering::equal);
    CHECK((Prefix::v4(0x0a000200, 24) <=> Prefix::v4(0x0a000100, 24)) ==
          std::strong_ordering::greater);
}

TEST_CASE("export: not back to the source peer, but its withdrawal still goes out",
          "[bgp][rib][export]") {
    Rib rib({kLocalAs, 0x0a000001, 1});
    const PeerId a = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId b = rib.add_peer(peer(64513, "169.254.11.1", "169.254.11.2"));
    up(rib, a, 1);
    up(rib, b, 2);
    const auto p = pfx("10.1.0.0/16");

    // A's route: sent to B, nothing back to A.
    REQUIRE(rib.apply_update(a, announce({p}, "169.254.10.1", std::nullopt, {kAwsAs, 65000}))
                .accepted == 1);
    CHECK(rib.take_updates(a).updates.empty());
    auto to_b = rib.take_updates(b);
    REQUIRE(to_b.updates.size() == 1);
    CHECK(to_b.updates[0].nlri == std::vector<Prefix>{p});

    // B's shorter path wins: announced to A, withdrawn from B.
    REQUIRE(rib.apply_update(b, announce({p}, "169.254.11.1", std::nullopt, {64513})).accepted ==
            1);
    auto to_a = rib.take_updates(a);
    REQUIRE(to_a.updates.size() == 1);
    CHECK(to_a.updates[0].nlri == std::vector<Prefix>{p});
    CHECK(rib.adj_rib_out_size(a) == 1);
    to_b = rib.take_updates(b);
    REQUIRE(to_b.updates.size() == 1);
    CHECK(to_b.updates[0].withdrawn == std::vector<Prefix>{p});

    // B withdraws: A's own route is best again, so A's copy is withdrawn (not re-sent).
    REQUIRE(rib.apply_update(b, withdraw({p})).withdrawn == 1);
    to_a = rib.take_updates(a);
    REQUIRE(to_a.updates.size() == 1);
    CHECK(to_a.updates[0].withdrawn == std::vector<Prefix>{p});
    CHECK(to_a.updates[0].nlri.empty());
    CHECK(rib.adj_rib_out_size(a) == 0);
    to_b = rib.take_updates(b);
    REQUIRE(to_b.updates.size() == 1);
    CHECK(to_b.updates[0].nlri == std::vector<Prefix>{p});
    CHECK(rib.take_updates(a).updates.empty());
}

TEST_CASE("FIB: a flap within one batch yields nothing - removal is reported once",
          "[bgp][rib][fib]") {
    Rib rib({kLocalAs, 0x0a000001, 1});
    const PeerId a = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    up(rib, a, 1);
    const auto p = pfx("10.1.0.0/16");
    const auto q = pfx("10.2.0.0/16");

    REQUIRE(rib.apply_update(a, announce({q, p}, "169.254.10.1")).accepted == 2);
    auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].prefix == p);  // prefix order
    CHECK(changes[1].prefix == q);
    CHECK(changes[0].next_hops == std::vector<NextHop>{{addr("169.254.10.1"), a}});

    // Withdrawn and announced again between two takes, across a settle in between.
    REQUIRE(rib.apply_update(a, withdraw({p})).withdrawn == 1);
    CHECK_FALSE(rib.best(p).has_value());
    REQUIRE(rib.apply_update(a, announce({p}, "169.254.10.1")).accepted == 1);
    CHECK(rib.take_fib_changes().empty());

    // Withdrawn for good: one removal, then nothing.
    REQUIRE(rib.apply_update(a, withdraw({p})).withdrawn == 1);
    CHECK_FALSE(rib.best(p).has_value());
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].prefix == p);
    CHECK(changes[0].next_hops.empty());
    CHECK(rib.take_fib_changes().empty());

    // A new next hop for q, and back again before the take: nothing.
    REQUIRE(rib.apply_update(a, announce({q}, "169.254.10.9")).accepted == 1);
    CHECK(rib.best(q).has_value());
    REQUIRE(rib.apply_update(a, announce({q}, "169.254.10.1")).accepted == 1);
    CHECK(rib.take_fib_changes().empty());
    REQUIRE(rib.apply_update(a, announce({q}, "169.254.10.9")).accepted == 1);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].next_hops == std::vector<NextHop>{{addr("169.254.10.9"), a}});
}
