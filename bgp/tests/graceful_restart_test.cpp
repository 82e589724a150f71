// Graceful restart, receiving speaker (RFC 4724 sections 2, 3, 4.2): the capability we
// advertise, End-of-RIB markers sent and recognised, stale routes kept across a peer's restart
// and flushed on End-of-RIB / restart timer / stale timer / NOTIFICATION -- the Session FSM with an
// injected fake clock (no test waits), and the Rib's stale marking and flush.
#include <catch2/catch.hpp>

#include "cgwd/bgp/rib.hpp"
#include "cgwd/bgp/session.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using namespace std::chrono_literals;
using cgwd::bgp::test::hex;

namespace {

const TimePoint t0 = TimePoint{} + 1000s;

SessionConfig helper_config() {
    SessionConfig c;
    c.local_as = 65000;
    c.peer_as = 64512;
    c.bgp_identifier = 0x0a000001;
    c.hold_time = 90;
    c.connect_retry = 5s;
    c.stale_time = 60s;
    c.families = {kIpv4Unicast, kIpv6Unicast};
    c.graceful_restart =
        GracefulRestart{false, false, 120, {{kIpv4Unicast, false}, {kIpv6Unicast, false}}};
    return c;
}

// The peer's GR capability: restart time, R bit, and per family the F bit.
GracefulRestart peer_gr(std::uint16_t restart_time, bool restarting, bool f_v4, bool f_v6) {
    return GracefulRestart{
        restarting, false, restart_time, {{kIpv4Unicast, f_v4}, {kIpv6Unicast, f_v6}}};
}

Bytes peer_open(std::optional<GracefulRestart> gr) {
    Open o;
    o.local_as = 64512;
    o.hold_time = 90;
    o.bgp_identifier = 0x0a000002;
    o.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    o.capabilities.four_octet_as = 64512u;
    o.capabilities.graceful_restart = std::move(gr);
    return encode_open(o);
}

std::vector<RawMessage> frames(const Bytes& out) {
    Framer f;
    f.feed(out);
    std::vector<RawMessage> msgs;
    for (;;) {
        auto r = f.next();
        REQUIRE(r.has_value());
        if (!*r) break;
        msgs.push_back(std::move(**r));
    }
    return msgs;
}

template <typename T>
std::vector<T> only(const std::vector<SessionEvent>& events) {
    std::vector<T> out;
    for (const auto& e : events) {
        if (const auto* p = std::get_if<T>(&e)) out.push_back(*p);
    }
    return out;
}

void establish(Session& s, TimePoint now, std::optional<GracefulRestart> gr) {
    if (s.state() == SessionState::Idle) s.start(now);
    s.on_tcp_connected(now);
    s.on_bytes(test::cat(peer_open(std::move(gr)), encode_keepalive()), now);
    REQUIRE(s.state() == SessionState::Established);
    (void)s.take_output();
}

Update v4_route(const char* prefix) {
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, {64512}}};
    u.attributes.next_hop = 0x0a630001;  // 10.99.0.1
    u.nlri = {*parse_prefix(prefix)};
    return u;
}

const std::vector<AfiSafi> kBoth{kIpv4Unicast, kIpv6Unicast};

}  // namespace

TEST_CASE("graceful restart: our OPEN carries the helper capability, code 64",
          "[bgp][session][gr]") {
    Session s(helper_config());
    s.start(t0);
    s.on_tcp_connected(t0);
    auto msgs = frames(s.take_output());
    REQUIRE(msgs.size() == 1);
    // RFC 4724 section 3: code 64, length 2 + 4 per family; Restart Flags 0 (we are not
    // restarting), Restart Time 120 (0x078); AFI 1 SAFI 1 flags 0, AFI 2 SAFI 1 flags 0 (we do
    // not preserve forwarding state: helper only).
    const Bytes cap = hex("40 0a 00 78 0001 01 00 0002 01 00");
    CHECK(std::search(msgs[0].body.begin(), msgs[0].body.end(), cap.begin(), cap.end()) !=
          msgs[0].body.end());
    auto open = decode_open(msgs[0].body);
    REQUIRE(open.has_value());
    REQUIRE(open->capabilities.graceful_restart.has_value());
    CHECK(open->capabilities.graceful_restart->restart_time == 120);
    CHECK_FALSE(open->capabilities.graceful_restart->restart_state);
}

TEST_CASE("graceful restart: End-of-RIB sent for each negotiated family, recognised from the peer",
          "[bgp][session][gr]") {
    Session s(helper_config());
    CHECK_FALSE(s.send_end_of_rib(t0));  // not Established
    establish(s, t0, peer_gr(120, false, true, true));
    (void)s.take_events();
    REQUIRE(s.send_end_of_rib(t0));
    // RFC 4724 section 2: IPv4 unicast = UPDATE with no withdrawn routes, no attributes, no NLRI
    // (23 octets); IPv6 unicast = UPDATE holding only MP_UNREACH_NLRI (flags 0x80, type 15)
    // with AFI 2 / SAFI 1 and no withdrawn routes.
    const std::string marker = test::kMarker;
    CHECK(s.take_output() ==
          hex(marker + "0017 02 0000 0000" + marker + "001d 02 0000 0006 80 0f 03 0002 01"));
    s.on_bytes(hex(marker + "001d 02 0000 0006 80 0f 03 0002 01"), t0 + 1s);
    s.on_bytes(hex(marker + "0017 02 0000 0000"), t0 + 1s);
    auto events = s.take_events();
    auto eor = only<EndOfRibReceived>(events);
    REQUIRE(eor.size() == 2);
    CHECK(eor[0].family == kIpv6Unicast);
    CHECK(eor[1].family == kIpv4Unicast);
    CHECK(only<RoutesReceived>(events).empty());
    CHECK(only<StaleRoutesExpired>(events).empty());  // nothing stale: no restart happened
}

TEST_CASE("graceful restart: TCP reset keeps routes stale - after the restart End-of-RIB flushes",
          "[bgp][session][gr]") {
    Session s(helper_config());
    establish(s, t0, peer_gr(60, false, true, true));
    (void)s.take_events();

    const TimePoint t1 = t0 + 10s;
    s.on_tcp_closed(t1);
    auto events = s.take_events();
    auto down = only<SessionDown>(events);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == DownReason::TcpClosed);
    CHECK(down[0].stale_families == kBoth);
    CHECK(only<StaleRoutesExpired>(events).empty());
    CHECK(s.stale_families() == kBoth);
    CHECK(s.next_deadline() == t1 + 60s);  // the peer's Restart Time

    // The owner restarts the session; the peer comes back at t1 + 30 s, restarting (R bit),
    // forwarding preserved for IPv4 only: IPv6 stale routes go at once (RFC 4724 section 4.2).
    s.start(t1);
    (void)s.take_events();
    const TimePoint t2 = t1 + 30s;
    s.on_tcp_connected(t2);
    s.on_bytes(peer_open(peer_gr(120, true, true, false)), t2);
    events = s.take_events();
    auto flushed = only<StaleRoutesExpired>(events);
    REQUIRE(flushed.size() == 1);
    CHECK(flushed[0].families == std::vector<AfiSafi>{kIpv6Unicast});
    CHECK(flushed[0].reason == StaleReason::NotPreserved);
    CHECK(s.stale_families() == std::vector<AfiSafi>{kIpv4Unicast});
    s.on_bytes(encode_keepalive(), t2);
    REQUIRE(s.state() == SessionState::Established);
    (void)s.take_events();
    // Restart timer stopped; the stale timer (60 s) bounds the wait for End-of-RIB.
    s.on_timer(t2 + 45s);  // past t1 + 60 s, before t2 + 60 s
    CHECK(only<StaleRoutesExpired>(s.take_events()).empty());

    // Re-announcements, then End-of-RIB: the rest of the stale IPv4 routes go.
    s.on_bytes(*encode_update(v4_route("10.0.0.0/16"), s.update_context()), t2 + 46s);
    s.on_bytes(encode_end_of_rib(kIpv4Unicast), t2 + 46s);
    events = s.take_events();
    REQUIRE(events.size() == 3);
    CHECK(std::holds_alternative<RoutesReceived>(events[0]));
    CHECK(std::holds_alternative<EndOfRibReceived>(events[1]));
    REQUIRE(std::holds_alternative<StaleRoutesExpired>(events[2]));
    CHECK(std::get<StaleRoutesExpired>(events[2]).families == std::vector<AfiSafi>{kIpv4Unicast});
    CHECK(std::get<StaleRoutesExpired>(events[2]).reason == StaleReason::EndOfRib);
    CHECK(s.stale_families().empty());
    s.on_timer(t2 + 61s);
    CHECK(only<StaleRoutesExpired>(s.take_events()).empty());
}

TEST_CASE("graceful restart: restart timer expiry flushes every stale route, not a ms earlier",
          "[bgp][session][gr]") {
    Session s(helper_config());
    establish(s, t0, peer_gr(45, false, true, true));
    (void)s.take_events();
    s.on_tcp_closed(t0);
    (void)s.take_events();
    s.on_timer(t0 + 45s - 1ms);
    CHECK(only<StaleRoutesExpired>(s.take_events()).empty());
    s.on_timer(t0 + 45s);
    auto flushed = only<StaleRoutesExpired>(s.take_events());
    REQUIRE(flushed.size() == 1);
    CHECK(flushed[0].families == kBoth);
    CHECK(flushed[0].reason == StaleReason::RestartTimerExpired);
    CHECK(s.stale_families().empty());
    CHECK_FALSE(s.next_deadline().has_value());
}

TEST_CASE("graceful restart: no End-of-RIB after the restart: the stale timer flushes",
          "[bgp][session][gr]") {
    Session s(helper_config());
    establish(s, t0, peer_gr(120, false, true, true));
    (void)s.take_events();
    s.on_tcp_closed(t0);
    s.start(t0);
    establish(s, t0 + 5s, peer_gr(120, true, true, true));
    (void)s.take_events();
    s.on_timer(t0 + 65s - 1ms);
    CHECK(only<StaleRoutesExpired>(s.take_events()).empty());
    s.on_timer(t0 + 65s);  // 5 s + stale_time 60 s
    auto flushed = only<StaleRoutesExpired>(s.take_events());
    REQUIRE(flushed.size() == 1);
    CHECK(flushed[0].families == kBoth);
    CHECK(flushed[0].reason == StaleReason::StaleTimerExpired);
}

TEST_CASE("graceful restart: hold timer expiry is a silent end too", "[bgp][session][gr]") {
    Session s(helper_config());
    establish(s, t0, peer_gr(120, false, true, true));
    (void)s.take_events();
    s.on_timer(t0 + 90s);
    auto down = only<SessionDown>(s.take_events());
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == DownReason::HoldTimerExpired);
    CHECK(down[0].stale_families == kBoth);
}

TEST_CASE(
    "graceful restart: NOTIFICATION, a peer without GR, or GR not configured: no stale routes",
    "[bgp][session][gr]") {
    SECTION("NOTIFICATION received") {
        Session s(helper_config());
        establish(s, t0, peer_gr(120, false, true, true));
        (void)s.take_events();
        s.on_bytes(encode_notification(Notification::make(ErrorCode::Cease, 2)), t0);
        auto down = only<SessionDown>(s.take_events());
        REQUIRE(down.size() == 1);
        CHECK(down[0].reason == DownReason::NotificationReceived);
        CHECK(down[0].stale_families.empty());
        CHECK_FALSE(s.next_deadline().has_value());
    }
    SECTION("peer without the capability") {
        Session s(helper_config());
        establish(s, t0, std::nullopt);
        (void)s.take_events();
        s.on_tcp_closed(t0);
        auto down = only<SessionDown>(s.take_events());
        REQUIRE(down.size() == 1);
        CHECK(down[0].stale_families.empty());
        CHECK_FALSE(s.next_deadline().has_value());
    }
    SECTION("peer with restart time 0 (BIRD's 'aware' mode advertises no families)") {
        Session s(helper_config());
        establish(s, t0, GracefulRestart{false, false, 0, {}});
        (void)s.take_events();
        s.on_tcp_closed(t0);
        auto down = only<SessionDown>(s.take_events());
        REQUIRE(down.size() == 1);
        CHECK(down[0].stale_families.empty());
    }
    SECTION("we do not advertise it") {
        auto c = helper_config();
        c.graceful_restart.reset();
        Session s(c);
        establish(s, t0, peer_gr(120, false, true, true));
        (void)s.take_events();
        s.on_tcp_closed(t0);
        auto down = only<SessionDown>(s.take_events());
        REQUIRE(down.size() == 1);
        CHECK(down[0].stale_families.empty());
    }
    SECTION("the restarted session fails with a NOTIFICATION: stale routes go at once") {
        Session s(helper_config());
        establish(s, t0, peer_gr(120, false, true, true));
        s.on_tcp_closed(t0);
        s.start(t0);
        s.on_tcp_connected(t0 + 1s);
        (void)s.take_events();
        s.on_bytes(encode_notification(Notification::make(ErrorCode::OpenMessage, 2)), t0 + 1s);
        auto events = s.take_events();
        auto flushed = only<StaleRoutesExpired>(events);
        REQUIRE(flushed.size() == 1);
        CHECK(flushed[0].families == kBoth);
        CHECK(flushed[0].reason == StaleReason::SessionFailed);
        CHECK(only<SessionDown>(events).size() == 1);
        CHECK(s.stale_families().empty());
    }
}

TEST_CASE("rib: stale routes stay in the FIB - re-announced ones survive the flush",
          "[bgp][rib][gr]") {
    Rib rib({65000, 0x0a000001, 1, false, 100});
    PeerConfig pc;
    pc.peer_as = 64512;
    pc.address = *parse_address("10.99.0.1");
    pc.local_address = *parse_address("10.99.0.2");
    pc.import_policy = ImportPolicy{};
    pc.export_policy = ExportPolicy{};
    const PeerId peer = rib.add_peer(pc);
    SessionEstablished e;
    e.peer_identifier = 0x0a000002;
    e.peer_as = 64512;
    rib.peer_up(peer, e);
    (void)rib.apply_update(peer, v4_route("10.0.0.0/16"));
    (void)rib.apply_update(peer, v4_route("10.1.0.0/16"));
    CHECK(rib.take_fib_changes().size() == 2);

    rib.peer_down_graceful(peer, {kIpv4Unicast});
    CHECK_FALSE(rib.is_up(peer));
    CHECK(rib.stale_count(peer) == 2);
    CHECK(rib.take_fib_changes().empty());  // still forwarded
    CHECK(rib.best(*parse_prefix("10.1.0.0/16")).has_value());

    rib.peer_up(peer, e);
    (void)rib.apply_update(peer, v4_route("10.0.0.0/16"));  // re-announced, same attributes
    CHECK(rib.stale_count(peer) == 1);
    CHECK(rib.take_fib_changes().empty());  // no flap for the re-announced route

    CHECK(rib.flush_stale(peer, {kIpv6Unicast}) == 0);
    CHECK(rib.flush_stale(peer, {kIpv4Unicast}) == 1);
    auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].prefix == *parse_prefix("10.1.0.0/16"));
    CHECK(changes[0].next_hops.empty());
    CHECK(rib.adj_rib_in(peer).size() == 1);
}

TEST_CASE("rib: a family not retained is withdrawn at once", "[bgp][rib][gr]") {
    Rib rib({65000, 0x0a000001, 1, false, 100});
    PeerConfig pc;
    pc.peer_as = 64512;
    pc.address = *parse_address("10.99.0.1");
    pc.local_address = *parse_address("10.99.0.2");
    pc.import_policy = ImportPolicy{};
    pc.export_policy = ExportPolicy{};
    const PeerId peer = rib.add_peer(pc);
    SessionEstablished e;
    e.peer_identifier = 0x0a000002;
    e.peer_as = 64512;
    rib.peer_up(peer, e);
    (void)rib.apply_update(peer, v4_route("10.0.0.0/16"));
    (void)rib.take_fib_changes();
    rib.peer_down_graceful(peer, {kIpv6Unicast});
    auto changes = rib.take_fib_changes();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].next_hops.empty());
    CHECK(rib.stale_count(peer) == 0);
}
