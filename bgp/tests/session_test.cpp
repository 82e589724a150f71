// Session FSM (RFC 4271 section 8) driven with an injected fake clock: no test waits.
#include <catch2/catch.hpp>

#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/session.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using namespace std::chrono_literals;
using cgwd::bgp::test::hex;

namespace {

const TimePoint t0 = TimePoint{} + 1000s;

SessionConfig config_a() {
    SessionConfig c;
    c.local_as = 65000;
    c.peer_as = 64512;
    c.bgp_identifier = 0x0a000001;
    c.hold_time = 90;
    c.families = {kIpv4Unicast, kIpv6Unicast};
    return c;
}

// The scripted peer's OPEN (AS 64512, id 10.0.0.2).
Bytes peer_open(std::uint16_t hold, std::uint32_t as = 64512) {
    Open o;
    o.local_as = as;
    o.hold_time = hold;
    o.bgp_identifier = 0x0a000002;
    o.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    o.capabilities.four_octet_as = as;
    return encode_open(o);
}

// Frames everything the session sent.
std::vector<RawMessage> sent(Session& s) {
    const Bytes out = s.take_output();
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
std::vector<T> events_of(Session& s) {
    std::vector<T> out;
    for (auto& e : s.take_events()) {
        if (auto* p = std::get_if<T>(&e)) out.push_back(std::move(*p));
    }
    return out;
}

// Drives session `s` to Established against the scripted peer at time `now`.
void establish(Session& s, TimePoint now, std::uint16_t peer_hold) {
    s.start(now);
    s.on_tcp_connected(now);
    auto out = sent(s);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].type == MessageType::Open);
    s.on_bytes(test::cat(peer_open(peer_hold), encode_keepalive()), now);
    REQUIRE(s.state() == SessionState::Established);
    (void)s.take_output();
    (void)s.take_events();
}

}  // namespace

TEST_CASE("session: OPEN exchange reaches Established with the negotiated hold time",
          "[bgp][session]") {
    Session s(config_a());
    s.start(t0);
    CHECK(s.state() == SessionState::Connect);
    CHECK(events_of<ConnectRequested>(s).size() == 1);
    s.on_tcp_connected(t0);
    CHECK(s.state() == SessionState::OpenSent);
    auto out = sent(s);
    REQUIRE(out.size() == 1);
    auto our_open = decode_open(out[0].body);
    REQUIRE(our_open.has_value());
    CHECK(our_open->effective_as() == 65000);
    CHECK(our_open->hold_time == 90);
    CHECK(our_open->capabilities.supports(kIpv6Unicast));

    s.on_bytes(peer_open(30), t0 + 1s);
    CHECK(s.state() == SessionState::OpenConfirm);
    out = sent(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].type == MessageType::Keepalive);
    s.on_bytes(encode_keepalive(), t0 + 2s);
    CHECK(s.state() == SessionState::Established);
    CHECK(s.negotiated_hold_time() == 30);  // min(90, 30)
    auto est = events_of<SessionEstablished>(s);
    REQUIRE(est.size() == 1);
    CHECK(est[0].peer_as == 64512);
    CHECK(est[0].hold_time == 30);
    CHECK(s.update_context().four_octet_as);
    CHECK(s.update_context().external);
}

TEST_CASE("session: hold timer expires exactly at t and not at t-1", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 30);
    const TimePoint expiry = t0 + 30s;     // last message received at t0
    CHECK(s.next_deadline() == t0 + 10s);  // keepalive first

    s.on_timer(expiry - 1ms);
    CHECK(s.state() == SessionState::Established);
    for (const auto& m : sent(s)) CHECK(m.type == MessageType::Keepalive);

    s.on_timer(expiry);
    CHECK(s.state() == SessionState::Idle);
    auto out = sent(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].type == MessageType::Notification);
    CHECK(out[0].body == hex("04 00"));  // Hold Timer Expired
    auto down = events_of<SessionDown>(s);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == DownReason::HoldTimerExpired);
    CHECK(!s.next_deadline().has_value());
}

TEST_CASE("session: received KEEPALIVE restarts the hold timer", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 30);
    s.on_bytes(encode_keepalive(), t0 + 20s);
    s.on_timer(t0 + 30s);
    CHECK(s.state() == SessionState::Established);
    s.on_timer(t0 + 50s - 1ms);
    CHECK(s.state() == SessionState::Established);
    s.on_timer(t0 + 50s);
    CHECK(s.state() == SessionState::Idle);
}

TEST_CASE("session: keepalive cadence is hold time / 3", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 30);
    std::vector<TimePoint> keepalive_times;
    TimePoint now = t0;
    while (now < t0 + 29s) {
        auto d = s.next_deadline();
        REQUIRE(d.has_value());
        now = *d;
        if (now >= t0 + 29s) break;
        s.on_timer(now);
        for (const auto& m : sent(s)) {
            if (m.type == MessageType::Keepalive) keepalive_times.push_back(now);
        }
    }
    CHECK(keepalive_times == std::vector<TimePoint>{t0 + 10s, t0 + 20s});

    // An UPDATE we send restarts the keepalive timer.
    Update eor;
    REQUIRE(s.send_update(eor, t0 + 25s));
    CHECK(s.next_deadline() == t0 + 30s);  // hold expiry now comes before keepalive (t0+35s)
}

TEST_CASE("session: hold time 0 disables keepalives and hold timer", "[bgp][session]") {
    auto cfg = config_a();
    cfg.hold_time = 0;
    Session s(cfg);
    establish(s, t0, 90);
    CHECK(s.negotiated_hold_time() == 0);
    CHECK(!s.next_deadline().has_value());
}

TEST_CASE("session: connect retry timer", "[bgp][session]") {
    Session s(config_a());
    s.start(t0);
    CHECK(events_of<ConnectRequested>(s).size() == 1);
    CHECK(s.next_deadline() == t0 + 120s);
    s.on_timer(t0 + 119s);
    CHECK(events_of<ConnectRequested>(s).empty());
    s.on_timer(t0 + 120s);
    CHECK(s.state() == SessionState::Connect);
    CHECK(events_of<ConnectRequested>(s).size() == 1);
    CHECK(s.next_deadline() == t0 + 240s);

    // A failed connection moves to Active; the next expiry starts a new attempt.
    s.on_tcp_closed(t0 + 130s);
    CHECK(s.state() == SessionState::Active);
    CHECK(s.next_deadline() == t0 + 250s);
    s.on_timer(t0 + 250s);
    CHECK(s.state() == SessionState::Connect);
    CHECK(events_of<ConnectRequested>(s).size() == 1);
}

TEST_CASE("session: OPEN errors send the matching NOTIFICATION", "[bgp][session]") {
    struct Case {
        Bytes open;
        Bytes expected_body;
    };
    Bytes bad_version = peer_open(90);
    bad_version[19] = 3;
    const std::vector<Case> cases = {
        {peer_open(2), hex("02 06")},  // Unacceptable Hold Time
        {peer_open(1), hex("02 06")},
        {peer_open(90, 64513), hex("02 02")},  // Bad Peer AS
        {bad_version, hex("02 01 0004")},      // Unsupported Version Number
    };
    for (const auto& c : cases) {
        Session s(config_a());
        s.start(t0);
        s.on_tcp_connected(t0);
        (void)s.take_output();
        s.on_bytes(c.open, t0);
        CHECK(s.state() == SessionState::Idle);
        auto out = sent(s);
        REQUIRE(out.size() == 1);
        CHECK(out[0].type == MessageType::Notification);
        CHECK(out[0].body == c.expected_body);
        auto down = events_of<SessionDown>(s);
        REQUIRE(down.size() == 1);
        CHECK(down[0].reason == DownReason::ProtocolError);
    }
}

TEST_CASE("session: header and UPDATE errors reset an Established session", "[bgp][session]") {
    SECTION("bad message type: 1/3") {
        Session s(config_a());
        establish(s, t0, 90);
        s.on_bytes(test::cat(hex(test::kMarker), hex("0013 09")), t0 + 1s);
        CHECK(s.state() == SessionState::Idle);
        auto out = sent(s);
        REQUIRE(out.size() == 1);
        CHECK(out[0].body == hex("01 03 09"));
    }
    SECTION("duplicate MP_UNREACH_NLRI: 3/1") {
        Session s(config_a());
        establish(s, t0, 90);
        const Bytes body = hex("0000 000c 800f03000201 800f03000201");
        s.on_bytes(encode_message(MessageType::Update, body), t0 + 1s);
        CHECK(s.state() == SessionState::Idle);
        auto out = sent(s);
        REQUIRE(out.size() == 1);
        CHECK(out[0].body == hex("03 01"));
    }
    SECTION("OPEN in Established: FSM error 5/3 (RFC 6608)") {
        Session s(config_a());
        establish(s, t0, 90);
        s.on_bytes(peer_open(90), t0 + 1s);
        auto out = sent(s);
        REQUIRE(out.size() == 1);
        CHECK(out[0].body == hex("05 03"));
    }
}

TEST_CASE("session: NOTIFICATION received takes the session down", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 90);
    s.on_bytes(encode_notification(make_shutdown_notification(2, "maintenance")), t0 + 1s);
    CHECK(s.state() == SessionState::Idle);
    CHECK(s.take_output().empty());
    auto down = events_of<SessionDown>(s);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == DownReason::NotificationReceived);
    REQUIRE(down[0].notification.has_value());
    CHECK(shutdown_communication(*down[0].notification) ==
          std::optional<std::string>("maintenance"));
}

TEST_CASE("session: stop sends Cease with the shutdown communication", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 90);
    s.stop(t0 + 1s, "bye");
    CHECK(s.state() == SessionState::Idle);
    auto out = sent(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].body == hex("06 02 03 627965"));
}

TEST_CASE("session: two sessions connected back-to-back reach Established and exchange routes",
          "[bgp][session]") {
    auto cfg_b = config_a();
    std::swap(cfg_b.local_as, cfg_b.peer_as);
    cfg_b.bgp_identifier = 0x0a000002;
    cfg_b.hold_time = 30;
    cfg_b.passive = true;
    Session a(config_a());
    Session b(cfg_b);

    TimePoint now = t0;
    a.start(now);
    b.start(now);
    CHECK(a.state() == SessionState::Connect);
    CHECK(b.state() == SessionState::Active);
    CHECK(!b.next_deadline().has_value());  // passive: only waits
    // The owner of `a` connects; both ends see the TCP connection.
    a.on_tcp_connected(now);
    b.on_tcp_connected(now);

    // Shuttle bytes between the two until both are quiet.
    auto pump = [&](TimePoint at) {
        for (int i = 0; i < 10; ++i) {
            Bytes ab = a.take_output();
            Bytes ba = b.take_output();
            if (ab.empty() && ba.empty()) return;
            if (!ab.empty()) b.on_bytes(ab, at);
            if (!ba.empty()) a.on_bytes(ba, at);
        }
    };
    pump(now);
    CHECK(a.state() == SessionState::Established);
    CHECK(b.state() == SessionState::Established);
    CHECK(a.negotiated_hold_time() == 30);
    CHECK(b.negotiated_hold_time() == 30);
    CHECK(events_of<SessionEstablished>(a).size() == 1);
    CHECK(events_of<SessionEstablished>(b).size() == 1);

    // Keep both alive for five minutes of fake time: keepalives flow, nobody expires.
    while (now < t0 + 300s) {
        auto da = a.next_deadline();
        auto db = b.next_deadline();
        REQUIRE(da.has_value());
        REQUIRE(db.has_value());
        now = std::min(*da, *db);
        a.on_timer(now);
        b.on_timer(now);
        pump(now);
    }
    CHECK(a.state() == SessionState::Established);
    CHECK(b.state() == SessionState::Established);

    // A sends a route; B receives it.
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, {65000}}};
    u.attributes.next_hop = 0xa9fe0001;  // 169.254.0.1
    u.nlri = {Prefix::v4(0xc0a80000, 16)};
    REQUIRE(a.send_update(u, now));
    pump(now);
    auto routes = events_of<RoutesReceived>(b);
    REQUIRE(routes.size() == 1);
    CHECK(routes[0].update.routes_announced() == u.nlri);
    CHECK(routes[0].update.attributes.as_path == u.attributes.as_path);

    // Both advertised Route Refresh, so B may ask A for IPv6 unicast again.
    REQUIRE(b.send_route_refresh(RouteRefresh{2, 0, 1}, now));
    pump(now);
    CHECK(events_of<RouteRefreshReceived>(a).size() == 1);

    // B goes away administratively; A sees the NOTIFICATION.
    b.stop(now, "done");
    pump(now);
    CHECK(a.state() == SessionState::Idle);
    auto down = events_of<SessionDown>(a);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == DownReason::NotificationReceived);
}

TEST_CASE("session: ROUTE-REFRESH only to a peer that advertised it, and received ones surface",
          "[bgp][session][rfc2918]") {
    Session s(config_a());
    establish(s, t0, 90);  // the scripted peer did not advertise Route Refresh
    CHECK_FALSE(s.send_route_refresh(RouteRefresh{1, 0, 1}, t0));
    CHECK(s.take_output().empty());

    s.on_bytes(encode_route_refresh(RouteRefresh{2, 0, 1}), t0 + 1s);
    auto rr = events_of<RouteRefreshReceived>(s);
    REQUIRE(rr.size() == 1);
    CHECK(rr[0].request == RouteRefresh{2, 0, 1});
    // A family we did not advertise is ignored (RFC 2918 section 4).
    s.on_bytes(encode_route_refresh(RouteRefresh{1, 0, 128}), t0 + 2s);
    CHECK(events_of<RouteRefreshReceived>(s).empty());
    CHECK(s.state() == SessionState::Established);
}

TEST_CASE("session: terminate sends the given NOTIFICATION and goes down", "[bgp][session]") {
    Session s(config_a());
    establish(s, t0, 90);
    s.terminate(make_max_prefix_notification(kIpv4Unicast, 100), t0);
    // RFC 4486 section 4: Cease (6) / Maximum Number of Prefixes Reached (1), AFI 1, SAFI 1,
    // upper bound 100.
    CHECK(s.take_output() ==
          hex("ffffffffffffffffffffffffffffffff 001c 03 06 01 0001 01 00000064"));
    CHECK(s.state() == SessionState::Idle);
    const auto events = s.take_events();
    REQUIRE(events.size() == 2);
    const auto* down = std::get_if<SessionDown>(&events[0]);
    REQUIRE(down);
    CHECK(down->reason == DownReason::LocalReset);
    CHECK(std::holds_alternative<CloseRequested>(events[1]));
}

TEST_CASE("session: terminate with a restart timer stays Idle that long, then starts again",
          "[bgp][session]") {
    Session s(config_a());  // no damping configured: only the restart timer holds it down
    establish(s, t0, 90);
    s.terminate(make_max_prefix_notification(kIpv4Unicast, 100), t0, 60s);
    CHECK(s.state() == SessionState::Idle);
    const auto downs = events_of<SessionDown>(s);
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].idle_hold == std::optional<Millis>{60s});
    CHECK(s.idle_hold_until() == t0 + 60s);
    CHECK(s.next_deadline() == t0 + 60s);
    // The peer reconnecting during the hold is refused.
    CHECK(s.on_tcp_connected(t0 + 30s, ConnectionDirection::Incoming) == ConnectionSlot::Refused);
    s.on_timer(t0 + 60s - 1ms);
    CHECK(s.state() == SessionState::Idle);
    s.on_timer(t0 + 60s);
    CHECK(s.state() != SessionState::Idle);
    // A later failure without a restart timer is not held down (no damping here).
    (void)s.on_tcp_connected(t0 + 61s, ConnectionDirection::Outgoing);
    s.on_bytes(peer_open(90), t0 + 61s);
    s.terminate(make_max_prefix_notification(kIpv4Unicast, 100), t0 + 62s);
    CHECK(s.idle_hold_until() == std::nullopt);
}

TEST_CASE("session: a restart timer longer than the damping's idle hold wins", "[bgp][session]") {
    SessionConfig c = config_a();
    c.damp_peer_oscillations = SessionConfig::IdleHold{1s, 120s, 60s};
    Session s(c);
    establish(s, t0, 90);
    s.terminate(make_max_prefix_notification(kIpv4Unicast, 100), t0 + 1s, 4s);
    const auto downs = events_of<SessionDown>(s);
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].idle_hold == std::optional<Millis>{4s});
    CHECK(s.idle_hold_until() == t0 + 5s);
    CHECK(s.on_tcp_connected(t0 + 2s, ConnectionDirection::Incoming) == ConnectionSlot::Refused);
    s.on_timer(t0 + 2s);
    CHECK(s.state() == SessionState::Idle);
}
