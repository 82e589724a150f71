// IPv4 helpers: checksums (RFC 1071, RFC 1624), DF clearing, MSS clamping, fragmentation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "cgwd/dataplane/ipv4.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::dataplane::test::Bytes;
using cgwd::dataplane::test::hex;
using cgwd::dataplane::test::to_hex;

namespace {

std::uint16_t be16(const Bytes& b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

// Straightforward RFC 1071 sum written independently of the library, for "from scratch" checks.
std::uint16_t naive_checksum(const Bytes& data, std::size_t from, std::size_t to,
                             std::uint32_t initial = 0) {
    std::uint64_t sum = initial;
    for (std::size_t i = from; i < to; i += 2) {
        const std::uint32_t hi = data[i];
        const std::uint32_t lo = i + 1 < to ? data[i + 1] : 0;
        sum += hi << 8 | lo;
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint16_t tcp_checksum_from_scratch(Bytes packet) {
    const std::size_t ihl = (packet[0] & 15u) * 4;
    const std::size_t total = be16(packet, 2);
    packet[ihl + 16] = 0;
    packet[ihl + 17] = 0;
    // Pseudo-header: source, destination, zero | protocol, TCP length.
    std::uint32_t pseudo = be16(packet, 12) + be16(packet, 14) + be16(packet, 16) +
                           be16(packet, 18) + packet[9] + static_cast<std::uint32_t>(total - ihl);
    return naive_checksum(packet, ihl, total, pseudo);
}

void fix_checksums(Bytes& packet) {
    const std::size_t ihl = (packet[0] & 15u) * 4;
    packet[10] = packet[11] = 0;
    const std::uint16_t h = naive_checksum(packet, 0, ihl);
    packet[10] = static_cast<std::uint8_t>(h >> 8);
    packet[11] = static_cast<std::uint8_t>(h);
    if (packet[9] == 6) {
        const std::uint16_t t = tcp_checksum_from_scratch(packet);
        packet[ihl + 16] = static_cast<std::uint8_t>(t >> 8);
        packet[ihl + 17] = static_cast<std::uint8_t>(t);
    }
}

// IPv4 + TCP SYN from 10.0.0.1:40000 to 10.1.0.1:443 with the given TCP options.
Bytes tcp_syn(const Bytes& options, std::uint8_t flags = 0x02) {
    const std::size_t tcp_len = 20 + options.size();
    Bytes p =
        hex("45000000abcd40004006000"
            "00a0000010a010001");
    p.resize(20);
    p[2] = static_cast<std::uint8_t>((20 + tcp_len) >> 8);
    p[3] = static_cast<std::uint8_t>(20 + tcp_len);
    Bytes tcp = hex("9c4001bb0000000100000000");
    tcp.push_back(static_cast<std::uint8_t>((tcp_len / 4) << 4));
    tcp.push_back(flags);
    for (auto b : hex("faf0000000000000")) tcp.push_back(b);
    tcp.resize(20);
    tcp.insert(tcp.end(), options.begin(), options.end());
    p.insert(p.end(), tcp.begin(), tcp.end());
    fix_checksums(p);
    return p;
}

}  // namespace

TEST_CASE("Internet checksum: RFC 1071 section 3 example and RFC 1624 section 4 example") {
    // RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2; the checksum is its complement.
    CHECK(ipv4::internet_checksum(hex("0001f203f4f5f6f7")) == static_cast<std::uint16_t>(~0xddf2));
    // Odd length: the last byte is padded with zero.
    // 0x0001 + 0xf203 + 0xf4f5 + 0xf600 = 0x2dcf9 -> folded 0xdcfb -> complement 0x2304.
    CHECK(ipv4::internet_checksum(hex("0001f203f4f5f6")) == 0x2304);
    // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555, m' = 0x3285 gives HC' = 0x0000 (eqn. 3).
    CHECK(ipv4::checksum_adjust(0xdd2f, 0x5555, 0x3285) == 0x0000);
}

TEST_CASE("Clearing DF fixes the header checksum incrementally") {
    Bytes p = tcp_syn(hex("020405b4"));
    REQUIRE((p[6] & 0x40) != 0);
    auto r = ipv4::clear_df(p);
    REQUIRE(r);
    CHECK(*r);
    CHECK((p[6] & 0x40) == 0);
    Bytes check = p;
    check[10] = check[11] = 0;
    CHECK(be16(p, 10) == naive_checksum(check, 0, 20));
    CHECK(ipv4::internet_checksum(std::span(p).first(20)) == 0);  // verifies
    auto again = ipv4::clear_df(p);
    REQUIRE(again);
    CHECK_FALSE(*again);
}

TEST_CASE("MSS clamping rewrites SYN and SYN-ACK and keeps the TCP checksum right") {
    struct Case {
        const char* name;
        Bytes options;
        std::uint8_t flags;
        std::size_t mss_at;  // offset of the MSS value within the TCP options
    };
    const Case cases[] = {
        {"SYN, MSS first",
         hex("020405b4"
             "0402080a0000000100000000"
             "01030307"),
         0x02, 2},
        {"SYN-ACK",
         hex("020405b4"
             "01010402"),
         0x12, 2},
        // One NOP first puts the MSS value at an odd offset from the TCP header start.
        {"SYN, MSS at odd offset",
         hex("01"
             "020405b4"
             "010101"),
         0x02, 3},
        {"SYN, MSS after timestamps",
         hex("0101080a0000000100000000"
             "020405b4"),
         0x02, 14},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        Bytes p = tcp_syn(c.options, c.flags);
        REQUIRE(tcp_checksum_from_scratch(p) == be16(p, 36));
        auto r = ipv4::clamp_mss(p, 1379);
        REQUIRE(r);
        CHECK(*r);
        CHECK(be16(p, 40 + c.mss_at) == 1379);
        CHECK(be16(p, 36) == tcp_checksum_from_scratch(p));
        CHECK(ipv4::internet_checksum(std::span(p).first(20)) == 0);  // IP header untouched
    }
}

TEST_CASE("MSS clamping leaves other packets alone") {
    Bytes small = tcp_syn(hex("02040500"));  // MSS 1280 <= 1379
    Bytes before = small;
    CHECK_FALSE(*ipv4::clamp_mss(small, 1379));
    CHECK(small == before);

    Bytes ack = tcp_syn(hex("020405b4"), 0x10);  // not a SYN
    before = ack;
    CHECK_FALSE(*ipv4::clamp_mss(ack, 1379));
    CHECK(ack == before);

    Bytes no_mss = tcp_syn(hex("01010402"));
    CHECK_FALSE(*ipv4::clamp_mss(no_mss, 1379));

    Bytes udp = tcp_syn(hex("020405b4"));
    udp[9] = 17;
    CHECK_FALSE(*ipv4::clamp_mss(udp, 1379));

    Bytes bad_len = tcp_syn(hex("02030000"));  // MSS option with length 3
    CHECK(ipv4::clamp_mss(bad_len, 1379).error() == ipv4::Ipv4Error::malformed);
    Bytes overrun = tcp_syn(hex("0208aaaa"));  // option runs past the header
    CHECK(ipv4::clamp_mss(overrun, 1379).error() == ipv4::Ipv4Error::malformed);
    Bytes cut = tcp_syn(hex("020405b4"));
    cut.resize(30);
    CHECK(ipv4::clamp_mss(cut, 1379).error() == ipv4::Ipv4Error::truncated);
}

namespace {

Bytes big_packet(std::size_t total, bool df, const Bytes& options = {}) {
    const std::size_t ihl = 20 + options.size();
    Bytes p(total, 0);
    p[0] = static_cast<std::uint8_t>(0x40 | ihl / 4);
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[4] = 0x12;
    p[5] = 0x34;
    p[6] = df ? 0x40 : 0;
    p[8] = 64;
    p[9] = 17;
    p[12] = 10, p[15] = 1, p[16] = 10, p[17] = 1, p[19] = 1;
    std::copy(options.begin(), options.end(), p.begin() + 20);
    for (std::size_t i = ihl; i < total; ++i) p[i] = static_cast<std::uint8_t>(i * 31 + 7);
    fix_checksums(p);
    return p;
}

// Minimal RFC 791 reassembly for the tests: returns the payload by offset.
struct Reassembled {
    Bytes first_header;
    Bytes payload;
    bool complete = false;
};

Reassembled reassemble(const std::vector<Bytes>& fragments) {
    Reassembled r;
    std::map<std::size_t, Bytes> parts;
    std::size_t end = 0;
    for (const auto& f : fragments) {
        const std::size_t ihl = (f[0] & 15u) * 4;
        const std::uint16_t frag = be16(f, 6);
        const std::size_t offset = (frag & 0x1fffu) * 8;
        if (offset == 0) r.first_header.assign(f.begin(), f.begin() + static_cast<long>(ihl));
        parts[offset] = Bytes(f.begin() + static_cast<long>(ihl), f.end());
        if (!(frag & 0x2000)) end = offset + f.size() - ihl;
    }
    for (const auto& [off, data] : parts) {
        if (off != r.payload.size()) return r;
        r.payload.insert(r.payload.end(), data.begin(), data.end());
    }
    r.complete = end != 0 && r.payload.size() == end;
    return r;
}

std::vector<Bytes> fragment_all(ipv4::Fragmenter& f, std::size_t mtu) {
    std::vector<Bytes> out;
    while (!f.done()) {
        Bytes buf(mtu);
        auto n = f.next(buf);
        REQUIRE(n);
        buf.resize(*n);
        out.push_back(buf);
    }
    return out;
}

}  // namespace

TEST_CASE("Fragmentation: fragments fit the MTU and reassemble to the original") {
    const Bytes original = big_packet(3000, false);
    auto f = ipv4::Fragmenter::create(original, 1436, false);
    REQUIRE(f);
    const std::size_t expected_count = f->fragment_count();
    const auto frags = fragment_all(*f, 1436);
    REQUIRE(frags.size() == 3);
    CHECK(expected_count == 3);
    for (std::size_t i = 0; i < frags.size(); ++i) {
        INFO("fragment " << i);
        const Bytes& fr = frags[i];
        CHECK(fr.size() <= 1436);
        CHECK(be16(fr, 2) == fr.size());
        CHECK(be16(fr, 4) == 0x1234);  // same Identification
        CHECK(ipv4::internet_checksum(std::span(fr).first(20)) == 0);
        const bool mf = (fr[6] & 0x20) != 0;
        CHECK(mf == (i + 1 < frags.size()));
        if (mf) CHECK((fr.size() - 20) % 8 == 0);
    }
    CHECK((be16(frags[1], 6) & 0x1fff) == 1416 / 8);  // offset in 8-byte units
    CHECK((be16(frags[2], 6) & 0x1fff) == 2832 / 8);
    auto r = reassemble(frags);
    REQUIRE(r.complete);
    CHECK(r.payload == Bytes(original.begin() + 20, original.end()));
}

TEST_CASE("Fragmentation: DF set refuses unless clear_df - small packets pass unchanged") {
    const Bytes df = big_packet(1500, true);
    auto refused = ipv4::Fragmenter::create(df, 1436, false);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == ipv4::Ipv4Error::needs_fragmentation);

    auto f = ipv4::Fragmenter::create(df, 1436, true);
    REQUIRE(f);
    const auto frags = fragment_all(*f, 1436);
    REQUIRE(frags.size() == 2);
    for (const auto& fr : frags) {
        CHECK((fr[6] & 0x40) == 0);  // DF cleared
        CHECK(ipv4::internet_checksum(std::span(fr).first(20)) == 0);
    }
    CHECK(reassemble(frags).payload == Bytes(df.begin() + 20, df.end()));

    const Bytes small = big_packet(1436, true);  // fits: one piece, byte-identical, DF kept
    auto one = ipv4::Fragmenter::create(small, 1436, false);
    REQUIRE(one);
    const auto same = fragment_all(*one, 1436);
    REQUIRE(same.size() == 1);
    CHECK(same[0] == small);

    CHECK(ipv4::Fragmenter::create(big_packet(200, false), 60, false).error() ==
          ipv4::Ipv4Error::mtu_too_small);
}

TEST_CASE("Fragmentation: only copied options are repeated - refragmenting keeps offsets") {
    // Option 0x94 (Router Alert, copied) and 0x07 (Record Route, not copied), then EOL.
    const Bytes options =
        hex("94040000"
            "070702000000000000"
            "000000");
    REQUIRE(options.size() == 16);
    const Bytes original = big_packet(1000, false, options);
    auto f = ipv4::Fragmenter::create(original, 576, false);
    REQUIRE(f);
    const auto frags = fragment_all(*f, 576);
    REQUIRE(frags.size() == 2);
    CHECK((frags[0][0] & 15) == 9);  // first keeps all 36 header bytes
    CHECK((frags[1][0] & 15) == 6);  // others: 20 + Router Alert (4)
    CHECK(to_hex(frags[1].data() + 20, 4) == "94040000");
    CHECK(ipv4::internet_checksum(std::span(frags[1]).first(24)) == 0);
    auto r = reassemble(frags);
    REQUIRE(r.complete);
    CHECK(r.payload == Bytes(original.begin() + 36, original.end()));

    // Fragmenting the first fragment again (smaller MTU) keeps MF on all pieces and offsets
    // relative to the original datagram.
    auto g = ipv4::Fragmenter::create(frags[0], 200, false);
    REQUIRE(g);
    auto pieces = fragment_all(*g, 200);
    pieces.push_back(frags[1]);
    auto r2 = reassemble(pieces);
    REQUIRE(r2.complete);
    CHECK(r2.payload == r.payload);
}
