// RIB: best-path selection (RFC 4271 section 9.1.2.2), ECMP multipath, withdraw on session down,
// max-prefix actions (RFC 4486), RFC 8212 default deny, export policy and UPDATE wire octets.
// Scenarios follow AWS Site-to-Site VPN: a TGW attachment has two tunnels from AS 64512 with
// equal AS_PATHs (ECMP); a VGW marks its backup tunnel with a higher MED.
#include <catch2/catch.hpp>

#include "cgwd/bgp/rib.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

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
    c.import_policy = ImportPolicy{};
    c.export_policy = ExportPolicy{};
    return c;
}

void up(Rib& rib, PeerId id, std::uint32_t router_id) {
    SessionEstablished e;
    e.peer_identifier = router_id;
    e.peer_as = rib.peer_config(id)->peer_as;
    rib.peer_up(id, e);
}

struct Attrs {
    std::vector<std::uint32_t> path{kAwsAs};
    Origin origin = Origin::Igp;
    std::optional<std::uint32_t> med;
    std::optional<std::uint32_t> local_pref;
    std::vector<std::uint32_t> communities;
};

Update announce(std::vector<Prefix> prefixes, const char* next_hop, const Attrs& a = {}) {
    Update u;
    u.attributes.origin = a.origin;
    u.attributes.as_path = AsPath{};
    if (!a.path.empty()) {
        u.attributes.as_path->push_back({AsPathSegment::Type::Sequence, a.path});
    }
    u.attributes.next_hop = addr(next_hop).v4_host_order();
    u.attributes.med = a.med;
    u.attributes.local_pref = a.local_pref;
    u.attributes.communities = a.communities;
    u.nlri = std::move(prefixes);
    return u;
}

Update withdraw(std::vector<Prefix> prefixes) {
    Update u;
    u.withdrawn = std::move(prefixes);
    return u;
}

std::vector<std::string> hops(const std::vector<FibChange>& changes, const Prefix& p) {
    for (const auto& c : changes) {
        if (c.prefix == p) {
            std::vector<std::string> out;
            for (const auto& h : c.next_hops) out.push_back(h.address.to_string());
            return out;
        }
    }
    return {"<no change>"};
}

}  // namespace

TEST_CASE("prefix lists: exact, ge, le, first match, implicit deny", "[bgp][rib][policy]") {
    PrefixListPolicy pl;
    pl.entries.push_back({false, pfx("10.0.99.0/24"), std::nullopt, std::nullopt});
    pl.entries.push_back({true, pfx("10.0.0.0/8"), std::uint8_t{16}, std::uint8_t{24}});
    pl.entries.push_back({true, pfx("192.168.0.0/16"), std::nullopt, std::nullopt});
    pl.entries.push_back({true, pfx("172.16.0.0/12"), std::uint8_t{20}, std::nullopt});
    CHECK(pl.permits(pfx("10.1.0.0/16")));
    CHECK(pl.permits(pfx("10.1.2.0/24")));
    CHECK_FALSE(pl.permits(pfx("10.0.0.0/8")));     // below ge
    CHECK_FALSE(pl.permits(pfx("10.1.2.128/25")));  // above le
    CHECK_FALSE(pl.permits(pfx("10.0.99.0/24")));   // earlier deny wins
    CHECK(pl.permits(pfx("192.168.0.0/16")));
    CHECK_FALSE(pl.permits(pfx("192.168.1.0/24")));        // no ge/le: exact only
    CHECK(pl.permits(pfx("172.16.5.5/32")));               // ge only: up to /32
    CHECK_FALSE(pl.permits(pfx("172.32.0.0/20")));         // not covered
    CHECK_FALSE(pl.permits(pfx("8.8.8.0/24")));            // implicit deny
    CHECK_FALSE(parse_prefix("10.0.0.1/16").has_value());  // host bits
    CHECK_FALSE(parse_prefix("10.0.0.0/33").has_value());
    CHECK(parse_prefix("2001:db8::/32")->to_string() == "2001:db8:0:0:0:0:0:0/32");
}

// Each row: two routes for 10.0.0.0/16 that tie on everything before one criterion; `a_wins`
// says which one that criterion picks.
TEST_CASE("best path: each tie-breaker decides one case", "[bgp][rib][bestpath]") {
    struct Row {
        const char* name;
        std::uint32_t as_a, as_b;
        Attrs a, b;
        std::uint32_t rid_a, rid_b;
        const char* addr_a;
        const char* addr_b;
        std::optional<std::uint32_t> lp_a;  // import policy local-pref on A
        bool always_compare_med;
        bool a_wins;
    };
    const Attrs base;
    Attrs longer;
    longer.path = {kAwsAs, 64600};
    Attrs incomplete;
    incomplete.origin = Origin::Incomplete;
    Attrs med50, med100;
    med50.med = 50;
    med100.med = 100;
    Attrs other_as_med10;
    other_as_med10.path = {64513};
    other_as_med10.med = 10;
    Attrs ibgp_path;  // an iBGP neighbour's route, learned by it from AWS
    ibgp_path.local_pref = 100;
    const std::vector<Row> rows = {
        {"highest local-pref beats a shorter AS_PATH", kAwsAs, kAwsAs, longer, base, 9, 1,
         "169.254.10.1", "169.254.11.1", 200, false, true},
        {"shortest AS_PATH", kAwsAs, kAwsAs, longer, base, 1, 9, "169.254.10.1", "169.254.11.1",
         std::nullopt, false, false},
        {"lowest origin", kAwsAs, kAwsAs, incomplete, base, 1, 9, "169.254.10.1", "169.254.11.1",
         std::nullopt, false, false},
        {"lowest MED from the same neighbour AS", kAwsAs, kAwsAs, med100, med50, 1, 9,
         "169.254.10.1", "169.254.11.1", std::nullopt, false, false},
        {"MED not compared across neighbour ASes", kAwsAs, 64513, med50, other_as_med10, 1, 9,
         "169.254.10.1", "169.254.11.1", std::nullopt, false, true},
        {"always-compare-med compares across ASes", kAwsAs, 64513, med50, other_as_med10, 1, 9,
         "169.254.10.1", "169.254.11.1", std::nullopt, true, false},
        {"eBGP over iBGP", kLocalAs, kAwsAs, ibgp_path, base, 1, 9, "10.255.0.1", "169.254.11.1",
         std::nullopt, false, false},
        {"lowest router id", kAwsAs, kAwsAs, base, base, 9, 1, "169.254.10.1", "169.254.11.1",
         std::nullopt, false, false},
        {"lowest peer address", kAwsAs, kAwsAs, base, base, 5, 5, "169.254.11.1", "169.254.10.1",
         std::nullopt, false, false},
    };
    for (const auto& row : rows) {
        SECTION(row.name) {
            RibConfig rc{kLocalAs, 0x0a000001, 1, row.always_compare_med, 100};
            Rib rib(rc);
            auto ca = peer(row.as_a, row.addr_a, "169.254.10.2");
            if (row.lp_a) ca.import_policy->local_pref = row.lp_a;
            const PeerId a = rib.add_peer(ca);
            const PeerId b = rib.add_peer(peer(row.as_b, row.addr_b, "169.254.11.2"));
            up(rib, a, row.rid_a);
            up(rib, b, row.rid_b);
            const Prefix p = pfx("10.0.0.0/16");
            CHECK(rib.apply_update(a, announce({p}, row.addr_a, row.a)).accepted == 1);
            CHECK(rib.apply_update(b, announce({p}, row.addr_b, row.b)).accepted == 1);
            auto best = rib.best(p);
            REQUIRE(best);
            REQUIRE(best->paths.size() == 1);
            CHECK(best->paths[0]->peer == (row.a_wins ? a : b));
            CHECK(hops(rib.take_fib_changes(), p) ==
                  std::vector<std::string>{row.a_wins ? row.addr_a : row.addr_b});
        }
    }
}

TEST_CASE("best path: MED elimination is per neighbour AS, not pairwise", "[bgp][rib][bestpath]") {
    // RFC 4271 9.1.2.2 (c): A (AS 64512, MED 10), B (AS 64513, MED 5), C (AS 64512, MED 20).
    // C is removed by A; A and B are not comparable; A has the lowest router id and wins.
    Rib rib({kLocalAs, 1, 1, false, 100});
    const PeerId a = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId b = rib.add_peer(peer(64513, "169.254.11.1", "169.254.11.2"));
    const PeerId c = rib.add_peer(peer(kAwsAs, "169.254.12.1", "169.254.12.2"));
    up(rib, a, 1);
    up(rib, b, 2);
    up(rib, c, 0);  // would win on router id if it survived the MED step
    const Prefix p = pfx("10.0.0.0/16");
    Attrs am, bm, cm;
    am.med = 10;
    bm.path = {64513};
    bm.med = 5;
    cm.med = 20;
    (void)rib.apply_update(a, announce({p}, "169.254.10.1", am));
    (void)rib.apply_update(b, announce({p}, "169.254.11.1", bm));
    (void)rib.apply_update(c, announce({p}, "169.254.12.1", cm));
    CHECK(rib.best(p)->paths.at(0)->peer == a);
}

TEST_CASE("ECMP: TGW tunnels with equal AS_PATH give two next hops", "[bgp][rib][ecmp]") {
    Rib rib({kLocalAs, 1, 4, false, 100});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, t1, 0xa9fe0a01);
    up(rib, t2, 0xa9fe0b01);
    const Prefix p = pfx("10.0.0.0/16");
    (void)rib.apply_update(t1, announce({p}, "169.254.10.1"));
    (void)rib.apply_update(t2, announce({p}, "169.254.11.1"));
    const auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(hops(changes, p) == std::vector<std::string>{"169.254.10.1", "169.254.11.1"});
    CHECK(changes[0].next_hops[0].peer == t1);
    CHECK(changes[0].next_hops[1].peer == t2);
    CHECK(rib.take_fib_changes().empty());  // nothing new
}

TEST_CASE("ECMP: VGW tunnels with different MED give one next hop", "[bgp][rib][ecmp]") {
    Rib rib({kLocalAs, 1, 4, false, 100});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, t1, 0xa9fe0a01);
    up(rib, t2, 0xa9fe0b01);
    const Prefix p = pfx("10.0.0.0/16");
    Attrs primary, backup;
    primary.med = 200;  // the lower router id gets the worse MED: MED must decide
    backup.med = 100;
    (void)rib.apply_update(t1, announce({p}, "169.254.10.1", primary));
    (void)rib.apply_update(t2, announce({p}, "169.254.11.1", backup));
    CHECK(hops(rib.take_fib_changes(), p) == std::vector<std::string>{"169.254.11.1"});
}

TEST_CASE("ECMP: different neighbour AS or cap of one gives one next hop", "[bgp][rib][ecmp]") {
    const Prefix p = pfx("10.0.0.0/16");
    SECTION("different neighbour AS, same length") {
        Rib rib({kLocalAs, 1, 4, false, 100});
        const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
        const PeerId t2 = rib.add_peer(peer(64513, "169.254.11.1", "169.254.11.2"));
        up(rib, t1, 1);
        up(rib, t2, 2);
        Attrs other;
        other.path = {64513};
        (void)rib.apply_update(t1, announce({p}, "169.254.10.1"));
        (void)rib.apply_update(t2, announce({p}, "169.254.11.1", other));
        CHECK(hops(rib.take_fib_changes(), p) == std::vector<std::string>{"169.254.10.1"});
    }
    SECTION("max_paths 1") {
        Rib rib({kLocalAs, 1, 1, false, 100});
        const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
        const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
        up(rib, t1, 2);
        up(rib, t2, 1);
        (void)rib.apply_update(t1, announce({p}, "169.254.10.1"));
        (void)rib.apply_update(t2, announce({p}, "169.254.11.1"));
        CHECK(hops(rib.take_fib_changes(), p) == std::vector<std::string>{"169.254.11.1"});
    }
}

TEST_CASE("peer down withdraws everything it sent - batches coalesce", "[bgp][rib][withdraw]") {
    Rib rib({kLocalAs, 1, 4, false, 100});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, t1, 1);
    up(rib, t2, 2);
    const Prefix p = pfx("10.0.0.0/16"), q = pfx("10.1.0.0/16");
    (void)rib.apply_update(t1, announce({p, q}, "169.254.10.1"));
    (void)rib.apply_update(t2, announce({p}, "169.254.11.1"));
    CHECK(rib.take_fib_changes().size() == 2);

    rib.peer_down(t1);
    auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 2);
    CHECK(hops(changes, p) == std::vector<std::string>{"169.254.11.1"});
    CHECK(hops(changes, q).empty());  // removal
    CHECK(rib.adj_rib_in(t1).empty());
    CHECK_FALSE(rib.apply_update(t1, announce({q}, "169.254.10.1")).accepted);  // down: ignored

    // A withdraw and re-announce inside one batch is no change at all.
    (void)rib.apply_update(t2, withdraw({p}));
    (void)rib.apply_update(t2, announce({p}, "169.254.11.1"));
    CHECK(rib.take_fib_changes().empty());

    rib.peer_down(t2);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].prefix == p);
    CHECK(changes[0].next_hops.empty());
    CHECK_FALSE(rib.best(p).has_value());
}

TEST_CASE("routes with our own AS or no next hop are not feasible", "[bgp][rib]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    up(rib, t1, 1);
    Attrs loop;
    loop.path = {kAwsAs, kLocalAs, 64999};
    auto r = rib.apply_update(t1, announce({pfx("10.0.0.0/16")}, "169.254.10.1", loop));
    CHECK(r.accepted == 0);
    CHECK(r.filtered == 1);
    CHECK(rib.take_fib_changes().empty());
}

TEST_CASE("max-prefix: warn, drop-excess, reset", "[bgp][rib][maxprefix]") {
    const std::vector<Prefix> three = {pfx("10.0.0.0/16"), pfx("10.1.0.0/16"), pfx("10.2.0.0/16")};
    Rib rib({kLocalAs, 1, 1, false, 100});
    auto cfg = peer(kAwsAs, "169.254.10.1", "169.254.10.2");
    SECTION("warn accepts everything and reports the crossing once") {
        cfg.import_policy->max_prefix = MaxPrefix{2, MaxPrefixAction::Warn};
        const PeerId t = rib.add_peer(cfg);
        up(rib, t, 1);
        auto r = rib.apply_update(t, announce(three, "169.254.10.1"));
        CHECK(r.accepted == 3);
        CHECK(r.max_prefix_warning);
        CHECK_FALSE(r.reset);
        r = rib.apply_update(t, announce({pfx("10.3.0.0/16")}, "169.254.10.1"));
        CHECK(r.accepted == 1);
        CHECK_FALSE(r.max_prefix_warning);
        CHECK(rib.take_fib_changes().size() == 4);
    }
    SECTION("drop-excess keeps the first N and reports the rest") {
        cfg.import_policy->max_prefix = MaxPrefix{2, MaxPrefixAction::DropExcess};
        const PeerId t = rib.add_peer(cfg);
        up(rib, t, 1);
        auto r = rib.apply_update(t, announce(three, "169.254.10.1"));
        CHECK(r.accepted == 2);
        CHECK(r.dropped_excess == std::vector<Prefix>{three[2]});
        CHECK_FALSE(r.reset);
        // Re-announcing a stored prefix with new attributes is not "new": still accepted.
        Attrs m;
        m.med = 7;
        CHECK(rib.apply_update(t, announce({three[0]}, "169.254.10.1", m)).accepted == 1);
        const auto changes = rib.take_fib_changes();
        CHECK(changes.size() == 2);
        CHECK(hops(changes, three[2]) == std::vector<std::string>{"<no change>"});
    }
    SECTION("reset returns Cease/Maximum Number of Prefixes Reached and drops the peer's routes") {
        cfg.import_policy->max_prefix = MaxPrefix{2, MaxPrefixAction::Reset};
        const PeerId t = rib.add_peer(cfg);
        up(rib, t, 1);
        CHECK(rib.apply_update(t, announce({three[0], three[1]}, "169.254.10.1")).accepted == 2);
        auto r = rib.apply_update(t, announce({three[2]}, "169.254.10.1"));
        REQUIRE(r.reset);
        // RFC 4486 section 4: AFI 1, SAFI 1, upper bound 2.
        CHECK(encode_notification(*r.reset) ==
              hex("ffffffffffffffffffffffffffffffff 001c 03 06 01 0001 01 00000002"));
        CHECK_FALSE(rib.is_up(t));
        CHECK(rib.adj_rib_in(t).empty());
        CHECK(rib.take_fib_changes().empty());  // announced and removed within one batch
    }
}

TEST_CASE("RFC 8212: eBGP without policy gets nothing in and sends nothing out",
          "[bgp][rib][rfc8212]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    auto bare = peer(kAwsAs, "169.254.10.1", "169.254.10.2");
    bare.import_policy.reset();
    bare.export_policy.reset();
    const PeerId e = rib.add_peer(bare);
    auto ibgp_cfg = peer(kLocalAs, "10.255.0.1", "10.255.0.2");
    ibgp_cfg.import_policy.reset();
    ibgp_cfg.export_policy.reset();
    const PeerId i = rib.add_peer(ibgp_cfg);
    up(rib, e, 1);
    up(rib, i, 2);
    rib.originate(pfx("172.16.0.0/16"));

    auto r = rib.apply_update(e, announce({pfx("10.0.0.0/16")}, "169.254.10.1"));
    CHECK(r.accepted == 0);
    CHECK(r.filtered == 1);
    CHECK(rib.take_updates(e).updates.empty());
    CHECK(rib.take_fib_changes().empty());

    // iBGP is not covered by RFC 8212: routes flow both ways.
    Attrs ib;
    ib.path = {};
    CHECK(rib.apply_update(i, announce({pfx("10.9.0.0/16")}, "10.255.0.1", ib)).accepted == 1);
    CHECK(rib.take_updates(i).updates.size() == 1);

    // Configuring policies opens the eBGP session up.
    rib.set_policies(e, ImportPolicy{}, ExportPolicy{});
    CHECK(rib.take_updates(e).updates.size() == 1);
}

TEST_CASE("export: prepend, MED, communities, next-hop self, on the wire", "[bgp][rib][export]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    auto cfg = peer(kAwsAs, "169.254.10.1", "169.254.10.2");
    cfg.export_policy->as_path_prepend = 1;
    cfg.export_policy->med = 50;
    cfg.export_policy->communities = {(kLocalAs << 16) | 100};
    const PeerId t = rib.add_peer(cfg);
    up(rib, t, 1);
    rib.originate(pfx("10.10.0.0/16"));
    auto batch = rib.take_updates(t);
    REQUIRE(batch.updates.size() == 1);
    // RFC 4271 section 4.3 / 5.1 and RFC 1997, 4-octet AS session: ORIGIN IGP, AS_PATH
    // SEQUENCE (65010 65010), NEXT_HOP 169.254.10.2, MED 50, COMMUNITIES 65010:100,
    // NLRI 10.10.0.0/16.
    CHECK(*encode_update(batch.updates[0], UpdateContext{true, true}) ==
          hex("ffffffffffffffffffffffffffffffff 0040 02"
              "0000 0026"
              "40 01 01 00"
              "40 02 0a 02 02 0000fdf2 0000fdf2"
              "40 03 04 a9fe0a02"
              "80 04 04 00000032"
              "c0 08 04 fdf20064"
              "10 0a0a"));
    CHECK(rib.take_updates(t).updates.empty());  // Adj-RIB-Out already has it

    rib.withdraw_local(pfx("10.10.0.0/16"));
    batch = rib.take_updates(t);
    REQUIRE(batch.updates.size() == 1);
    CHECK(*encode_update(batch.updates[0], UpdateContext{true, true}) ==
          hex("ffffffffffffffffffffffffffffffff 001a 02 0003 10 0a0a 0000"));
}

TEST_CASE("export: received MED is not passed on, large communities added, loop avoided",
          "[bgp][rib][export]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    const PeerId aws = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    auto dc_cfg = peer(64700, "192.0.2.1", "192.0.2.2");
    dc_cfg.export_policy->large_communities = {{kLocalAs, 1, 2}};
    const PeerId dc = rib.add_peer(dc_cfg);
    const PeerId aws2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, aws, 1);
    up(rib, dc, 2);
    up(rib, aws2, 3);
    Attrs m;
    m.med = 100;
    (void)rib.apply_update(aws, announce({pfx("10.0.0.0/16")}, "169.254.10.1", m));
    auto batch = rib.take_updates(dc);
    REQUIRE(batch.updates.size() == 1);
    const auto& a = batch.updates[0].attributes;
    CHECK_FALSE(a.med.has_value());  // RFC 4271 section 5.1.4
    CHECK_FALSE(a.local_pref.has_value());
    CHECK(*a.as_path == AsPath{{AsPathSegment::Type::Sequence, {kLocalAs, kAwsAs}}});
    CHECK(a.large_communities == std::vector<LargeCommunity>{{kLocalAs, 1, 2}});
    CHECK(*a.next_hop == addr("192.0.2.2").v4_host_order());
    CHECK(rib.take_updates(aws).updates.empty());   // not back to its source
    CHECK(rib.take_updates(aws2).updates.empty());  // AS 64512 is in the path
}

TEST_CASE("export: max-prefix-out holds back the (N+1)th prefix", "[bgp][rib][export]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    auto cfg = peer(kAwsAs, "169.254.10.1", "169.254.10.2");
    cfg.export_policy->max_prefix_out = 2;
    const PeerId t = rib.add_peer(cfg);
    up(rib, t, 1);
    rib.originate(pfx("172.16.0.0/16"));
    rib.originate(pfx("172.17.0.0/16"));
    rib.originate(pfx("172.18.0.0/16"));
    auto batch = rib.take_updates(t);
    REQUIRE(batch.updates.size() == 1);
    CHECK(batch.updates[0].nlri == std::vector<Prefix>{pfx("172.16.0.0/16"), pfx("172.17.0.0/16")});
    CHECK(batch.newly_held_back == std::vector<Prefix>{pfx("172.18.0.0/16")});
    CHECK(rib.adj_rib_out_size(t) == 2);
    CHECK(rib.take_updates(t).newly_held_back.empty());  // reported once

    // Room frees up: the held-back prefix goes out.
    rib.withdraw_local(pfx("172.16.0.0/16"));
    batch = rib.take_updates(t);
    REQUIRE(batch.updates.size() == 2);
    CHECK(batch.updates[0].withdrawn == std::vector<Prefix>{pfx("172.16.0.0/16")});
    CHECK(batch.updates[1].nlri == std::vector<Prefix>{pfx("172.18.0.0/16")});
    CHECK(rib.held_back(t).empty());
}

TEST_CASE("export: many prefixes split into UPDATEs that fit 4096 octets", "[bgp][rib][export]") {
    Rib rib({kLocalAs, 1, 1, false, 100});
    const PeerId t = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    up(rib, t, 1);
    for (std::uint32_t i = 0; i < 2000; ++i) rib.originate(Prefix::v4(0x0a000000 | (i << 8), 24));
    auto batch = rib.take_updates(t);
    REQUIRE(batch.updates.size() >= 2);
    std::size_t total = 0;
    for (const auto& u : batch.updates) {
        REQUIRE(encode_update(u, UpdateContext{false, true}).has_value());  // 2-octet AS too
        total += u.nlri.size();
    }
    CHECK(total == 2000);
}

// The daemon keeps no copy of what it installed: the Rib's FIB as last taken is that state.
TEST_CASE("FIB state: fib_size, for_each_fib and `replaced` follow the changes taken",
          "[bgp][rib][fib]") {
    Rib rib({kLocalAs, 1, 4, false, 100});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, t1, 1);
    up(rib, t2, 2);
    const Prefix p = pfx("10.0.0.0/16"), q = pfx("10.1.0.0/16");
    auto listed = [&] {
        std::vector<std::string> out;
        rib.for_each_fib([&](const Prefix& prefix, std::span<const NextHop> next_hops) {
            std::string line = prefix.to_string();
            for (const auto& h : next_hops) line += " " + h.address.to_string();
            out.push_back(line);
        });
        return out;
    };
    Attrs backup;
    backup.med = 200;
    (void)rib.apply_update(t1, announce({p, q}, "169.254.10.1"));
    (void)rib.apply_update(t2, announce({p}, "169.254.11.1", backup));
    CHECK(rib.fib_size() == 0);  // decided, not taken yet
    auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 2);
    CHECK_FALSE(changes[0].replaced);
    CHECK_FALSE(changes[1].replaced);
    CHECK(rib.fib_size() == 2);
    CHECK(listed() ==
          std::vector<std::string>{"10.0.0.0/16 169.254.10.1", "10.1.0.0/16 169.254.10.1"});

    // Tunnel 1 goes: p fails over to tunnel 2 (replaced), q is removed.
    rib.peer_down(t1);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].prefix == p);
    CHECK(changes[0].replaced);
    CHECK(changes[1].prefix == q);
    CHECK(changes[1].next_hops.empty());
    CHECK_FALSE(changes[1].replaced);
    CHECK(rib.fib_size() == 1);
    CHECK(listed() == std::vector<std::string>{"10.0.0.0/16 169.254.11.1"});

    // Back with equal MED: ECMP over both tunnels, two next hops held out of line.
    up(rib, t1, 1);
    (void)rib.apply_update(t1, announce({p}, "169.254.10.1", backup));
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].replaced);
    CHECK(listed() == std::vector<std::string>{"10.0.0.0/16 169.254.10.1 169.254.11.1"});
    REQUIRE(rib.best(p).has_value());
    CHECK(rib.best(p)->paths.size() == 2);

    // A change that flaps back within one batch is no change, and the state stays.
    (void)rib.apply_update(t1, withdraw({p}));
    (void)rib.apply_update(t1, announce({p}, "169.254.10.1", backup));
    CHECK(rib.take_fib_changes().empty());
    CHECK(rib.fib_size() == 1);

    rib.peer_down(t1);
    rib.peer_down(t2);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].next_hops.empty());
    CHECK(rib.fib_size() == 0);
    CHECK(listed().empty());
}

// The Adj-RIBs-In live in the Loc-RIB's entries (one entry per prefix, its routes from every
// peer): routes come and go in any order, the per-peer counts, the best path and the FIB follow.
TEST_CASE("one prefix from three peers and locally: routes come and go, counts follow",
          "[bgp][rib][storage]") {
    Rib rib({kLocalAs, 0x0a000001, 2});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    const PeerId dx = rib.add_peer(peer(kAwsAs, "169.254.12.1", "169.254.12.2"));
    up(rib, t1, 1);
    up(rib, t2, 2);
    up(rib, dx, 3);
    const Prefix vpc = pfx("10.0.0.0/16");
    const Prefix other = pfx("10.1.0.0/16");
    Attrs med100;
    med100.med = 100;
    REQUIRE(rib.apply_update(t1, announce({vpc, other}, "169.254.10.1", med100)).accepted == 2);
    REQUIRE(rib.apply_update(t2, announce({vpc}, "169.254.11.1", med100)).accepted == 1);
    REQUIRE(rib.apply_update(dx, announce({vpc}, "169.254.12.1")).accepted == 1);
    CHECK(rib.adj_rib_in_size(t1) == 2);
    CHECK(rib.adj_rib_in_size(t2) == 1);
    CHECK(rib.adj_rib_in_size(dx) == 1);
    // Same LOCAL_PREF (eBGP: the default 100), same AS_PATH and neighbour AS: MED decides, and
    // t1 and t2 (MED 100) lose to dx (no MED: 0).
    auto changes = rib.take_fib_changes();
    CHECK(hops(changes, vpc) == std::vector<std::string>{"169.254.12.1"});
    CHECK(hops(changes, other) == std::vector<std::string>{"169.254.10.1"});

    // The best route's peer goes: the two tunnels share the prefix (ECMP, max_paths 2).
    REQUIRE(rib.apply_update(dx, withdraw({vpc})).withdrawn == 1);
    CHECK(rib.adj_rib_in_size(dx) == 0);
    changes = rib.take_fib_changes();
    CHECK(hops(changes, vpc) == std::vector<std::string>{"169.254.10.1", "169.254.11.1"});
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].replaced);

    // A local route wins over all and is not forwarded: the FIB entry goes.
    rib.originate(vpc);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].next_hops.empty());
    rib.withdraw_local(vpc);
    CHECK(hops(rib.take_fib_changes(), vpc) ==
          std::vector<std::string>{"169.254.10.1", "169.254.11.1"});

    // Graceful restart of t1: its routes stay, counted stale, until re-announced or flushed.
    rib.peer_down_graceful(t1, {kIpv4Unicast});
    CHECK(rib.stale_count(t1) == 2);
    CHECK(rib.adj_rib_in_size(t1) == 2);
    CHECK(rib.take_fib_changes().empty());  // stale routes still forward
    up(rib, t1, 1);
    REQUIRE(rib.apply_update(t1, announce({other}, "169.254.10.1", med100)).accepted == 1);
    CHECK(rib.stale_count(t1) == 1);  // re-announced: no longer stale
    CHECK(rib.flush_stale(t1, {kIpv4Unicast}) == 1);
    CHECK(rib.stale_count(t1) == 0);
    CHECK(rib.adj_rib_in_size(t1) == 1);
    CHECK(hops(rib.take_fib_changes(), vpc) == std::vector<std::string>{"169.254.11.1"});

    // The last peer for the prefix goes: the entry is removed with its FIB state.
    rib.peer_down(t2);
    changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].prefix == vpc);
    CHECK(changes[0].next_hops.empty());
    CHECK_FALSE(rib.best(vpc).has_value());
    CHECK(rib.fib_size() == 1);  // `other` via t1
    const auto in = rib.adj_rib_in(t1);
    REQUIRE(in.size() == 1);
    CHECK(in[0].first == other);
    CHECK(in[0].second->next_hop() == addr("169.254.10.1"));
}

// RFC 4724 + RFC 4271 9.1.2.2 (f): routes kept stale over a peer's restart were decided with its
// old BGP identifier; when it comes back with another one, they are decided again at once.
TEST_CASE(
    "graceful restart: a peer back with a new BGP identifier has its stale routes decided again",
    "[bgp][rib][gr]") {
    Rib rib({kLocalAs, 0x0a000001, 1});
    const PeerId t1 = rib.add_peer(peer(kAwsAs, "169.254.10.1", "169.254.10.2"));
    const PeerId t2 = rib.add_peer(peer(kAwsAs, "169.254.11.1", "169.254.11.2"));
    up(rib, t1, 5);
    up(rib, t2, 7);
    const Prefix vpc = pfx("10.0.0.0/16");
    REQUIRE(rib.apply_update(t1, announce({vpc}, "169.254.10.1")).accepted == 1);
    REQUIRE(rib.apply_update(t2, announce({vpc}, "169.254.11.1")).accepted == 1);
    CHECK(hops(rib.take_fib_changes(), vpc) == std::vector<std::string>{"169.254.10.1"});  // id 5

    rib.peer_down_graceful(t1, {kIpv4Unicast});
    CHECK(rib.take_fib_changes().empty());
    up(rib, t1, 9);  // back, before re-announcing anything: now the higher identifier
    CHECK(hops(rib.take_fib_changes(), vpc) == std::vector<std::string>{"169.254.11.1"});
    const auto best = rib.best(vpc);
    REQUIRE(best);
    CHECK(best->paths.at(0)->peer == t2);
}
