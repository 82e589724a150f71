// Stream framer: every message (and every stream) must give the same result whether it arrives
// whole, split in two at every byte offset, or one octet at a time. Header error subcodes per
// RFC 4271 section 6.1; octets hand-assembled from RFC 4271 section 4.
#include <catch2/catch.hpp>

#include <variant>

#include "cgwd/bgp/framer.hpp"
#include "cgwd/bgp/open.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

namespace {

using Outcome = std::variant<RawMessage, Notification>;

// Feeds the chunks in order, draining complete messages after each; stops at the first error.
std::vector<Outcome> run(const std::vector<ByteView>& chunks) {
    Framer f;
    std::vector<Outcome> out;
    for (ByteView c : chunks) {
        f.feed(c);
        for (;;) {
            auto r = f.next();
            if (!r) {
                out.emplace_back(r.error());
                return out;
            }
            if (!*r) break;
            out.emplace_back(std::move(**r));
        }
    }
    return out;
}

std::vector<Outcome> run_whole(const Bytes& s) {
    return run({ByteView(s)});
}

// Asserts that every two-chunk split and the byte-by-byte feed match the whole-buffer result.
void check_all_splits(const Bytes& stream) {
    const auto whole = run_whole(stream);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        INFO("split at " << cut);
        const ByteView s(stream);
        CHECK(run({s.first(cut), s.subspan(cut)}) == whole);
    }
    std::vector<ByteView> bytes;
    for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(ByteView(stream).subspan(i, 1));
    CHECK(run(bytes) == whole);
}

Bytes msg(const char* length_and_type_and_body) {
    return test::cat(hex(test::kMarker), hex(length_and_type_and_body));
}

Notification header_error_n(std::uint8_t sub, Bytes data) {
    return Notification::make(ErrorCode::MessageHeader, sub, std::move(data));
}

}  // namespace

TEST_CASE("framer yields each message type identically for every split", "[bgp][framer]") {
    Open o;
    o.local_as = 65001;
    o.bgp_identifier = 0xc0000201;
    o.capabilities.multiprotocol = {kIpv4Unicast};
    o.capabilities.four_octet_as = 65001;
    const std::vector<Bytes> messages = {
        encode_open(o),
        msg("0050 02 0000 0035 40010100 40020a02020000fde90000fdea 400304c6336401"
            "80040400000064 c00804fde90064 c0200c0000fde90000000100000002 18c00002"),
        encode_keepalive(),
        encode_notification(make_shutdown_notification(cease::kAdministrativeShutdown, "bye")),
        encode_route_refresh(RouteRefresh{2, 0, 1}),
    };
    Bytes stream;
    for (const auto& m : messages) {
        const auto got = run_whole(m);
        REQUIRE(got.size() == 1);
        const auto& raw = std::get<RawMessage>(got[0]);
        CHECK(raw.body == Bytes(m.begin() + 19, m.end()));
        CHECK(static_cast<std::uint8_t>(raw.type) == m[18]);
        check_all_splits(m);
        stream = test::cat(stream, m);
    }
    const auto all = run_whole(stream);
    REQUIRE(all.size() == messages.size());
    check_all_splits(stream);
}

TEST_CASE("framer header errors carry the RFC 4271 section 6.1 subcodes", "[bgp][framer]") {
    struct Case {
        const char* name;
        Bytes bytes;
        Notification expected;
    };
    Bytes bad_marker = encode_keepalive();
    bad_marker[7] = 0xfe;
    const std::vector<Case> cases = {
        {"marker not all ones", bad_marker, header_error_n(1, {})},
        {"length 18", msg("0012 04"), header_error_n(2, hex("0012"))},
        {"length 4097", msg("1001 02"), header_error_n(2, hex("1001"))},
        {"type 0", msg("0013 00"), header_error_n(3, hex("00"))},
        {"type 6", msg("0013 06"), header_error_n(3, hex("06"))},
        {"KEEPALIVE of 20 octets", msg("0014 04 00"), header_error_n(2, hex("0014"))},
        {"OPEN shorter than 29", msg("001c 01 04fde9005ac000020100"),
         header_error_n(2, hex("001c"))},
        {"UPDATE shorter than 23", msg("0016 02 000000"), header_error_n(2, hex("0016"))},
        {"NOTIFICATION shorter than 21", msg("0014 03 06"), header_error_n(2, hex("0014"))},
        {"ROUTE-REFRESH not 23", msg("0018 05 0001000100"), header_error_n(2, hex("0018"))},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        // A valid KEEPALIVE first, then the bad message: one message, then the error.
        const Bytes stream = test::cat(encode_keepalive(), c.bytes);
        const auto got = run_whole(stream);
        REQUIRE(got.size() == 2);
        CHECK(std::holds_alternative<RawMessage>(got[0]));
        REQUIRE(std::holds_alternative<Notification>(got[1]));
        CHECK(std::get<Notification>(got[1]) == c.expected);
        check_all_splits(stream);
    }
}

TEST_CASE("framer rejects a bad marker before the header is complete", "[bgp][framer]") {
    Framer f;
    const Bytes partial = hex("ffff00");
    f.feed(partial);
    auto r = f.next();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == header_error_n(1, {}));
}

TEST_CASE("framer errors are sticky", "[bgp][framer]") {
    Framer f;
    const Bytes bad = msg("0013 09");
    f.feed(bad);
    REQUIRE_FALSE(f.next().has_value());
    const Bytes ka = encode_keepalive();
    f.feed(ka);
    auto again = f.next();
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().subcode == header_error::kBadMessageType);
}

TEST_CASE("framer waits for the whole message and keeps the remainder", "[bgp][framer]") {
    Framer f;
    const Bytes two = test::cat(encode_keepalive(), encode_keepalive());
    f.feed(ByteView(two).first(25));
    auto first = f.next();
    REQUIRE(first.has_value());
    REQUIRE(first->has_value());
    CHECK((*first)->type == MessageType::Keepalive);
    auto none = f.next();
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
    CHECK(f.buffered() == 6);
    f.feed(ByteView(two).subspan(25));
    auto second = f.next();
    REQUIRE(second.has_value());
    CHECK(second->has_value());
    CHECK(f.buffered() == 0);
}
