// Connection collision detection (RFC 4271 section 6.8), fake clock: both sides open at once;
// the connection initiated by the speaker with the higher BGP Identifier survives, the other
// gets NOTIFICATION CEASE / Connection Collision Resolution (6/7, RFC 4486 section 4).
#include <catch2/catch.hpp>

#include "cgwd/bgp/session.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using namespace std::chrono_literals;
using cgwd::bgp::test::hex;

namespace {

const TimePoint t0 = TimePoint{} + 1000s;
constexpr std::uint32_t kPeerId = 0x0a000005;  // 10.0.0.5

SessionConfig config_with_id(std::uint32_t id) {
    SessionConfig c;
    c.local_as = 65000;
    c.peer_as = 64512;
    c.bgp_identifier = id;
    c.hold_time = 90;
    return c;
}

Bytes peer_open() {
    Open o;
    o.local_as = 64512;
    o.hold_time = 90;
    o.bgp_identifier = kPeerId;
    o.capabilities.four_octet_as = 64512u;
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

// NOTIFICATION Cease (6) / Connection Collision Resolution (7): 21 octets, no data.
const Bytes kCease67 = hex(std::string(test::kMarker) + "0015 03 06 07");

// Our outgoing connection is in OpenSent; the peer's incoming one arrives.
void collide(Session& s) {
    s.start(t0);
    CHECK(s.on_tcp_connected(t0, ConnectionDirection::Outgoing) == ConnectionSlot::First);
    (void)s.take_output();
    CHECK(s.on_tcp_connected(t0, ConnectionDirection::Incoming) == ConnectionSlot::Second);
    CHECK(s.has_second_connection());
    auto second = frames(s.take_second_output());
    REQUIRE(second.size() == 1);
    CHECK(second[0].type == MessageType::Open);
    (void)s.take_events();
}

}  // namespace

TEST_CASE("collision: our identifier higher: our outgoing connection stays, the peer's gets 6/7",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000009));  // 10.0.0.9 > 10.0.0.5
    collide(s);
    // The peer's OPEN arrives first on its own (incoming) connection.
    s.on_bytes(peer_open(), t0 + 1s, ConnectionSlot::Second);
    CHECK(s.take_second_output() == kCease67);
    auto events = s.take_events();
    CHECK(only<CloseSecond>(events).size() == 1);
    CHECK(only<SessionDown>(events).empty());
    CHECK_FALSE(s.has_second_connection());
    CHECK(s.state() == SessionState::OpenSent);
    // The first connection carries on to Established.
    s.on_bytes(test::cat(peer_open(), encode_keepalive()), t0 + 2s);
    CHECK(s.state() == SessionState::Established);
    CHECK(only<SessionEstablished>(s.take_events()).size() == 1);
}

TEST_CASE("collision: our identifier lower: the peer's incoming connection replaces ours",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000001));  // 10.0.0.1 < 10.0.0.5
    collide(s);
    // The OPEN on our outgoing connection tells the identifier: that connection must go.
    s.on_bytes(peer_open(), t0 + 1s, ConnectionSlot::First);
    auto events = s.take_events();
    auto promoted = only<PromoteSecond>(events);
    REQUIRE(promoted.size() == 1);
    CHECK(promoted[0].first_last_words == kCease67);
    CHECK(only<SessionDown>(events).empty());
    CHECK_FALSE(s.has_second_connection());
    CHECK(s.state() == SessionState::OpenSent);
    CHECK(s.take_output().empty());  // the OPEN on it was already taken from the second slot
    // From now on the promoted connection is slot First.
    s.on_bytes(peer_open(), t0 + 2s);
    auto ka = frames(s.take_output());
    REQUIRE(ka.size() == 1);
    CHECK(ka[0].type == MessageType::Keepalive);
    s.on_bytes(encode_keepalive(), t0 + 2s);
    CHECK(s.state() == SessionState::Established);
}

TEST_CASE("collision: our identifier lower, OPEN on the peer's connection first: it wins at once",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000001));
    collide(s);
    s.on_bytes(peer_open(), t0 + 1s, ConnectionSlot::Second);
    auto events = s.take_events();
    auto promoted = only<PromoteSecond>(events);
    REQUIRE(promoted.size() == 1);
    CHECK(promoted[0].first_last_words == kCease67);
    CHECK(s.state() == SessionState::OpenConfirm);  // that OPEN was processed
    auto ka = frames(s.take_output());
    REQUIRE(ka.size() == 1);
    CHECK(ka[0].type == MessageType::Keepalive);
}

TEST_CASE("collision: resolved on arrival when the first connection is in OpenConfirm",
          "[bgp][session][collision]") {
    SECTION("ours higher: the new connection is refused with 6/7") {
        Session s(config_with_id(0x0a000009));
        s.start(t0);
        s.on_tcp_connected(t0, ConnectionDirection::Outgoing);
        s.on_bytes(peer_open(), t0);
        REQUIRE(s.state() == SessionState::OpenConfirm);
        (void)s.take_output();
        (void)s.take_events();
        CHECK(s.on_tcp_connected(t0 + 1s, ConnectionDirection::Incoming) == ConnectionSlot::Second);
        CHECK(s.take_second_output() == kCease67);
        CHECK(only<CloseSecond>(s.take_events()).size() == 1);
        CHECK(s.state() == SessionState::OpenConfirm);
    }
    SECTION("ours lower: the OpenConfirm connection is closed with 6/7, the new one sends OPEN") {
        Session s(config_with_id(0x0a000001));
        s.start(t0);
        s.on_tcp_connected(t0, ConnectionDirection::Outgoing);
        s.on_bytes(peer_open(), t0);
        (void)s.take_output();
        (void)s.take_events();
        CHECK(s.on_tcp_connected(t0 + 1s, ConnectionDirection::Incoming) == ConnectionSlot::Second);
        auto promoted = only<PromoteSecond>(s.take_events());
        REQUIRE(promoted.size() == 1);
        CHECK(promoted[0].first_last_words == kCease67);
        CHECK(s.state() == SessionState::OpenSent);
        auto open = frames(s.take_output());
        REQUIRE(open.size() == 1);
        CHECK(open[0].type == MessageType::Open);
    }
}

TEST_CASE("collision: an Established session refuses a new connection with 6/7",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000001));
    s.start(t0);
    s.on_tcp_connected(t0, ConnectionDirection::Outgoing);
    s.on_bytes(test::cat(peer_open(), encode_keepalive()), t0);
    REQUIRE(s.state() == SessionState::Established);
    (void)s.take_events();
    CHECK(s.on_tcp_connected(t0 + 1s, ConnectionDirection::Incoming) == ConnectionSlot::Second);
    CHECK(s.take_second_output() == kCease67);
    CHECK(only<CloseSecond>(s.take_events()).size() == 1);
    CHECK(s.state() == SessionState::Established);
}

TEST_CASE("collision: a third connection while one is pending is refused, the pending one kept",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000009));
    collide(s);
    CHECK(s.on_tcp_connected(t0, ConnectionDirection::Incoming) == ConnectionSlot::Refused);
    CHECK(s.take_events().empty());
    CHECK(s.has_second_connection());
    s.on_bytes(peer_open(), t0 + 1s, ConnectionSlot::Second);
    CHECK(s.take_second_output() == kCease67);
}

TEST_CASE("collision: the first connection closing hands over to the second",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000009));
    collide(s);
    s.on_tcp_closed(t0 + 1s, ConnectionSlot::First);
    auto events = s.take_events();
    auto promoted = only<PromoteSecond>(events);
    REQUIRE(promoted.size() == 1);
    CHECK(promoted[0].first_last_words.empty());
    CHECK(only<SessionDown>(events).empty());
    s.on_bytes(test::cat(peer_open(), encode_keepalive()), t0 + 2s);
    CHECK(s.state() == SessionState::Established);
}

TEST_CASE("collision: the peer closing the second connection leaves the first alone",
          "[bgp][session][collision]") {
    Session s(config_with_id(0x0a000001));
    collide(s);
    s.on_bytes(encode_notification(Notification::make(ErrorCode::Cease, 7)), t0 + 1s,
               ConnectionSlot::Second);
    CHECK(only<CloseSecond>(s.take_events()).size() == 1);
    CHECK_FALSE(s.has_second_connection());
    CHECK(s.state() == SessionState::OpenSent);
    s.on_bytes(test::cat(peer_open(), encode_keepalive()), t0 + 2s);
    CHECK(s.state() == SessionState::Established);
}
