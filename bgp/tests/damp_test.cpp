// Peer oscillation damping (RFC 4271 section 8.1.1 DampPeerOscillations, IdleHoldTimer of
// 8.1.3 / 8.2.1.3): the idle hold before each automatic restart, driven with the fake clock.
#include <catch2/catch.hpp>

#include "cgwd/bgp/session.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using namespace std::chrono_literals;

namespace {

const TimePoint t0 = TimePoint{} + 1000s;

SessionConfig damped() {
    SessionConfig c;
    c.local_as = 65000;
    c.peer_as = 64512;
    c.bgp_identifier = 0x0a000001;
    c.hold_time = 90;
    c.connect_retry = 5s;
    c.damp_peer_oscillations = SessionConfig::IdleHold{1000ms, 120000ms, 60000ms};
    return c;
}

Bytes peer_open() {
    Open o;
    o.local_as = 64512;
    o.hold_time = 90;
    o.bgp_identifier = 0x0a000002;
    o.capabilities.multiprotocol = {kIpv4Unicast};
    o.capabilities.four_octet_as = 64512;
    return encode_open(o);
}

Bytes peer_notification(std::uint8_t code, std::uint8_t subcode) {
    return encode_notification(Notification::make(static_cast<ErrorCode>(code), subcode));
}

template <typename T>
std::vector<T> events_of(Session& s) {
    std::vector<T> out;
    for (auto& e : s.take_events()) {
        if (auto* p = std::get_if<T>(&e)) out.push_back(std::move(*p));
    }
    return out;
}

// From Connect/Active: the connection comes up and the peer's OPEN + KEEPALIVE arrive.
void establish_from_connect(Session& s, TimePoint now) {
    REQUIRE((s.state() == SessionState::Connect || s.state() == SessionState::Active));
    REQUIRE(s.on_tcp_connected(now, ConnectionDirection::Outgoing) == ConnectionSlot::First);
    s.on_bytes(test::cat(peer_open(), encode_keepalive()), now);
    REQUIRE(s.state() == SessionState::Established);
    (void)s.take_output();
    (void)s.take_events();
}

// The peer ends an Established session with a NOTIFICATION at `now`; returns the SessionDown.
SessionDown peer_resets(Session& s, TimePoint now) {
    s.on_bytes(peer_notification(6, 4), now);  // Cease / Administrative Reset
    REQUIRE(s.state() == SessionState::Idle);
    auto downs = events_of<SessionDown>(s);
    REQUIRE(downs.size() == 1);
    return downs[0];
}

// The idle hold runs until exactly `until`: 1 ms before, no restart; at `until`, Connect.
void expect_restart_at(Session& s, TimePoint until) {
    REQUIRE(s.idle_hold_until() == until);
    REQUIRE(s.next_deadline() == until);
    s.on_timer(until - 1ms);
    CHECK(s.state() == SessionState::Idle);
    CHECK(events_of<ConnectRequested>(s).empty());
    s.on_timer(until);
    CHECK(s.state() == SessionState::Connect);
    CHECK(events_of<ConnectRequested>(s).size() == 1);
    CHECK_FALSE(s.idle_hold_until().has_value());
}

}  // namespace

TEST_CASE("damping: the idle hold doubles with each failure in a row, capped at 120 s",
          "[bgp][session][damp]") {
    Session s(damped());
    s.start(t0);
    REQUIRE(events_of<ConnectRequested>(s).size() == 1);
    TimePoint now = t0;
    const std::vector<std::int64_t> expected_s{1, 2, 4, 8, 16, 32, 64, 120, 120, 120};
    for (std::size_t i = 0; i < expected_s.size(); ++i) {
        INFO("failure " << i + 1);
        establish_from_connect(s, now);
        now += 3s;  // up for 3 s: far from stable
        const SessionDown down = peer_resets(s, now);
        CHECK(down.reason == DownReason::NotificationReceived);
        REQUIRE(down.idle_hold.has_value());
        CHECK(*down.idle_hold == std::chrono::seconds(expected_s[i]));
        CHECK(down.consecutive_failures == i + 1);
        CHECK(s.consecutive_failures() == i + 1);
        CHECK(s.last_idle_hold() == std::chrono::seconds(expected_s[i]));
        now += std::chrono::seconds(expected_s[i]);
        expect_restart_at(s, now);
    }
}

TEST_CASE("damping: failures before Established count too, a TCP loss before the OPEN does not",
          "[bgp][session][damp]") {
    Session s(damped());
    s.start(t0);
    (void)s.take_events();
    // A TCP connection lost in OpenSent: back to Active (RFC 4271 section 8.2.2), no damping.
    REQUIRE(s.on_tcp_connected(t0) == ConnectionSlot::First);
    s.on_tcp_closed(t0 + 10ms);
    CHECK(s.state() == SessionState::Active);
    CHECK(s.consecutive_failures() == 0);
    CHECK_FALSE(s.idle_hold_until().has_value());
    // An OPEN with an unacceptable hold time (1 s): NOTIFICATION 2/6, Idle, a first failure.
    REQUIRE(s.on_tcp_connected(t0 + 20ms, ConnectionDirection::Incoming) == ConnectionSlot::First);
    Open bad;
    bad.local_as = 64512;
    bad.hold_time = 1;
    bad.bgp_identifier = 0x0a000002;
    s.on_bytes(encode_open(bad), t0 + 30ms);
    CHECK(s.state() == SessionState::Idle);
    auto downs = events_of<SessionDown>(s);
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].reason == DownReason::ProtocolError);
    CHECK(downs[0].idle_hold == Millis{1000});
    expect_restart_at(s, t0 + 30ms + 1s);
    // The peer's NOTIFICATION right in OpenSent (before any OPEN): a second failure, 2 s.
    REQUIRE(s.on_tcp_connected(t0 + 2s) == ConnectionSlot::First);
    (void)s.take_output();  // drop our OPEN
    // A bogus error code.
    s.on_bytes(peer_notification(99, 7), t0 + 2s);
    CHECK(s.take_output().empty());  // never a NOTIFICATION in answer to a NOTIFICATION
    downs = events_of<SessionDown>(s);
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].idle_hold == Millis{2000});
    CHECK(downs[0].consecutive_failures == 2);
}

TEST_CASE("damping: Established for the stable time (60 s) starts the count again",
          "[bgp][session][damp]") {
    Session s(damped());
    s.start(t0);
    TimePoint now = t0;
    // Three quick failures: 1, 2, 4 s.
    for (int i = 0; i < 3; ++i) {
        establish_from_connect(s, now);
        const auto down = peer_resets(s, now + 1s);
        now += 1s + *down.idle_hold;
        expect_restart_at(s, now);
    }
    CHECK(s.last_idle_hold() == 4s);
    SECTION("up for 60 s - 1 ms: still a failure in a row, 8 s") {
        establish_from_connect(s, now);
        const auto down = peer_resets(s, now + 60s - 1ms);
        CHECK(down.consecutive_failures == 4);
        CHECK(down.idle_hold == Millis{8000});
    }
    SECTION("up for exactly 60 s: a first failure again, 1 s") {
        establish_from_connect(s, now);
        CHECK(s.consecutive_failures() == 3);
        // The stable deadline is a timer: the count goes back to 0 while the session is up.
        REQUIRE(s.next_deadline().has_value());
        s.on_timer(now + 60s - 1ms);
        CHECK(s.consecutive_failures() == 3);
        s.on_timer(now + 60s);
        CHECK(s.consecutive_failures() == 0);
        CHECK(s.state() == SessionState::Established);
        const auto down = peer_resets(s, now + 60s);
        CHECK(down.consecutive_failures == 1);
        CHECK(down.idle_hold == Millis{1000});
    }
    SECTION("up for 60 s without on_timer at the stable deadline: still a first failure") {
        establish_from_connect(s, now);
        const auto down = peer_resets(s, now + 60s);
        CHECK(down.consecutive_failures == 1);
        CHECK(down.idle_hold == Millis{1000});
    }
}

TEST_CASE("damping: a connection from the peer during the idle hold is refused",
          "[bgp][session][damp]") {
    Session s(damped());
    s.start(t0);
    establish_from_connect(s, t0);
    (void)peer_resets(s, t0 + 1s);
    TimePoint now = t0 + 1s;
    // A second quick failure: the idle hold is 2 s.
    expect_restart_at(s, now + 1s);
    now += 1s;
    establish_from_connect(s, now);
    const auto down = peer_resets(s, now);
    REQUIRE(down.idle_hold == Millis{2000});
    (void)s.take_output();
    // The flapping peer connects to us during the idle hold: refused, nothing sent, still Idle.
    for (auto at : {now, now + 1s, now + 2s - 1ms}) {
        CHECK(s.on_tcp_connected(at, ConnectionDirection::Incoming) == ConnectionSlot::Refused);
        CHECK(s.state() == SessionState::Idle);
        CHECK(s.take_output().empty());
        CHECK(s.take_events().empty());
        CHECK(s.idle_hold_until() == now + 2s);  // the refusal does not extend or end it
    }
    // Once it has run out, the peer's connection is taken (and the session sends its OPEN).
    s.on_timer(now + 2s);
    REQUIRE(s.state() == SessionState::Connect);
    CHECK(s.on_tcp_connected(now + 2s, ConnectionDirection::Incoming) == ConnectionSlot::First);
    CHECK(s.state() == SessionState::OpenSent);
    CHECK_FALSE(s.take_output().empty());
}

TEST_CASE("damping: stop() cancels the automatic restart, start() is not damped",
          "[bgp][session][damp]") {
    Session s(damped());
    s.start(t0);
    establish_from_connect(s, t0);
    auto down = peer_resets(s, t0 + 1s);
    REQUIRE(down.idle_hold == Millis{1000});
    SECTION("stop during the idle hold: no automatic start") {
        s.stop(t0 + 1500ms);
        CHECK_FALSE(s.idle_hold_until().has_value());
        CHECK_FALSE(s.next_deadline().has_value());
        s.on_timer(t0 + 10s);
        CHECK(s.state() == SessionState::Idle);
        CHECK(s.take_events().empty());
        // An administrative stop of an Established session is not a failure either.
        s.start(t0 + 11s);
        establish_from_connect(s, t0 + 11s);
        s.stop(t0 + 12s);
        auto downs = events_of<SessionDown>(s);
        REQUIRE(downs.size() == 1);
        CHECK(downs[0].reason == DownReason::Stopped);
        CHECK_FALSE(downs[0].idle_hold.has_value());
        CHECK(downs[0].consecutive_failures == 1);
        CHECK_FALSE(s.idle_hold_until().has_value());
    }
    SECTION("start during the idle hold (ManualStart): at once") {
        s.start(t0 + 1100ms);
        CHECK(s.state() == SessionState::Connect);
        CHECK(events_of<ConnectRequested>(s).size() == 1);
        CHECK_FALSE(s.idle_hold_until().has_value());
        // The count survives: the next quick failure waits 2 s.
        establish_from_connect(s, t0 + 1200ms);
        down = peer_resets(s, t0 + 1300ms);
        CHECK(down.idle_hold == Millis{2000});
    }
}

TEST_CASE("damping: off by default -- no idle hold, no automatic restart", "[bgp][session][damp]") {
    SessionConfig c = damped();
    c.damp_peer_oscillations.reset();
    Session s(c);
    s.start(t0);
    establish_from_connect(s, t0);
    const auto down = peer_resets(s, t0 + 1s);
    CHECK_FALSE(down.idle_hold.has_value());
    CHECK_FALSE(s.idle_hold_until().has_value());
    CHECK_FALSE(s.next_deadline().has_value());
    s.on_timer(t0 + 600s);
    CHECK(s.state() == SessionState::Idle);
}
