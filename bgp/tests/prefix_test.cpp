// NLRI prefix encoding (RFC 4271 section 4.3, RFC 4760 section 5); vectors hand-assembled.
#include <catch2/catch.hpp>

#include "cgwd/bgp/prefix.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

TEST_CASE("IPv4 prefixes decode and encode", "[bgp][prefix]") {
    const Bytes field = hex("08 0a  18 c00002  00  19 cb007180  20 c6336401");
    auto got = decode_prefixes(field, Afi::Ipv4);
    REQUIRE(got.has_value());
    REQUIRE(got->prefixes.size() == 5);
    CHECK(got->prefixes[0].to_string() == "10.0.0.0/8");
    CHECK(got->prefixes[1].to_string() == "192.0.2.0/24");
    CHECK(got->prefixes[2].to_string() == "0.0.0.0/0");
    CHECK(got->prefixes[3].to_string() == "203.0.113.128/25");
    CHECK(got->prefixes[4].to_string() == "198.51.100.1/32");
    CHECK_FALSE(got->host_bits_set);
    Bytes out;
    Writer w(out);
    for (const auto& p : got->prefixes) encode_prefix(w, p);
    CHECK(out == field);
}

TEST_CASE("IPv6 prefixes decode", "[bgp][prefix]") {
    auto got = decode_prefixes(
        hex("20 20010db8  30 20010db80001  80 20010db8000000000000000000000001"), Afi::Ipv6);
    REQUIRE(got.has_value());
    REQUIRE(got->prefixes.size() == 3);
    CHECK(got->prefixes[0].to_string() == "2001:db8:0:0:0:0:0:0/32");
    CHECK(got->prefixes[1].to_string() == "2001:db8:1:0:0:0:0:0/48");
    CHECK(got->prefixes[2].to_string() == "2001:db8:0:0:0:0:0:1/128");
}

TEST_CASE("prefix length beyond the family maximum is rejected", "[bgp][prefix][rfc7606]") {
    CHECK(decode_prefixes(hex("21 c0000201 00"), Afi::Ipv4).error() == NlriError::LengthTooLarge);
    CHECK(decode_prefixes(hex("20 c0000201"), Afi::Ipv4).has_value());
    Bytes v6 = hex("81");
    v6.resize(1 + 17, 0);
    CHECK(decode_prefixes(v6, Afi::Ipv6).error() == NlriError::LengthTooLarge);
}

TEST_CASE("prefix overrunning the field is rejected", "[bgp][prefix][rfc7606]") {
    CHECK(decode_prefixes(hex("18 c000"), Afi::Ipv4).error() == NlriError::Truncated);
    CHECK(decode_prefixes(hex("08 0a 18"), Afi::Ipv4).error() == NlriError::Truncated);
}

TEST_CASE("host bits beyond the length are cleared and reported", "[bgp][prefix][rfc7606]") {
    auto got = decode_prefixes(hex("17 c00003"), Afi::Ipv4);  // 192.0.3.0/23: bit 24 is a host bit
    REQUIRE(got.has_value());
    CHECK(got->host_bits_set);
    CHECK(got->prefixes[0].to_string() == "192.0.2.0/23");
}
