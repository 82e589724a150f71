// RFC 3948 UDP encapsulation: port-4500 demultiplexing, header build and parse.
#include <catch2/catch.hpp>

#include "cgwd/dataplane/udp_encap.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::dataplane::test::Bytes;
using cgwd::dataplane::test::hex;
using cgwd::dataplane::test::to_hex;

TEST_CASE("UDP 4500 demultiplexing: ESP, IKE (Non-ESP Marker), NAT-keepalive") {
    SECTION("NAT-keepalive is the single byte 0xFF (RFC 3948 section 2.3)") {
        const Bytes ka{0xff};
        auto c = udp::classify(ka);
        REQUIRE(c);
        CHECK(c->kind == udp::PayloadKind::keepalive);
        CHECK(c->data.empty());
        CHECK_FALSE(udp::classify(Bytes{0xfe}));
        CHECK_FALSE(udp::classify(Bytes{0xff, 0xff}));
    }
    SECTION("zero SPI marks IKE; the marker is stripped") {
        const Bytes ike =
            hex("00000000"
                "0102030405060708"
                "0000000000000000"
                "2e202308");
        auto c = udp::classify(ike);
        REQUIRE(c);
        CHECK(c->kind == udp::PayloadKind::ike);
        CHECK(to_hex(c->data.data(), c->data.size()) ==
              "01020304050607080000000000000000"
              "2e202308");
    }
    SECTION("nonzero SPI is ESP, passed whole") {
        const Bytes esp =
            hex("c0ffee01"
                "00000001"
                "aabbccdd");
        auto c = udp::classify(esp);
        REQUIRE(c);
        CHECK(c->kind == udp::PayloadKind::esp);
        CHECK(c->data.size() == esp.size());
        CHECK(c->data.data() == esp.data());
    }
    SECTION("too short to be anything") {
        CHECK(udp::classify(Bytes{}).error() == udp::UdpError::unknown);
        CHECK(udp::classify(Bytes{0, 0, 0}).error() == udp::UdpError::unknown);
        CHECK(udp::classify(hex("c0ffee01")).error() == udp::UdpError::unknown);
    }
}

TEST_CASE("UDP-encapsulated ESP: header written in place and parsed back") {
    const Bytes esp =
        hex("00001000"
            "00000007"
            "0102030405060708090a");
    Bytes buf(udp::header_size + esp.size());
    std::copy(esp.begin(), esp.end(), buf.begin() + udp::header_size);
    auto n = udp::wrap_esp(4500, 31337, esp.size(), buf);
    REQUIRE(n);
    CHECK(*n == 26);
    // src 4500 = 0x1194, dst 31337 = 0x7a69, length 26 = 0x001a, checksum 0.
    CHECK(to_hex(buf.data(), 8) == "11947a69001a0000");
    auto d = udp::parse(buf);
    REQUIRE(d);
    CHECK(d->src_port == 4500);
    CHECK(d->dst_port == 31337);
    CHECK(to_hex(d->payload.data(), d->payload.size()) == to_hex(esp));
    auto c = udp::classify(d->payload);
    REQUIRE(c);
    CHECK(c->kind == udp::PayloadKind::esp);

    Bytes small(10);
    CHECK(udp::wrap_esp(4500, 4500, esp.size(), small).error() == udp::UdpError::buffer_too_small);
}

TEST_CASE("UDP parse rejects inconsistent lengths") {
    CHECK(udp::parse(hex("11941194000800")).error() == udp::UdpError::truncated);
    CHECK(udp::parse(hex("1194119400070000")).error() == udp::UdpError::bad_length);
    CHECK(udp::parse(hex("11941194000c0000aabb")).error() == udp::UdpError::truncated);
    CHECK(udp::parse(hex("1194119400090000aabb")).error() == udp::UdpError::bad_length);
    auto empty = udp::parse(hex("1194119400080000"));
    REQUIRE(empty);
    CHECK(empty->payload.empty());
}

TEST_CASE("Non-ESP Marker is prepended to IKE messages") {
    const Bytes ike = hex("1122334455667788");
    Bytes out(12);
    auto n = udp::add_non_esp_marker(ike, out);
    REQUIRE(n);
    CHECK(*n == 12);
    CHECK(to_hex(out) == "000000001122334455667788");
    auto c = udp::classify(out);
    REQUIRE(c);
    CHECK(c->kind == udp::PayloadKind::ike);
    CHECK(to_hex(c->data.data(), c->data.size()) == to_hex(ike));
    Bytes small(11);
    CHECK(udp::add_non_esp_marker(ike, small).error() == udp::UdpError::buffer_too_small);
}
