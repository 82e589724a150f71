// BFD Control packet codec (RFC 5880 section 4.1) and the section 6.8.6 reception checks.
// The expected octets are worked out field by field from the section 4.1 diagram.
#include <catch2/catch.hpp>

#include "cgwd/bgp/bfd.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

namespace {

// Version 1, Diag 0, State Down, no flags, Detect Mult 3, Length 24, My Discriminator 1,
// Your Discriminator 0, Desired Min TX 1 s, Required Min RX 300 ms, Echo 0.
const char* kDownPacket = "20 40 03 18  00000001  00000000  000f4240  000493e0  00000000";

BfdControl up_packet() {
    BfdControl c;
    c.diag = BfdDiag::ControlDetectionTimeExpired;
    c.state = BfdState::Up;
    c.poll = true;
    c.detect_mult = 3;
    c.my_discriminator = 0x01020304;
    c.your_discriminator = 0xa0b0c0d0;
    c.desired_min_tx_us = 300'000;
    c.required_min_rx_us = 300'000;
    return c;
}

}  // namespace

TEST_CASE("bfd codec: encodes the section 4.1 layout octet by octet") {
    // Octet 0: Vers 1 (001) Diag 1 (00001) = 0x21. Octet 1: Sta Up (11) P (1) F C A D M 0 = 0xe0.
    CHECK(encode_bfd_control(up_packet()) ==
          hex("21 e0 03 18  01020304  a0b0c0d0  000493e0  000493e0  00000000"));
    BfdControl f;
    f.state = BfdState::Init;  // 10
    f.final = true;
    f.control_plane_independent = true;
    f.demand = true;
    f.diag = BfdDiag::ReverseConcatenatedPathDown;
    f.detect_mult = 255;
    f.my_discriminator = 7;
    f.your_discriminator = 9;
    f.required_min_echo_rx_us = 50'000;
    // Sta 10, P 0, F 1, C 1, A 0, D 1, M 0 = 1001 1010 = 0x9a; Diag 8 -> 0x28.
    CHECK(encode_bfd_control(f) ==
          hex("28 9a ff 18  00000007  00000009  00000000  00000000  0000c350"));
}

TEST_CASE("bfd codec: decode is the inverse of encode") {
    const auto c = up_packet();
    auto d = decode_bfd_control(encode_bfd_control(c));
    REQUIRE(d);
    CHECK(*d == c);
    auto down = decode_bfd_control(hex(kDownPacket));
    REQUIRE(down);
    CHECK(down->state == BfdState::Down);
    CHECK(down->your_discriminator == 0);  // allowed in Down
    CHECK(down->desired_min_tx_us == 1'000'000);
    CHECK(down->required_min_rx_us == 300'000);
}

namespace {
BfdDecodeError reject(Bytes b) {
    auto r = decode_bfd_control(b);
    REQUIRE_FALSE(r);
    return r.error();
}
}  // namespace

TEST_CASE("bfd codec: every section 6.8.6 reject") {
    const Bytes good = hex(kDownPacket);
    REQUIRE(decode_bfd_control(good));
    auto with = [&](std::size_t at, std::uint8_t v) {
        Bytes b = good;
        b[at] = v;
        return b;
    };
    CHECK(reject(Bytes(good.begin(), good.begin() + 23)) == BfdDecodeError::Truncated);
    CHECK(reject({}) == BfdDecodeError::Truncated);
    CHECK(reject(with(0, 0x40)) == BfdDecodeError::BadVersion);  // version 2
    CHECK(reject(with(0, 0x00)) == BfdDecodeError::BadVersion);  // version 0
    CHECK(reject(with(3, 23)) == BfdDecodeError::LengthTooShort);
    CHECK(reject(with(3, 0)) == BfdDecodeError::LengthTooShort);
    CHECK(reject(with(3, 25)) == BfdDecodeError::LengthExceedsPayload);
    CHECK(reject(with(2, 0)) == BfdDecodeError::ZeroDetectMult);
    CHECK(reject(with(1, 0x41)) == BfdDecodeError::Multipoint);
    Bytes no_my = good;
    std::fill(no_my.begin() + 4, no_my.begin() + 8, 0);
    CHECK(reject(no_my) == BfdDecodeError::ZeroMyDiscriminator);
    CHECK(reject(with(1, 0x80)) == BfdDecodeError::ZeroYourDiscriminator);  // Init, your 0
    CHECK(reject(with(1, 0xc0)) == BfdDecodeError::ZeroYourDiscriminator);  // Up, your 0
    CHECK(decode_bfd_control(with(1, 0x00)));  // AdminDown with your 0 is fine
    CHECK(reject(with(1, 0x44)) == BfdDecodeError::AuthenticationUnsupported);
    // A set with a plausible Simple Password section (type 1, len 7, key id 1, "abcd").
    Bytes auth = with(1, 0x44);
    auth[3] = 31;
    for (auto o : hex("01 07 01 61 62 63 64")) auth.push_back(o);
    CHECK(reject(auth) == BfdDecodeError::AuthenticationUnsupported);
    // Exact consumption: trailing octets after Length 24, or Length 28 without A.
    Bytes trailing = good;
    trailing.push_back(0);
    CHECK(reject(trailing) == BfdDecodeError::TrailingBytes);
    Bytes longer = with(3, 28);
    longer.insert(longer.end(), 4, 0);
    CHECK(reject(longer) == BfdDecodeError::TrailingBytes);
}

TEST_CASE("bfd codec: reject rules apply in the RFC's order") {
    // Version 2 and Detect Mult 0 and M set: the version rule comes first.
    CHECK(reject(hex("40 41 00 18  00000000  00000000  00000000  00000000  00000000")) ==
          BfdDecodeError::BadVersion);
    // Detect Mult 0 and My Discriminator 0: Detect Mult first.
    CHECK(reject(hex("20 40 00 18  00000000  00000000  00000000  00000000  00000000")) ==
          BfdDecodeError::ZeroDetectMult);
}
