// Segmentation offloads (offload.hpp): virtio-net header codec (include/uapi/linux/virtio_net.h),
// RFC 1071 checksum helpers, RFC 793 pseudo header, partial checksum completion, TCP/IPv4
// segmentation of TSO packets and the receive-side Coalescer (GRO). Expected values come from
// the byte-by-byte reference checksum below, never from the module itself.
#include <catch2/catch.hpp>

#include <random>
#include <tuple>

#include "cgwd/dataplane/ipv4.hpp"
#include "cgwd/dataplane/offload.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using namespace cgwd::dataplane::offload;
using cgwd::dataplane::test::Bytes;
using cgwd::dataplane::test::hex;
using cgwd::dataplane::test::to_hex;

namespace {

constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20,
                       ECE = 0x40, CWR = 0x80;

std::uint16_t be16(const Bytes& b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t be32(const Bytes& b, std::size_t at) {
    return std::uint32_t{be16(b, at)} << 16 | be16(b, at + 2);
}
void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
    put16(b, at, static_cast<std::uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// Reference RFC 1071 sum, one byte at a time (even index = high byte), folded, not complemented.
std::uint16_t ref_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum = 0) {
    for (std::size_t i = 0; i < n; ++i) sum += (i % 2 == 0) ? std::uint64_t{p[i]} << 8 : p[i];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}
std::uint16_t ref_sum(const Bytes& b, std::uint64_t sum = 0) {
    return ref_sum(b.data(), b.size(), sum);
}
// RFC 793 section 3.1 pseudo header as bytes.
Bytes pseudo(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::uint16_t len) {
    Bytes p(12, 0);
    put32(p, 0, src);
    put32(p, 4, dst);
    p[9] = proto;
    put16(p, 10, len);
    return p;
}
std::size_t ihl(const Bytes& pkt) {
    return std::size_t{pkt[0] & 0x0fu} * 4;
}
// Reference sum of the pseudo header + transport part of an IPv4 packet.
std::uint16_t ref_l4_sum(const Bytes& pkt) {
    const std::size_t h = ihl(pkt), len = be16(pkt, 2) - h;
    Bytes buf = pseudo(be32(pkt, 12), be32(pkt, 16), pkt[9], static_cast<std::uint16_t>(len));
    buf.insert(buf.end(), pkt.begin() + static_cast<long>(h),
               pkt.begin() + static_cast<long>(h + len));
    return ref_sum(buf);
}
bool ref_ip_ok(const Bytes& pkt) {
    return ref_sum(pkt.data(), ihl(pkt)) == 0xffff;
}
bool ref_l4_ok(const Bytes& pkt) {
    return ref_l4_sum(pkt) == 0xffff;
}

Bytes pattern(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}
// NOP NOP TS(kind 8, len 10) TSval TSecr: 12 bytes (RFC 7323).
Bytes timestamps(std::uint32_t tsval, std::uint32_t tsecr = 0x01020304) {
    Bytes o = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    put32(o, 4, tsval);
    put32(o, 8, tsecr);
    return o;
}

struct Ip {
    std::uint32_t src = 0xc0a80a02, dst = 0xac10fe09;  // 192.168.10.2 -> 172.16.254.9
    std::uint16_t id = 0x4d2e, frag = 0x4000;          // DF
    std::uint8_t tos = 0, ttl = 64, proto = 6;
    Bytes options;
};
// IPv4 header (checksum filled in by reference) + `l4`; the L4 checksum is the caller's job.
Bytes ipv4_packet(const Ip& ip, const Bytes& l4) {
    const std::size_t h = 20 + ip.options.size();
    Bytes p(h, 0);
    p[0] = static_cast<std::uint8_t>(0x40 | h / 4);
    p[1] = ip.tos;
    put16(p, 2, static_cast<std::uint16_t>(h + l4.size()));
    put16(p, 4, ip.id);
    put16(p, 6, ip.frag);
    p[8] = ip.ttl;
    p[9] = ip.proto;
    put32(p, 12, ip.src);
    put32(p, 16, ip.dst);
    std::copy(ip.options.begin(), ip.options.end(), p.begin() + 20);
    put16(p, 10, static_cast<std::uint16_t>(~ref_sum(p)));
    p.insert(p.end(), l4.begin(), l4.end());
    return p;
}

struct Tcp {
    Ip ip;
    std::uint16_t sport = 51514, dport = 443;
    std::uint32_t seq = 0x10000000, ack = 0x2a2b2c2d;
    std::uint8_t flags = ACK;
    std::uint16_t window = 0x01f5, urgent = 0;
    std::uint8_t reserved = 0;  // low bits of byte 12: reserved, AE (RFC 3540's NS)
    Bytes options = timestamps(0x11223344);
    Bytes payload;
};
// A valid IPv4/TCP packet; both checksums computed by the reference above.
Bytes tcp_packet(const Tcp& t) {
    const std::size_t doff = 20 + t.options.size();
    Bytes s(doff, 0);
    put16(s, 0, t.sport);
    put16(s, 2, t.dport);
    put32(s, 4, t.seq);
    put32(s, 8, t.ack);
    s[12] = static_cast<std::uint8_t>(doff / 4 << 4 | t.reserved);
    s[13] = t.flags;
    put16(s, 14, t.window);
    put16(s, 18, t.urgent);
    std::copy(t.options.begin(), t.options.end(), s.begin() + 20);
    s.insert(s.end(), t.payload.begin(), t.payload.end());
    Bytes p = ipv4_packet(t.ip, s);
    put16(p, ihl(p) + 16, static_cast<std::uint16_t>(~ref_l4_sum(p)));
    return p;
}
Bytes udp_packet(const Bytes& payload, Ip ip = {}) {
    ip.proto = 17;
    Bytes u(8, 0);
    put16(u, 0, 4500);
    put16(u, 2, 4500);
    put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
    u.insert(u.end(), payload.begin(), payload.end());
    Bytes p = ipv4_packet(ip, u);
    const std::uint16_t c = static_cast<std::uint16_t>(~ref_l4_sum(p));
    put16(p, 26, c == 0 ? 0xffff : c);  // RFC 768: zero is sent as all ones
    return p;
}
Bytes icmp_echo(const Bytes& payload) {
    Ip ip;
    ip.proto = 1;
    Bytes m = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
    m.insert(m.end(), payload.begin(), payload.end());
    put16(m, 2, static_cast<std::uint16_t>(~ref_sum(m)));
    return ipv4_packet(ip, m);
}

VnetHeader tso(std::uint16_t gso_size, std::uint16_t headers = 52) {
    return VnetHeader{vnet_flag_needs_csum, gso_tcpv4, headers, gso_size, 20, 16};
}
std::vector<Bytes> segment(const Bytes& pkt, const VnetHeader& h) {
    auto s = TcpSegmenter::create(pkt, h);
    REQUIRE(s);
    std::vector<Bytes> out;
    Bytes buf(s->max_segment_size());
    while (!s->done()) {
        auto n = s->next(buf);
        REQUIRE(n);
        out.emplace_back(buf.begin(), buf.begin() + static_cast<long>(*n));
    }
    REQUIRE(out.size() == s->segment_count());
    return out;
}

struct Out {
    int sink;
    Bytes vnet, packet;
};
std::vector<Out> drain(Coalescer& c) {
    std::vector<Out> v;
    c.flush([&](int sink, std::span<const std::uint8_t> b) {
        REQUIRE(b.size() >= vnet_header_size);
        v.push_back({sink, Bytes(b.begin(), b.begin() + vnet_header_size),
                     Bytes(b.begin() + vnet_header_size, b.end())});
    });
    CHECK(c.empty());
    return v;
}
// Adds everything to one sink and expects it back unchanged, each with a zero header.
void expect_no_merge(const std::vector<Bytes>& in) {
    Coalescer c(8);
    for (const auto& p : in) REQUIRE(c.add(3, p));
    auto out = drain(c);
    REQUIRE(out.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        INFO("packet " << i);
        CHECK(out[i].sink == 3);
        CHECK(out[i].vnet == Bytes(vnet_header_size, 0));
        CHECK(to_hex(out[i].packet) == to_hex(in[i]));
    }
    CHECK(c.take_merged_segments() == 0);
}
// The i-th full-size segment (1388 payload bytes) of a flow with a timestamp option.
Tcp flow_seg(std::size_t i, std::size_t len = 1388, std::uint16_t sport = 51514) {
    Tcp t;
    t.sport = sport;
    t.seq = 0x10000000u + static_cast<std::uint32_t>(i * 1388);
    t.ip.id = static_cast<std::uint16_t>(0x4d2e + i);
    t.payload = pattern(len, static_cast<std::uint32_t>(i * 131 + sport));
    return t;
}

template <class T>
bool fails(const std::expected<T, OffloadError>& r, OffloadError e) {
    return !r && r.error() == e;
}

}  // namespace

TEST_CASE("offload: virtio-net header byte layout and round trip", "[offload]") {
    // struct virtio_net_hdr: flags u8 @0, gso_type u8 @1, hdr_len @2, gso_size @4,
    // csum_start @6, csum_offset @8, all little-endian.
    const VnetHeader h{0x01, 0x81, 0x0234, 0x056c, 0x0014, 0x0010};
    Bytes out(12, 0xee);
    encode_vnet(h, out);
    CHECK(to_hex(out) == "018134026c0514001000eeee");
    CHECK(decode_vnet(out) == h);
    const Bytes in = hex("02 01 42 00 ff ff 22 00 06 00");
    const VnetHeader d = decode_vnet(in);
    CHECK(d == VnetHeader{vnet_flag_data_valid, gso_tcpv4, 0x42, 0xffff, 0x22, 6});
    Bytes again(10);
    encode_vnet(d, again);
    CHECK(again == in);
}

TEST_CASE("offload: RFC 1071 section 3 numeric example and a published IPv4 header", "[offload]") {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 2ddf0, folded ddf2, checksum 220d.
    const Bytes rfc = hex("0001f203f4f5f6f7");
    CHECK(checksum_fold(checksum_add(rfc)) == 0xddf2);
    CHECK(static_cast<std::uint16_t>(~checksum_fold(checksum_add(rfc))) == 0x220d);
    CHECK(ipv4::internet_checksum(rfc) == 0x220d);
    CHECK(ref_sum(rfc) == 0xddf2);
    // Wikipedia "Internet checksum" / IPv4 header example: checksum b861.
    Bytes hdr = hex("450000730000400040110000c0a80001c0a800c7");
    CHECK(static_cast<std::uint16_t>(~ref_sum(hdr)) == 0xb861);
    CHECK(static_cast<std::uint16_t>(~checksum_fold(checksum_add(hdr))) == 0xb861);
    CHECK(checksum_fold(0x2ddf0) == 0xddf2);
    CHECK(checksum_fold(0xffffffffffffffffull) == 0xffff);
    CHECK(checksum_fold(0) == 0);
}

TEST_CASE("offload: checksum_add agrees with internet_checksum for lengths 0..300", "[offload]") {
    std::mt19937 rng(1071);
    for (std::size_t len = 0; len <= 300; ++len) {
        for (std::size_t align = 0; align < 8; align += 3) {  // memory misalignment 0, 3, 6
            Bytes store = pattern(len + align, static_cast<std::uint32_t>(rng()));
            std::span<const std::uint8_t> d(store.data() + align, len);
            const Bytes b(d.begin(), d.end());
            INFO("len " << len << " align " << align);
            REQUIRE(static_cast<std::uint16_t>(~checksum_fold(checksum_add(d))) ==
                    ipv4::internet_checksum(d));
            REQUIRE(checksum_fold(checksum_add(d)) == ref_sum(b));
            const std::uint64_t start = 0x1'2345'fedcull + len;
            REQUIRE(checksum_fold(checksum_add(d, start)) == ref_sum(b, start));
            const std::uint16_t whole = ref_sum(b);
            for (std::size_t split = 0; split <= len; split += 2) {
                const std::uint64_t s =
                    checksum_add(d.subspan(split), checksum_add(d.first(split)));
                REQUIRE(checksum_fold(s) == whole);
            }
        }
    }
    // Carries everywhere: all ones, odd and even lengths.
    for (std::size_t len : {1u, 2u, 7u, 8u, 33u, 64u, 299u}) {
        const Bytes ff(len, 0xff);
        CHECK(checksum_fold(checksum_add(ff)) == ref_sum(ff));
        CHECK(checksum_fold(checksum_add(ff, 0xffff'ffffull)) == ref_sum(ff, 0xffff'ffffull));
    }
}

TEST_CASE("offload: pseudo header sum and TCP checksum validation", "[offload]") {
    for (auto [s, d, len] :
         {std::tuple{0xc0a80a02u, 0xac10fe09u, 1432u}, std::tuple{0xffffffffu, 0xfffffffeu, 65535u},
          std::tuple{0u, 0u, 0u}}) {
        const auto l = static_cast<std::uint16_t>(len);
        CHECK(checksum_fold(pseudo_header_sum(s, d, 6, l)) == ref_sum(pseudo(s, d, 6, l)));
        CHECK(checksum_fold(pseudo_header_sum(s, d, 17, l)) == ref_sum(pseudo(s, d, 17, l)));
    }
    Tcp t;
    t.ip.id = 0x1c46;
    t.seq = 0x8a1b2c3d;
    t.flags = ACK | PSH;
    t.payload = pattern(501, 7);
    const Bytes p = tcp_packet(t);
    REQUIRE(p.size() == 20 + 32 + 501);
    REQUIRE(ref_ip_ok(p));
    REQUIRE(ref_l4_ok(p));
    CHECK(ipv4::internet_checksum(std::span(p).first(20)) == 0);
    CHECK(tcp_checksum_valid(p));
    const std::uint64_t ph = pseudo_header_sum(t.ip.src, t.ip.dst, 6, 32 + 501);
    CHECK(checksum_fold(checksum_add(std::span(p).subspan(20), ph)) == 0xffff);
    for (std::size_t at : {std::size_t{52}, std::size_t{300}, p.size() - 1, std::size_t{36}}) {
        Bytes bad = p;
        bad[at] ^= 0x10;
        CHECK_FALSE(tcp_checksum_valid(bad));
    }
    for (std::size_t n :
         {p.size() - 1, std::size_t{52}, std::size_t{39}, std::size_t{19}, std::size_t{0}})
        CHECK_FALSE(tcp_checksum_valid(std::span(p).first(n)));
    Bytes trailing = p;  // bytes past the IPv4 total length are not part of the packet
    trailing.push_back(0x55);
    CHECK(tcp_checksum_valid(trailing));
    CHECK_FALSE(tcp_checksum_valid(udp_packet(pattern(40, 1))));
}

TEST_CASE("offload: complete_checksum finishes partial TCP and UDP checksums", "[offload]") {
    Tcp t;
    t.payload = pattern(777, 3);
    const Bytes tcp = tcp_packet(t);
    REQUIRE(be16(tcp, 36) != 0);
    Bytes partial = tcp;
    put16(partial, 36, ref_sum(pseudo(t.ip.src, t.ip.dst, 6, 32 + 777)));
    REQUIRE(complete_checksum(partial, 20, 16));
    CHECK(to_hex(partial) == to_hex(tcp));

    const Bytes udp = udp_packet(pattern(333, 4));
    Bytes upart = udp;
    put16(upart, 26, ref_sum(pseudo(0xc0a80a02, 0xac10fe09, 17, 8 + 333)));
    REQUIRE(complete_checksum(upart, 20, 6));
    CHECK(to_hex(upart) == to_hex(udp));

    CHECK(fails(complete_checksum(partial, 21, 16), OffloadError::malformed));
    CHECK(fails(complete_checksum(partial, 20, static_cast<std::uint16_t>(tcp.size() - 21)),
                OffloadError::malformed));
    CHECK(fails(complete_checksum(partial, static_cast<std::uint16_t>(tcp.size() + 2), 0),
                OffloadError::malformed));
    Bytes even = tcp;
    even.push_back(0);  // even length: a field in the last two bytes is fine, one further is not
    CHECK(complete_checksum(even, static_cast<std::uint16_t>(even.size() - 2), 0));
    CHECK(fails(complete_checksum(even, static_cast<std::uint16_t>(even.size() - 2), 1),
                OffloadError::malformed));

    // A UDP datagram whose checksum comes out as 0: the last payload word is chosen so the
    // sum is 0xffff; stored as 0xffff (RFC 768), which still verifies.
    Bytes z = udp_packet(pattern(64, 9));
    const std::uint16_t ph = ref_sum(pseudo(0xc0a80a02, 0xac10fe09, 17, 8 + 64));
    put16(z, 26, ph);
    put16(z, z.size() - 2, 0);
    const std::uint16_t rest = ref_sum(z.data() + 20, z.size() - 20);
    put16(z, z.size() - 2, static_cast<std::uint16_t>(0xffff - rest));
    REQUIRE(ref_sum(z.data() + 20, z.size() - 20) == 0xffff);
    REQUIRE(complete_checksum(z, 20, 6));
    CHECK(be16(z, 26) == 0xffff);
    CHECK(ref_l4_ok(z));
}

TEST_CASE("offload: TcpSegmenter splits a TSO packet like tcp_gso_segment", "[offload]") {
    Tcp t;
    t.ip.id = 0xfffe;
    t.seq = 0xfffff000;
    t.flags = ACK | PSH | FIN | CWR;
    t.payload = pattern(10000, 42);
    Bytes big = tcp_packet(t);
    // The kernel hands a TSO packet over with only the pseudo-header sum in the TCP field.
    put16(big, 36, ref_sum(pseudo(t.ip.src, t.ip.dst, 6, 32 + 10000)));
    auto seg = TcpSegmenter::create(big, tso(1388));
    REQUIRE(seg);
    CHECK(seg->segment_count() == 8);
    CHECK(seg->max_segment_size() == 52 + 1388);
    const auto segs = segment(big, tso(1388));
    REQUIRE(segs.size() == 8);
    Bytes joined;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        const Bytes& s = segs[i];
        INFO("segment " << i);
        const std::size_t len = i < 7 ? 1388 : 10000 - 7 * 1388;
        REQUIRE(s.size() == 52 + len);
        CHECK(be16(s, 2) == 52 + len);
        CHECK(be16(s, 4) == static_cast<std::uint16_t>(0xfffe + i));
        CHECK(ref_ip_ok(s));
        CHECK(be32(s, 24) == static_cast<std::uint32_t>(0xfffff000u + i * 1388));
        const std::uint8_t want =
            static_cast<std::uint8_t>(ACK | (i == 7 ? PSH | FIN : 0) | (i == 0 ? CWR : 0));
        CHECK(int{s[33]} == int{want});
        CHECK(ref_l4_ok(s));
        CHECK(tcp_checksum_valid(s));
        // Everything else in the headers is copied: TOS, DF, TTL, addresses, ports, ACK,
        // data offset, window, urgent pointer, options.
        Bytes sh(s.begin(), s.begin() + 52), bh(big.begin(), big.begin() + 52);
        for (std::size_t at : {2, 3, 4, 5, 10, 11, 24, 25, 26, 27, 33, 36, 37}) sh[at] = bh[at] = 0;
        CHECK(to_hex(sh) == to_hex(bh));
        joined.insert(joined.end(), s.begin() + 52, s.end());
    }
    CHECK(be16(segs[2], 4) == 0x0000);       // id wrapped
    CHECK(be32(segs[3], 24) == 0x00000044);  // 0xfffff000 + 3 * 1388 wrapped
    CHECK(joined == t.payload);

    // The ECN flag in gso_type is accepted (the CWR rule above is what it asks for).
    VnetHeader ecn = tso(1388);
    ecn.gso_type = static_cast<std::uint8_t>(gso_tcpv4 | gso_ecn);
    CHECK(segment(big, ecn) == segs);
}

TEST_CASE("offload: TcpSegmenter edge cases and errors", "[offload]") {
    Tcp t;
    t.flags = ACK | PSH;
    t.payload = pattern(4 * 1000, 5);
    const Bytes four = tcp_packet(t);
    auto segs = segment(four, tso(1000));
    REQUIRE(segs.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(segs[i].size() == 1052);
        CHECK(int{segs[i][33]} == (i == 3 ? ACK | PSH : ACK));
        CHECK(ref_l4_ok(segs[i]));
    }

    // No payload: one segment, the headers, flags kept.
    t.flags = ACK | FIN | PSH | CWR;
    t.payload.clear();
    const Bytes empty = tcp_packet(t);
    segs = segment(empty, tso(1388));
    REQUIRE(segs.size() == 1);
    CHECK(to_hex(segs[0]) == to_hex(empty));

    // IPv4 options: the header checksum covers them.
    Tcp o = flow_seg(0, 1500);
    o.ip.options = {0x94, 0x04, 0x00, 0x00};  // router alert (RFC 2113)
    segs = segment(tcp_packet(o), tso(1000, 56));
    REQUIRE(segs.size() == 2);
    for (const auto& s : segs) {
        CHECK(ref_ip_ok(s));
        CHECK(ref_l4_ok(s));
        CHECK(s[20] == 0x94);
    }

    VnetHeader h = tso(1000);
    for (std::uint8_t type : {gso_none, std::uint8_t{3}, std::uint8_t{4}, std::uint8_t{5}}) {
        h.gso_type = type;
        CHECK(fails(TcpSegmenter::create(four, h), OffloadError::unsupported));
    }
    CHECK(fails(TcpSegmenter::create(four, tso(0)), OffloadError::malformed));
    CHECK(fails(TcpSegmenter::create(std::span(four).first(four.size() - 1), tso(1000)),
                OffloadError::malformed));
    CHECK(
        fails(TcpSegmenter::create(std::span(four).first(30), tso(1000)), OffloadError::malformed));
    Bytes doff = empty;  // data offset 15 words = 60 bytes, but only 32 TCP bytes
    doff[32] = 0xf0;
    CHECK(fails(TcpSegmenter::create(doff, tso(1000)), OffloadError::malformed));
    Bytes doff_small = empty;  // data offset 4 words < 20 bytes
    doff_small[32] = 0x40;
    CHECK(fails(TcpSegmenter::create(doff_small, tso(1000)), OffloadError::malformed));
    CHECK(fails(TcpSegmenter::create(udp_packet(pattern(3000, 1)), tso(1000)),
                OffloadError::malformed));

    auto s = TcpSegmenter::create(four, tso(1000));
    REQUIRE(s);
    Bytes small(1051);
    CHECK(fails(s->next(small), OffloadError::buffer_too_small));
    Bytes buf(1052);
    auto n = s->next(buf);  // the failed call did not advance
    REQUIRE(n);
    CHECK(*n == 1052);
    CHECK(be32(buf, 24) == t.seq);
    CHECK(std::equal(buf.begin() + 52, buf.end(), four.begin() + 52));
}

TEST_CASE("offload: Coalescer merges one flow and the kernel's segmentation restores it",
          "[offload]") {
    Tcp t;
    t.flags = ACK | PSH;
    t.seq = 0xfffffa00;
    t.payload = pattern(10000, 77);
    const auto segs = segment(tcp_packet(t), tso(1388));
    REQUIRE(segs.size() == 8);
    Coalescer c(8);
    for (const auto& s : segs) REQUIRE(c.add(3, s));
    CHECK(c.take_merged_segments() == 7);
    auto out = drain(c);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sink == 3);
    CHECK(to_hex(out[0].vnet) == "010134006c0514001000");
    CHECK(decode_vnet(out[0].vnet) == VnetHeader{1, 1, 52, 1388, 20, 16});
    const Bytes& m = out[0].packet;
    REQUIRE(m.size() == 52 + 10000);
    CHECK(be16(m, 2) == 10052);
    CHECK(ref_ip_ok(m));
    CHECK(be16(m, 36) == ref_sum(pseudo(t.ip.src, t.ip.dst, 6, 10032)));
    CHECK(int{m[33]} == (ACK | PSH));
    CHECK(std::equal(m.begin() + 52, m.end(), t.payload.begin()));
    Bytes mh(m.begin(), m.begin() + 52), fh(segs[0].begin(), segs[0].begin() + 52);
    for (std::size_t at : {2, 3, 10, 11, 33, 36, 37}) mh[at] = fh[at] = 0;
    CHECK(to_hex(mh) == to_hex(fh));
    // What the kernel does with NEEDS_CSUM gives a valid checksum.
    Bytes done = m;
    REQUIRE(complete_checksum(done, 20, 16));
    CHECK(ref_l4_ok(done));
    // Re-segmenting gives back exactly what went in.
    const auto again = segment(m, decode_vnet(out[0].vnet));
    REQUIRE(again.size() == segs.size());
    for (std::size_t i = 0; i < segs.size(); ++i) CHECK(to_hex(again[i]) == to_hex(segs[i]));
}

TEST_CASE("offload: Coalescer does not merge what it cannot restore", "[offload]") {
    using Edit = void (*)(Tcp & a, Tcp & b);
    const std::vector<std::pair<const char*, Edit>> cases = {
        {"sequence gap", [](Tcp&, Tcp& b) { b.seq += 1; }},
        {"sequence overlap", [](Tcp&, Tcp& b) { b.seq -= 1; }},
        {"different ACK number", [](Tcp&, Tcp& b) { b.ack += 1; }},
        {"different window", [](Tcp&, Tcp& b) { b.window = 0x01f6; }},
        {"different timestamp value", [](Tcp&, Tcp& b) { b.options = timestamps(0x11223345); }},
        {"different urgent pointer", [](Tcp&, Tcp& b) { b.urgent = 1; }},
        {"different TTL", [](Tcp&, Tcp& b) { b.ip.ttl = 63; }},
        {"different TOS (CE mark)", [](Tcp&, Tcp& b) { b.ip.tos = 3; }},
        {"DF cleared", [](Tcp&, Tcp& b) { b.ip.frag = 0; }},
        {"IPv4 reserved flag set", [](Tcp&, Tcp& b) { b.ip.frag = 0xc000; }},
        {"IPv4 options (IHL 6)",
         [](Tcp&, Tcp& b) {
             b.ip.options = {1, 1, 1, 0};
         }},
        {"more fragments", [](Tcp&, Tcp& b) { b.ip.frag = 0x6000; }},
        {"fragment offset", [](Tcp&, Tcp& b) { b.ip.frag = 0x4001; }},
        {"pure ACK", [](Tcp&, Tcp& b) { b.payload.clear(); }},
        {"different destination port", [](Tcp&, Tcp& b) { b.dport = 444; }},
        {"no ACK", [](Tcp&, Tcp& b) { b.flags = PSH; }},
        {"AE bit", [](Tcp&, Tcp& b) { b.reserved = 1; }},
        {"PSH on the first closes its group", [](Tcp& a, Tcp&) { a.flags |= PSH; }},
        {"second larger than the first",
         [](Tcp& a, Tcp& b) {
             a = flow_seg(0, 1000);
             b.seq = a.seq + 1000;
         }},
    };
    for (const auto& [name, edit] : cases) {
        DYNAMIC_SECTION(name) {
            Tcp a = flow_seg(0), b = flow_seg(1);
            edit(a, b);
            expect_no_merge({tcp_packet(a), tcp_packet(b)});
        }
    }
    for (std::uint8_t f : {SYN, FIN, RST, URG, ECE, CWR}) {
        for (int where : {1, 2, 3}) {
            DYNAMIC_SECTION("flag " << int{f}
                                    << (where == 1   ? " on the first"
                                        : where == 2 ? " on the second"
                                                     : " on both")) {
                Tcp a = flow_seg(0), b = flow_seg(1);
                if (where & 1) a.flags |= f;
                if (where & 2) b.flags |= f;
                expect_no_merge({tcp_packet(a), tcp_packet(b)});
            }
        }
    }
    for (std::size_t at : {11, 37}) {  // IPv4 header checksum, TCP checksum
        DYNAMIC_SECTION("bad checksum byte " << at << " in the second") {
            Bytes b = tcp_packet(flow_seg(1));
            b[at] ^= 1;
            expect_no_merge({tcp_packet(flow_seg(0)), b});
        }
    }
}

TEST_CASE("offload: Coalescer groups by sink and flow and keeps order", "[offload]") {
    Coalescer c(8);
    SECTION("same flow to two sinks: two groups") {
        const Bytes a0 = tcp_packet(flow_seg(0)), a1 = tcp_packet(flow_seg(1));
        REQUIRE(c.add(3, a0));
        REQUIRE(c.add(4, a1));
        auto out = drain(c);
        REQUIRE(out.size() == 2);
        CHECK((out[0].sink == 3 && out[0].packet == a0 && out[0].vnet == Bytes(10, 0)));
        CHECK((out[1].sink == 4 && out[1].packet == a1 && out[1].vnet == Bytes(10, 0)));
    }
    SECTION("a smaller segment merges and closes the group") {
        const Bytes a0 = tcp_packet(flow_seg(0)), a1 = tcp_packet(flow_seg(1, 1000));
        Tcp t2 = flow_seg(2);
        t2.seq -= 388;
        const Bytes a2 = tcp_packet(t2);
        for (const auto* p : {&a0, &a1, &a2}) REQUIRE(c.add(3, *p));
        CHECK(c.take_merged_segments() == 1);
        auto out = drain(c);
        REQUIRE(out.size() == 2);
        CHECK(decode_vnet(out[0].vnet) == VnetHeader{1, 1, 52, 1388, 20, 16});
        CHECK(segment(out[0].packet, decode_vnet(out[0].vnet)) == std::vector<Bytes>{a0, a1});
        CHECK((out[1].packet == a2 && out[1].vnet == Bytes(10, 0)));
    }
    SECTION("interleaved flows A1 B1 A2 B2") {
        const Bytes a1 = tcp_packet(flow_seg(0)), a2 = tcp_packet(flow_seg(1));
        const Bytes b1 = tcp_packet(flow_seg(0, 1388, 6000)),
                    b2 = tcp_packet(flow_seg(1, 1388, 6000));
        for (const auto* p : {&a1, &b1, &a2, &b2}) REQUIRE(c.add(3, *p));
        CHECK(c.take_merged_segments() == 2);
        auto out = drain(c);
        REQUIRE(out.size() == 2);
        CHECK(segment(out[0].packet, decode_vnet(out[0].vnet)) == std::vector<Bytes>{a1, a2});
        CHECK(segment(out[1].packet, decode_vnet(out[1].vnet)) == std::vector<Bytes>{b1, b2});
    }
    SECTION("A1 A2 FIN A3 keeps its order") {
        const Bytes a1 = tcp_packet(flow_seg(0)), a2 = tcp_packet(flow_seg(1));
        Tcp fin = flow_seg(2, 0);
        fin.flags = ACK | FIN;
        const Bytes f = tcp_packet(fin);
        const Bytes a3 = tcp_packet(flow_seg(2));
        for (const auto* p : {&a1, &a2, &f, &a3}) REQUIRE(c.add(3, *p));
        auto out = drain(c);
        REQUIRE(out.size() == 3);
        CHECK(segment(out[0].packet, decode_vnet(out[0].vnet)) == std::vector<Bytes>{a1, a2});
        CHECK((out[1].packet == f && out[1].vnet == Bytes(10, 0)));
        CHECK((out[2].packet == a3 && out[2].vnet == Bytes(10, 0)));
    }
    SECTION("a pure ACK between two segments keeps its place") {
        const Bytes a1 = tcp_packet(flow_seg(0)), a2 = tcp_packet(flow_seg(1));
        const Bytes ack = tcp_packet(flow_seg(1, 0));
        for (const auto* p : {&a1, &ack, &a2}) REQUIRE(c.add(3, *p));
        auto out = drain(c);
        REQUIRE(out.size() == 3);
        CHECK(out[0].packet == a1);
        CHECK(out[1].packet == ack);
        CHECK(out[2].packet == a2);
    }
}

// A TCP packet of the flow with IPv4 options (its ports further in) and a fragment between the
// same hosts (no ports at all) both close the flow's open group: nothing overtakes them.
TEST_CASE("offload: Coalescer keeps flow order around IPv4 options and fragments", "[offload]") {
    Coalescer c(8);
    const Bytes a1 = tcp_packet(flow_seg(0)), a2 = tcp_packet(flow_seg(1));
    Tcp t = flow_seg(1, 0);
    SECTION("IPv4 options") {
        t.ip.options = {0x94, 0x04, 0x00, 0x00};  // router alert
    }
    SECTION("a non-first fragment") {
        t.ip.frag = 0x0010;
        t.sport = 0x1111;  // a fragment holds payload where the ports would be
    }
    const Bytes middle = tcp_packet(t);
    for (const auto* p : {&a1, &middle, &a2}) REQUIRE(c.add(3, *p));
    auto out = drain(c);
    REQUIRE(out.size() == 3);
    CHECK(out[0].packet == a1);
    CHECK(out[1].packet == middle);
    CHECK(out[2].packet == a2);
}

TEST_CASE("offload: Coalescer stays within 64 kB per packet", "[offload]") {
    std::vector<Bytes> in;
    for (std::size_t i = 0; i < 50; ++i) in.push_back(tcp_packet(flow_seg(i)));
    Coalescer c(4);
    for (const auto& p : in) REQUIRE(c.add(5, p));
    CHECK(c.take_merged_segments() == 48);
    auto out = drain(c);
    REQUIRE(out.size() == 2);
    CHECK(out[0].packet.size() == 52 + 47 * 1388);  // 65288; one more would pass 65535
    CHECK(be16(out[0].packet, 2) == 52 + 47 * 1388);
    CHECK(out[1].packet.size() == 52 + 3 * 1388);
    std::vector<Bytes> back = segment(out[0].packet, decode_vnet(out[0].vnet));
    for (const auto& s : segment(out[1].packet, decode_vnet(out[1].vnet))) back.push_back(s);
    CHECK(back == in);
}

TEST_CASE("offload: Coalescer slots, counters and non-TCP packets", "[offload]") {
    const Bytes udp = udp_packet(pattern(100, 8)), icmp = icmp_echo(pattern(56, 9));
    const Bytes a1 = tcp_packet(flow_seg(0)), a2 = tcp_packet(flow_seg(1)),
                a3 = tcp_packet(flow_seg(2));
    Coalescer c(2);
    CHECK(c.empty());
    REQUIRE(c.add(7, udp));
    REQUIRE(c.add(7, a1));
    CHECK(c.add(7, a2));  // joins the open group: no new slot needed
    CHECK_FALSE(c.add(7, icmp));
    CHECK(c.take_merged_segments() == 1);
    CHECK(c.take_merged_segments() == 0);  // reset by the call above
    auto out = drain(c);
    REQUIRE(out.size() == 2);
    CHECK((out[0].sink == 7 && out[0].packet == udp && out[0].vnet == Bytes(10, 0)));
    CHECK(segment(out[1].packet, decode_vnet(out[1].vnet)) == std::vector<Bytes>{a1, a2});
    REQUIRE(c.add(7, udp));
    REQUIRE(c.add(7, udp));  // identical UDP datagrams are not merged
    CHECK_FALSE(c.add(7, a3));
    out = drain(c);
    REQUIRE(out.size() == 2);
    for (const auto& o : out) CHECK((o.packet == udp && o.vnet == Bytes(10, 0)));
    REQUIRE(c.add(7, a3));
    REQUIRE(c.add(7, icmp));
    out = drain(c);
    REQUIRE(out.size() == 2);
    CHECK((out[0].packet == a3 && out[0].vnet == Bytes(10, 0)));  // one segment: as it came
    CHECK((out[1].packet == icmp && out[1].vnet == Bytes(10, 0)));
    CHECK(c.take_merged_segments() == 0);
}
