// Writes what our codecs put on the wire into pcap files, so an independent dissector
// (tshark) can judge them: tests/thirdparty/tshark_wire.sh reads them back.
//   wire_samples DIR   -> DIR/ike.pcap, DIR/bgp.pcap, DIR/esp.pcap, DIR/esp_keys.txt
// IKE: an IKE_SA_INIT request (SA with two proposals, KE, Nonce, NAT detection notifies,
// fragmentation support). BGP: OPEN with capabilities, an UPDATE with IPv4 NLRI and an IPv6
// MP_REACH_NLRI, KEEPALIVE, a NOTIFICATION with an RFC 9003 shutdown message. ESP: an inner
// ICMP echo encapsulated by our EspSa with AES-GCM-16-256 (keys written for tshark's esp_sa).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cgwd/bgp/message.hpp"
#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/update.hpp"
#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/ipv4.hpp"
#include "cgwd/ike/message.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put32le(std::ofstream& f, std::uint32_t v) {
    char c[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                 static_cast<char>(v >> 24)};
    f.write(c, 4);
}

// IPv4 header + payload for protocol `proto` from 192.0.2.1 to 192.0.2.2.
Bytes ip_packet(std::uint8_t proto, const Bytes& payload, std::uint32_t src = 0xc0000201,
           std::uint32_t dst = 0xc0000202) {
    Bytes p;
    p.push_back(0x45);
    p.push_back(0);
    put16(p, static_cast<std::uint16_t>(20 + payload.size()));
    put16(p, 1);
    put16(p, 0x4000);
    p.push_back(64);
    p.push_back(proto);
    put16(p, 0);
    put32(p, src);
    put32(p, dst);
    auto c = cgwd::dataplane::ipv4::internet_checksum(std::span(p.data(), 20));
    p[10] = static_cast<std::uint8_t>(c >> 8);
    p[11] = static_cast<std::uint8_t>(c);
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

Bytes udp(std::uint16_t sport, std::uint16_t dport, const Bytes& data) {
    Bytes u;
    put16(u, sport);
    put16(u, dport);
    put16(u, static_cast<std::uint16_t>(8 + data.size()));
    put16(u, 0);  // no checksum (allowed for IPv4)
    u.insert(u.end(), data.begin(), data.end());
    return ip_packet(17, u);
}

// One TCP segment carrying `data` (PSH|ACK), sequence numbers advancing per call.
Bytes tcp(const Bytes& data, std::uint32_t& seq) {
    Bytes t;
    put16(t, 40179);
    put16(t, 179);
    put32(t, seq);
    put32(t, 1);
    t.push_back(0x50);
    t.push_back(0x18);
    put16(t, 65535);
    put16(t, 0);
    put16(t, 0);
    t.insert(t.end(), data.begin(), data.end());
    seq += static_cast<std::uint32_t>(data.size());
    // Checksum over the pseudo-header.
    Bytes pseudo;
    put32(pseudo, 0xc0000201);
    put32(pseudo, 0xc0000202);
    put16(pseudo, 6);
    put16(pseudo, static_cast<std::uint16_t>(t.size()));
    pseudo.insert(pseudo.end(), t.begin(), t.end());
    auto c = cgwd::dataplane::ipv4::internet_checksum(pseudo);
    t[16] = static_cast<std::uint8_t>(c >> 8);
    t[17] = static_cast<std::uint8_t>(c);
    return ip_packet(6, t);
}

void write_pcap(const std::string& path, const std::vector<Bytes>& packets) {
    std::ofstream f(path, std::ios::binary);
    put32le(f, 0xa1b2c3d4);
    put32le(f, 0x00040002);  // version 2.4
    put32le(f, 0);
    put32le(f, 0);
    put32le(f, 65535);
    put32le(f, 228);  // LINKTYPE_IPV4
    std::uint32_t t = 1700000000;
    for (const auto& p : packets) {
        put32le(f, t++);
        put32le(f, 0);
        put32le(f, static_cast<std::uint32_t>(p.size()));
        put32le(f, static_cast<std::uint32_t>(p.size()));
        f.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
    }
}

Bytes counting(std::size_t n, std::uint8_t start) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
    return b;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "wire_samples: %s\n", what);
    std::exit(1);
}

Bytes ike_sa_init() {
    using namespace cgwd::ike;
    Message m;
    m.header = Header{0x1122334455667788, 0, ExchangeType::ike_sa_init, true, false, false, 0};
    SaPayload sa;
    Proposal cbc{1, ProtocolId::ike, {}, {}};
    cbc.transforms.push_back(Transform::make(TransformType::encr, 12, 256));
    cbc.transforms.push_back(Transform::make(TransformType::prf, 5));
    cbc.transforms.push_back(Transform::make(TransformType::integ, 12));
    cbc.transforms.push_back(Transform::make(TransformType::dh, 14));
    Proposal gcm{2, ProtocolId::ike, {}, {}};
    gcm.transforms.push_back(Transform::make(TransformType::encr, 20, 256));
    gcm.transforms.push_back(Transform::make(TransformType::prf, 6));
    gcm.transforms.push_back(Transform::make(TransformType::dh, 20));
    sa.proposals = {cbc, gcm};
    m.payloads.push_back(Payload{PayloadType::sa, false, sa});
    m.payloads.push_back(Payload{PayloadType::ke, false, KePayload{14, counting(256, 1)}});
    m.payloads.push_back(Payload{PayloadType::nonce, false, NoncePayload{counting(32, 0x40)}});
    NotifyPayload src;
    src.type = NotifyType::nat_detection_source_ip;
    src.data = counting(20, 0x80);
    NotifyPayload dst = src;
    dst.type = NotifyType::nat_detection_destination_ip;
    dst.data = counting(20, 0xa0);
    NotifyPayload frag;
    frag.type = NotifyType::ikev2_fragmentation_supported;
    m.payloads.push_back(Payload{PayloadType::notify, false, src});
    m.payloads.push_back(Payload{PayloadType::notify, false, dst});
    m.payloads.push_back(Payload{PayloadType::notify, false, frag});
    auto bytes = encode_message(m);
    if (!bytes) die("IKE encode failed");
    return *bytes;
}

std::vector<Bytes> bgp_messages() {
    using namespace cgwd::bgp;
    Open open;
    open.local_as = 4200000001;
    open.hold_time = 30;
    open.bgp_identifier = 0xa9fe0b02;
    open.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    open.capabilities.route_refresh = true;
    open.capabilities.four_octet_as = 4200000001;
    open.capabilities.graceful_restart = GracefulRestart{false, false, 120, {{kIpv4Unicast, true}}};
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path =
        AsPath{AsPathSegment{AsPathSegment::Type::Sequence, {4200000001, 64512}}};
    u.attributes.next_hop = 0xa9fe0b02;
    u.attributes.med = 100;
    u.attributes.communities = {(7224u << 16) | 7300u};
    u.attributes.large_communities = {LargeCommunity{4200000001, 1, 2}};
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
    MpReach mp;
    mp.af = kIpv6Unicast;
    mp.next_hop = Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    mp.nlri = {Prefix::v6(v6, 48)};
    u.attributes.mp_reach = mp;
    u.nlri = {Prefix::v4(0x0a0a0000, 16), Prefix::v4(0x0a140000, 16)};
    auto update = encode_update(u, UpdateContext{});
    if (!update) die("BGP UPDATE encode failed");
    return {encode_open(open), *update, encode_keepalive(),
            encode_notification(
                make_shutdown_notification(2, "maintenance: moving to the new router"))};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) die("usage: wire_samples DIR");
    std::string dir = argv[1];

    write_pcap(dir + "/ike.pcap", {udp(500, 500, ike_sa_init())});

    std::vector<Bytes> stream;
    std::uint32_t seq = 1000;
    for (const auto& m : bgp_messages()) stream.push_back(tcp(m, seq));
    write_pcap(dir + "/bgp.pcap", stream);

    using namespace cgwd::dataplane;
    SaConfig sa;
    sa.direction = Direction::outbound;
    sa.spi = 0xc0ffee01;
    sa.src = cgwd::config::Ipv4Address{0xc0000201};
    sa.dst = cgwd::config::Ipv4Address{0xc0000202};
    sa.cipher = cgwd::config::Cipher{cgwd::config::encr::aes_gcm_16, 256};
    Bytes key = counting(36, 0x11);  // 32-byte key + 4-byte salt
    sa.enc_key = KeyBytes(key);
    auto esp = EspSa::create(sa);
    if (!esp) die("EspSa::create failed");
    Bytes icmp{8, 0, 0, 0, 0x12, 0x34, 0, 1};
    for (int i = 0; i < 32; ++i) icmp.push_back(static_cast<std::uint8_t>('a' + i % 26));
    auto c = cgwd::dataplane::ipv4::internet_checksum(icmp);
    icmp[2] = static_cast<std::uint8_t>(c >> 8);
    icmp[3] = static_cast<std::uint8_t>(c);
    Bytes inner = ip_packet(1, icmp, 0x0a0a0001, 0x0a000001);
    std::vector<Bytes> esp_packets;
    for (int n = 0; n < 3; ++n) {
        Bytes out(esp->encapsulated_size(inner.size()));
        auto len = esp->encapsulate(inner, out);
        if (!len) die("encapsulate failed");
        out.resize(*len);
        esp_packets.push_back(ip_packet(50, out));
    }
    write_pcap(dir + "/esp.pcap", esp_packets);
    std::ofstream keys(dir + "/esp_keys.txt");
    for (auto b : key) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", b);
        keys << h;
    }
    keys << "\n";
    return 0;
}
