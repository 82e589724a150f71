// OPEN codec and validation. Expected octets hand-assembled from RFC 4271 section 4.2,
// RFC 5492 section 4, RFC 4760 section 8, RFC 2918 section 2, RFC 6793 section 3,
// RFC 4724 section 3 and RFC 9072 section 2.
#include <catch2/catch.hpp>

#include "cgwd/bgp/open.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

namespace {
ByteView body_of(const Bytes& msg) {
    return ByteView(msg).subspan(kHeaderSize);
}
}  // namespace

TEST_CASE("OPEN encodes version, AS, hold time, identifier and capabilities", "[bgp][open]") {
    Open o;
    o.local_as = 65001;
    o.hold_time = 90;
    o.bgp_identifier = 0xc0000201;  // 192.0.2.1
    o.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    o.capabilities.route_refresh = true;
    o.capabilities.four_octet_as = 65001;
    const Bytes expected =
        hex("ffffffffffffffffffffffffffffffff 0033 01"
            "04 fde9 005a c0000201 16"
            "02 14"             // Capabilities parameter, 20 octets
            "01 04 0001 00 01"  // MP IPv4 unicast
            "01 04 0002 00 01"  // MP IPv6 unicast
            "02 00"             // Route Refresh
            "41 04 0000fde9");  // 4-octet AS 65001
    CHECK(encode_open(o) == expected);

    auto back = decode_open(body_of(expected));
    REQUIRE(back.has_value());
    CHECK(back->version == 4);
    CHECK(back->effective_as() == 65001);
    CHECK(back->hold_time == 90);
    CHECK(back->bgp_identifier == 0xc0000201);
    CHECK(back->capabilities == o.capabilities);
}

TEST_CASE("OPEN with 4-octet AS uses AS_TRANS in My Autonomous System", "[bgp][open][rfc6793]") {
    Open o;
    o.local_as = 4200000001u;
    o.hold_time = 180;
    o.bgp_identifier = 0x0a000001;
    o.capabilities.four_octet_as = o.local_as;
    const Bytes msg = encode_open(o);
    CHECK(Bytes(msg.begin() + 19, msg.begin() + 29) == hex("04 5ba0 00b4 0a000001 08"));
    CHECK(Bytes(msg.begin() + 29, msg.end()) == hex("02 06 41 04 fa56ea01"));
    auto back = decode_open(body_of(msg));
    REQUIRE(back.has_value());
    CHECK(back->my_as_field == kAsTrans);
    CHECK(back->effective_as() == 4200000001u);
}

TEST_CASE("OPEN decode: graceful restart, several parameters, unknown capabilities kept",
          "[bgp][open][rfc4724]") {
    const Bytes body =
        hex("04 5ba0 00b4 0a000001 1b"
            "02 08 40 06 8078 0001 01 80"  // GR: R=1, 120 s, IPv4 unicast with F=1
            "02 0f 41 04 fa56ea01"         // 4-octet AS 4200000001
            "46 00"                        // code 70 (enhanced route refresh): unknown
            "49 05 03 727472 00");         // code 73 (FQDN): unknown
    auto o = decode_open(body);
    REQUIRE(o.has_value());
    REQUIRE(o->capabilities.graceful_restart.has_value());
    const auto& gr = *o->capabilities.graceful_restart;
    CHECK(gr.restart_state);
    CHECK_FALSE(gr.notification);
    CHECK(gr.restart_time == 120);
    REQUIRE(gr.families.size() == 1);
    CHECK(gr.families[0].af == kIpv4Unicast);
    CHECK(gr.families[0].forwarding_preserved);
    CHECK(o->effective_as() == 4200000001u);
    REQUIRE(o->capabilities.unknown.size() == 2);
    CHECK(o->capabilities.unknown[0] == RawCapability{70, {}});
    CHECK(o->capabilities.unknown[1] == RawCapability{73, hex("03 727472 00")});
    // No MP capability was sent: only IPv4 unicast is implied (RFC 4760 section 8).
    CHECK(o->capabilities.supports(kIpv4Unicast));
    CHECK_FALSE(o->capabilities.supports(kIpv6Unicast));

    // Re-encoding keeps the unknown capabilities verbatim.
    Open again = *o;
    auto round = decode_open(body_of(encode_open(again)));
    REQUIRE(round.has_value());
    CHECK(round->capabilities == o->capabilities);
}

TEST_CASE("OPEN decode errors", "[bgp][open]") {
    SECTION("unsupported optional parameter (type 1, authentication) is 2/4") {
        auto o = decode_open(hex("04 fde9 005a c0000201 03 01 01 00"));
        REQUIRE_FALSE(o.has_value());
        CHECK(o.error() == Notification{2, open_error::kUnsupportedOptionalParameter, {}});
    }
    SECTION("Opt Parm Len disagreeing with the message is 2/0") {
        auto o = decode_open(hex("04 fde9 005a c0000201 05 02 02 02 00"));
        REQUIRE_FALSE(o.has_value());
        CHECK(o.error().code == 2);
        CHECK(o.error().subcode == open_error::kUnspecific);
    }
    SECTION("a capability overrunning its parameter is 2/0") {
        auto o = decode_open(hex("04 fde9 005a c0000201 04 02 02 41 04"));
        REQUIRE_FALSE(o.has_value());
        CHECK(o.error().code == 2);
    }
    SECTION("a known capability with the wrong length is 2/0 carrying the capability") {
        auto o = decode_open(hex("04 fde9 005a c0000201 07 02 05 01 03 000100"));
        REQUIRE_FALSE(o.has_value());
        CHECK(o.error() == Notification{2, 0, hex("01 03 000100")});
    }
}

TEST_CASE("OPEN uses RFC 9072 extended parameters when capabilities exceed 255 octets",
          "[bgp][open][rfc9072]") {
    Open o;
    o.local_as = 65001;
    o.bgp_identifier = 1;
    for (std::uint8_t code = 200; code < 203; ++code) {
        o.capabilities.unknown.push_back({code, Bytes(100, code)});
    }
    const Bytes msg = encode_open(o);
    const ByteView body = body_of(msg);
    CHECK(body[9] == 255);   // Non-Ext OP Len
    CHECK(body[10] == 255);  // Non-Ext OP Type
    CHECK(((body[11] << 8) | body[12]) == 3 + 3 * 102);
    auto back = decode_open(body);
    REQUIRE(back.has_value());
    CHECK(back->capabilities.unknown == o.capabilities.unknown);
}

TEST_CASE("OPEN validation (RFC 4271 section 6.2)", "[bgp][open]") {
    Open o;
    o.my_as_field = 65002;
    o.hold_time = 90;
    o.bgp_identifier = 0x0a000002;
    const OpenPolicy policy{65002, 0x0a000001, 90};
    CHECK(validate_open(o, policy).has_value());

    SECTION("version other than 4: 2/1 with the supported version as data") {
        o.version = 3;
        CHECK(validate_open(o, policy).error() == Notification{2, 1, hex("0004")});
    }
    SECTION("peer AS mismatch: 2/2") {
        o.my_as_field = 65003;
        CHECK(validate_open(o, policy).error() == Notification{2, 2, {}});
    }
    SECTION("4-octet capability wins over My AS, and must match") {
        o.my_as_field = kAsTrans;
        o.capabilities.four_octet_as = 65002;
        CHECK(validate_open(o, policy).has_value());
        o.capabilities.four_octet_as = 4200000001u;
        CHECK(validate_open(o, policy).error().subcode == open_error::kBadPeerAs);
    }
    SECTION("AS_TRANS in the 4-octet capability and AS 0 are bad peer AS") {
        o.capabilities.four_octet_as = kAsTrans;
        CHECK(validate_open(o, OpenPolicy{0, 1, 90}).error().subcode == open_error::kBadPeerAs);
        o.capabilities.four_octet_as.reset();
        o.my_as_field = 0;
        CHECK(validate_open(o, OpenPolicy{0, 1, 90}).error().subcode == open_error::kBadPeerAs);
    }
    SECTION("BGP identifier zero or equal to ours: 2/3") {
        o.bgp_identifier = 0;
        CHECK(validate_open(o, policy).error() == Notification{2, 3, {}});
        o.bgp_identifier = policy.local_bgp_identifier;
        CHECK(validate_open(o, policy).error() == Notification{2, 3, {}});
    }
    SECTION("hold time 1 or 2: 2/6; 0 and 3 are acceptable") {
        for (std::uint16_t h : {1, 2}) {
            o.hold_time = h;
            CHECK(validate_open(o, policy).error() == Notification{2, 6, {}});
        }
        for (std::uint16_t h : {0, 3}) {
            o.hold_time = h;
            CHECK(validate_open(o, policy).has_value());
        }
    }
    CHECK(negotiate_hold_time(90, 30) == 30);
    CHECK(negotiate_hold_time(0, 30) == 0);
}
