// Fuzz target: the userspace dataplane's segmentation offloads (dataplane/offload.hpp), where
// the bytes come from the kernel (TSO packets read from a TUN device) and from the peer (inner
// packets after decapsulation, which the Coalescer merges).
//
// Input: byte 0 sets a segment size for TcpSegmenter (1 + 8 * byte). Then records, each one byte
// sink (its low two bits: four TUN devices), a 2-byte big-endian length and that many bytes (the
// last record takes what is left).
// Checks, per packet, that TcpSegmenter (when it accepts the packet as a TSO packet) makes
// segments no larger than it said, each with valid IPv4 and TCP checksums, whose payloads put
// back together are the original payload. Then all packets go through a Coalescer of four slots
// (flushed when full, as the dataplane does), and what it writes out must be exactly what went
// in: a packet with a zero virtio-net header is an input unchanged; a GSO packet has a sane
// header, a partial checksum that completes to a valid one, and re-segments (TcpSegmenter) into
// inputs; per sink and TCP 4-tuple the order is the input order; and the outputs, expanded, are
// the inputs (as a multiset). Re-segmentation sets the IPv4 identification and recomputes the
// checksums, so those fields are compared masked for TCP/IPv4 packets without options.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "cgwd/dataplane/ipv4.hpp"
#include "cgwd/dataplane/offload.hpp"
#include "fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd::dataplane;
using Bytes = std::vector<std::uint8_t>;

struct Packet {
    int sink = 0;
    Bytes bytes;
};

bool plain_tcp(const Bytes& p) {
    return p.size() >= 40 && p[0] == 0x45 && p[9] == 6;
}

// The fields re-segmentation may change, zeroed: identification, header checksum, TCP checksum.
Bytes masked(Bytes p) {
    if (plain_tcp(p)) {
        p[4] = p[5] = p[10] = p[11] = 0;
        p[36] = p[37] = 0;
    }
    return p;
}

// Sink and TCP 4-tuple of a plain TCP packet that is not a fragment; empty otherwise.
std::vector<std::uint8_t> flow_of(const Packet& p) {
    if (!plain_tcp(p.bytes) || (((p.bytes[6] << 8) | p.bytes[7]) & 0x3fff) != 0) return {};
    std::vector<std::uint8_t> key{static_cast<std::uint8_t>(p.sink)};
    key.insert(key.end(), p.bytes.begin() + 12, p.bytes.begin() + 24);
    return key;
}

std::vector<Bytes> segment_all(const Bytes& packet, const offload::VnetHeader& header) {
    auto s = offload::TcpSegmenter::create(packet, header);
    if (!s) return {};
    std::vector<Bytes> out;
    Bytes buffer(s->max_segment_size());
    while (!s->done()) {
        auto n = s->next(buffer);
        if (!n || *n > s->max_segment_size()) __builtin_trap();
        out.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    if (out.size() != s->segment_count()) __builtin_trap();
    return out;
}

void check_segmenter(const Bytes& packet, std::uint16_t gso_size) {
    offload::VnetHeader h;
    h.gso_type = offload::gso_tcpv4;
    h.gso_size = gso_size;
    auto s = offload::TcpSegmenter::create(packet, h);
    if (!s) return;
    const std::size_t ihl = std::size_t{packet[0] & 0x0fu} * 4;
    const std::size_t total = (std::size_t{packet[2]} << 8) | packet[3];
    const std::size_t headers = ihl + std::size_t{packet[ihl + 12]} / 16 * 4;
    Bytes payload;
    for (const Bytes& seg : segment_all(packet, h)) {
        if (ipv4::internet_checksum(std::span(seg).first(ihl)) != 0) __builtin_trap();
        if (!offload::tcp_checksum_valid(seg)) __builtin_trap();
        if (seg.size() < headers || seg.size() - headers > gso_size) __builtin_trap();
        payload.insert(payload.end(), seg.begin() + static_cast<std::ptrdiff_t>(headers),
                       seg.end());
    }
    if (!std::equal(payload.begin(), payload.end(),
                    packet.begin() + static_cast<std::ptrdiff_t>(headers),
                    packet.begin() + static_cast<std::ptrdiff_t>(total)))
        __builtin_trap();
}

}  // namespace

int cgwd::fuzz::fuzz_offload(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto gso_size = static_cast<std::uint16_t>(1 + 8 * data[0]);
    std::vector<Packet> in;
    std::size_t off = 1;
    while (off < size && in.size() < 64) {
        const int sink = data[off++] & 3;
        const auto record = next_record(data, size, off);
        in.push_back({sink, Bytes(record.begin(), record.end())});
    }

    for (const Packet& p : in) check_segmenter(p.bytes, gso_size);

    offload::Coalescer coalescer(4);
    std::vector<Packet> out;  // expanded: one entry per segment written
    auto collect = [&](int sink, std::span<const std::uint8_t> bytes) {
        if (bytes.size() < offload::vnet_header_size) __builtin_trap();
        const offload::VnetHeader h = offload::decode_vnet(bytes);
        Bytes packet(bytes.begin() + offload::vnet_header_size, bytes.end());
        if (h == offload::VnetHeader{}) {
            out.push_back({sink, std::move(packet)});
            return;
        }
        if (h.gso_type != offload::gso_tcpv4 || h.flags != offload::vnet_flag_needs_csum ||
            h.csum_start != 20 || h.csum_offset != 16 || h.gso_size == 0 || packet.size() > 65535 ||
            !plain_tcp(packet) || h.header_length != 20 + std::size_t{packet[32]} / 16 * 4)
            __builtin_trap();
        Bytes completed = packet;
        if (!offload::complete_checksum(completed, h.csum_start, h.csum_offset) ||
            !offload::tcp_checksum_valid(completed))
            __builtin_trap();
        const std::vector<Bytes> segments = segment_all(packet, h);
        if (segments.size() < 2) __builtin_trap();
        for (const Bytes& s : segments) out.push_back({sink, s});
    };
    std::vector<Packet> accepted;
    for (const Packet& p : in) {
        if (p.bytes.size() > 65535) continue;  // cannot come from a TUN read
        if (!coalescer.add(p.sink, p.bytes)) {
            coalescer.flush(collect);
            if (!coalescer.add(p.sink, p.bytes)) __builtin_trap();
        }
        accepted.push_back(p);
    }
    coalescer.flush(collect);
    if (!coalescer.empty()) __builtin_trap();

    // The same packets came out, per flow in the same order.
    if (out.size() != accepted.size()) __builtin_trap();
    std::map<std::vector<std::uint8_t>, std::vector<Bytes>> flows_in, flows_out;
    std::vector<std::tuple<int, Bytes>> all_in, all_out;
    for (const Packet& p : accepted) {
        if (auto key = flow_of(p); !key.empty()) flows_in[key].push_back(masked(p.bytes));
        all_in.emplace_back(p.sink, masked(p.bytes));
    }
    for (const Packet& p : out) {
        if (auto key = flow_of(p); !key.empty()) flows_out[key].push_back(masked(p.bytes));
        all_out.emplace_back(p.sink, masked(p.bytes));
    }
    if (flows_in != flows_out) __builtin_trap();
    std::sort(all_in.begin(), all_in.end());
    std::sort(all_out.begin(), all_out.end());
    if (all_in != all_out) __builtin_trap();
    return 0;
}
