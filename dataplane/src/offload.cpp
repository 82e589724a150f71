#include "cgwd/dataplane/offload.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "cgwd/dataplane/ipv4.hpp"

namespace cgwd::dataplane::offload {

static_assert(std::endian::native == std::endian::little,
              "the virtio-net header and the checksum loop assume a little-endian host");

namespace {

constexpr std::uint8_t protocol_tcp = 6;
constexpr std::size_t ipv4_min_header = 20;
constexpr std::size_t tcp_min_header = 20;
constexpr std::size_t max_ip_packet = 65535;
// TCP flags (RFC 793, RFC 3168).
constexpr std::uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_psh = 0x08,
                       tcp_ack = 0x10, tcp_urg = 0x20, tcp_ece = 0x40, tcp_cwr = 0x80;

std::uint16_t load16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
std::uint32_t load32(const std::uint8_t* p) {
    return std::uint32_t{load16(p)} << 16 | load16(p + 2);
}
void store32(std::uint8_t* p, std::uint32_t v) {
    store16(p, static_cast<std::uint16_t>(v >> 16));
    store16(p + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t load16le(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
void store16le(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}

// The IPv4 + TCP header lengths of a packet that is IPv4/TCP with consistent lengths, else 0.
struct TcpHeaders {
    std::size_t ip = 0;
    std::size_t total = 0;   // IPv4 + TCP headers
    std::size_t length = 0;  // IPv4 total length
};
std::expected<TcpHeaders, OffloadError> tcp_headers(std::span<const std::uint8_t> packet) {
    if (packet.size() < ipv4_min_header || (packet[0] >> 4) != 4)
        return std::unexpected(OffloadError::malformed);
    const std::size_t ihl = std::size_t{packet[0] & 0x0fu} * 4;
    const std::size_t length = load16(packet.data() + 2);
    if (ihl < ipv4_min_header || length < ihl + tcp_min_header || length > packet.size() ||
        packet[9] != protocol_tcp)
        return std::unexpected(OffloadError::malformed);
    const std::size_t tcp = std::size_t{packet[ihl + 12]} / 16 * 4;
    if (tcp < tcp_min_header || ihl + tcp > length) return std::unexpected(OffloadError::malformed);
    return TcpHeaders{ihl, ihl + tcp, length};
}

std::uint64_t tcp_pseudo(std::span<const std::uint8_t> packet, std::size_t tcp_length) {
    return pseudo_header_sum(load32(packet.data() + 12), load32(packet.data() + 16), protocol_tcp,
                             static_cast<std::uint16_t>(tcp_length));
}

}  // namespace

VnetHeader decode_vnet(std::span<const std::uint8_t> in) {
    return VnetHeader{in[0],
                      in[1],
                      load16le(in.data() + 2),
                      load16le(in.data() + 4),
                      load16le(in.data() + 6),
                      load16le(in.data() + 8)};
}

void encode_vnet(const VnetHeader& h, std::span<std::uint8_t> out) {
    out[0] = h.flags;
    out[1] = h.gso_type;
    store16le(out.data() + 2, h.header_length);
    store16le(out.data() + 4, h.gso_size);
    store16le(out.data() + 6, h.csum_start);
    store16le(out.data() + 8, h.csum_offset);
}

std::uint64_t checksum_add(std::span<const std::uint8_t> data, std::uint64_t sum) {
    // Sum little-endian 64-bit words with end-around carry; the one's complement sum is
    // independent of byte order up to a final swap (RFC 1071 section 2 (B)).
    std::uint64_t acc = 0;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    auto add = [&acc](std::uint64_t v) {
        acc += v;
        acc += (acc < v) ? 1 : 0;
    };
    for (; n >= 32; p += 32, n -= 32) {
        std::uint64_t w[4];
        std::memcpy(w, p, sizeof w);
        add(w[0]);
        add(w[1]);
        add(w[2]);
        add(w[3]);
    }
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, sizeof w);
        add(w);
    }
    if (n > 0) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, n);
        add(w);
    }
    const std::uint16_t folded = checksum_fold((acc & 0xffffffffu) + (acc >> 32));
    return sum + std::byteswap(folded);
}

std::uint16_t checksum_fold(std::uint64_t sum) {
    while ((sum >> 16) != 0) sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

std::uint64_t pseudo_header_sum(std::uint32_t source, std::uint32_t destination,
                                std::uint8_t protocol, std::uint16_t length) {
    return std::uint64_t{source >> 16} + (source & 0xffffu) + (destination >> 16) +
           (destination & 0xffffu) + protocol + length;
}

std::expected<void, OffloadError> complete_checksum(std::span<std::uint8_t> packet,
                                                    std::uint16_t csum_start,
                                                    std::uint16_t csum_offset) {
    if (std::size_t{csum_start} + csum_offset + 2 > packet.size() || (csum_start & 1) != 0)
        return std::unexpected(OffloadError::malformed);
    std::uint16_t c =
        static_cast<std::uint16_t>(~checksum_fold(checksum_add(packet.subspan(csum_start))));
    if (c == 0) c = 0xffff;
    store16(packet.data() + csum_start + csum_offset, c);
    return {};
}

bool tcp_checksum_valid(std::span<const std::uint8_t> packet) {
    auto h = tcp_headers(packet);
    if (!h) return false;
    const std::size_t tcp_length = h->length - h->ip;
    const std::uint64_t sum =
        checksum_add(packet.subspan(h->ip, tcp_length), tcp_pseudo(packet, tcp_length));
    return checksum_fold(sum) == 0xffff;
}

// ---- TcpSegmenter ----

std::expected<TcpSegmenter, OffloadError> TcpSegmenter::create(std::span<const std::uint8_t> packet,
                                                               const VnetHeader& header) {
    if ((header.gso_type & ~gso_ecn) != gso_tcpv4)
        return std::unexpected(OffloadError::unsupported);
    auto h = tcp_headers(packet);
    if (!h) return std::unexpected(h.error());
    if (header.gso_size == 0) return std::unexpected(OffloadError::malformed);
    TcpSegmenter s;
    s.packet_ = packet.first(h->length);
    s.ip_header_ = h->ip;
    s.headers_ = h->total;
    s.gso_size_ = header.gso_size;
    const std::size_t payload = h->length - h->total;
    s.count_ = std::max<std::size_t>(1, (payload + s.gso_size_ - 1) / s.gso_size_);
    return s;
}

std::expected<std::size_t, OffloadError> TcpSegmenter::next(std::span<std::uint8_t> out) {
    if (done()) return std::unexpected(OffloadError::malformed);
    const std::size_t payload = packet_.size() - headers_;
    const std::size_t offset = index_ * gso_size_;
    const std::size_t length = std::min(gso_size_, payload - std::min(payload, offset));
    const std::size_t total = headers_ + length;
    if (out.size() < total) return std::unexpected(OffloadError::buffer_too_small);
    std::uint8_t* p = out.data();
    std::memcpy(p, packet_.data(), headers_);
    std::memcpy(p + headers_, packet_.data() + headers_ + offset, length);

    store16(p + 2, static_cast<std::uint16_t>(total));
    store16(p + 4, static_cast<std::uint16_t>(load16(p + 4) + index_));
    ipv4::set_header_checksum({p, ip_header_});

    std::uint8_t* tcp = p + ip_header_;
    store32(tcp + 4, load32(tcp + 4) + static_cast<std::uint32_t>(offset));
    if (index_ + 1 < count_) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~(tcp_fin | tcp_psh));
    if (index_ > 0) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~tcp_cwr);
    store16(tcp + 16, 0);
    const std::size_t tcp_length = total - ip_header_;
    const std::uint64_t sum = checksum_add({tcp, tcp_length}, tcp_pseudo(out, tcp_length));
    store16(tcp + 16, static_cast<std::uint16_t>(~checksum_fold(sum)));
    ++index_;
    return total;
}

// ---- Coalescer ----

Coalescer::Coalescer(std::size_t slots)
    : storage_(new std::uint8_t[slots * slot_size]), groups_(slots) {}

namespace {

// A segment that may join or open a group: IPv4 without options, not a fragment, header and TCP
// checksums valid, ACK with at most PSH besides, some payload. Returns its header length.
std::size_t mergeable(std::span<const std::uint8_t> packet) {
    auto h = tcp_headers(packet);
    if (!h || h->ip != ipv4_min_header || h->length != packet.size()) return 0;
    if ((load16(packet.data() + 6) & 0x3fffu) != 0) return 0;  // MF or a fragment offset
    const std::uint8_t flags = packet[h->ip + 13];
    if ((flags & tcp_ack) == 0 ||
        (flags & (tcp_fin | tcp_syn | tcp_rst | tcp_urg | tcp_ece | tcp_cwr)) != 0)
        return 0;
    if (h->length == h->total) return 0;  // no payload: a pure ACK
    if (ipv4::internet_checksum(packet.first(h->ip)) != 0) return 0;
    if (!tcp_checksum_valid(packet)) return 0;
    return h->total;
}

// What a merged segment must share with the group's first: TOS, the IPv4 flags (DF and the
// reserved bit), TTL; ACK number, data offset, flags but PSH, window, urgent pointer and the
// options.
bool same_headers(const std::uint8_t* a, const std::uint8_t* b, std::size_t headers) {
    if (a[1] != b[1] || ((a[6] ^ b[6]) & 0xe0) != 0 || a[8] != b[8]) return false;
    const std::uint8_t* ta = a + ipv4_min_header;
    const std::uint8_t* tb = b + ipv4_min_header;
    if (std::memcmp(ta + 8, tb + 8, 5) != 0) return false;  // ACK number, data offset
    if (((ta[13] ^ tb[13]) & ~tcp_psh) != 0) return false;
    if (std::memcmp(ta + 14, tb + 14, 2) != 0 || std::memcmp(ta + 18, tb + 18, 2) != 0)
        return false;
    return std::memcmp(ta + tcp_min_header, tb + tcp_min_header,
                       headers - ipv4_min_header - tcp_min_header) == 0;
}

}  // namespace

bool Coalescer::try_merge(Group& g, std::span<const std::uint8_t> packet, std::size_t headers) {
    const std::uint8_t* first =
        slot(static_cast<std::size_t>(&g - groups_.data())) + vnet_header_size;
    const std::size_t payload = packet.size() - headers;
    const std::uint8_t* tcp = packet.data() + ipv4_min_header;
    if (headers != g.headers || payload > g.gso_size || load32(tcp + 4) != g.next_seq ||
        g.length + payload > max_ip_packet || !same_headers(first, packet.data(), headers))
        return false;
    std::memcpy(slot(static_cast<std::size_t>(&g - groups_.data())) + vnet_header_size + g.length,
                packet.data() + headers, payload);
    g.length += payload;
    g.next_seq += static_cast<std::uint32_t>(payload);
    ++g.segments;
    ++merged_;
    if ((tcp[13] & tcp_psh) != 0) {
        g.push = true;
        g.open = false;
    }
    if (payload < g.gso_size) g.open = false;
    return true;
}

bool Coalescer::add(int sink, std::span<const std::uint8_t> packet) {
    if (packet.size() > max_ip_packet) return true;  // cannot come from a TUN read; dropped
    const std::size_t headers = mergeable(packet);
    // A TCP packet of a flow that has an open group (at most one, the flow's newest): merged
    // into it, or else the group is closed so that nothing of the flow overtakes the packet. A
    // fragment has no ports to tell its flow: it closes every open group between its hosts.
    const std::size_t ihl = packet.empty() ? 0 : std::size_t{packet[0] & 0x0fu} * 4;
    if (packet.size() >= ipv4_min_header && (packet[0] >> 4) == 4 && ihl >= ipv4_min_header &&
        packet[9] == protocol_tcp) {
        const bool fragment = (load16(packet.data() + 6) & 0x3fffu) != 0;
        const bool ports = !fragment && packet.size() >= ihl + 4;
        for (std::size_t i = used_; i-- > 0;) {
            Group& g = groups_[i];
            const std::uint8_t* first = slot(i) + vnet_header_size;  // IPv4 without options
            if (!g.open || g.sink != sink || std::memcmp(first + 12, packet.data() + 12, 8) != 0 ||
                (ports && std::memcmp(first + ipv4_min_header, packet.data() + ihl, 4) != 0))
                continue;
            if (headers != 0 && try_merge(g, packet, headers)) return true;
            g.open = false;
            if (ports) break;
        }
    }
    if (used_ == groups_.size()) return false;
    Group& g = groups_[used_];
    if (!packet.empty())  // an empty span may have no data pointer at all
        std::memcpy(slot(used_) + vnet_header_size, packet.data(), packet.size());
    g = Group{};
    g.sink = sink;
    g.length = packet.size();
    g.segments = 1;
    if (headers != 0) {
        const std::uint8_t* tcp = packet.data() + ipv4_min_header;
        g.headers = headers;
        g.gso_size = packet.size() - headers;
        g.next_seq = load32(tcp + 4) + static_cast<std::uint32_t>(g.gso_size);
        g.push = (tcp[13] & tcp_psh) != 0;
        g.open = !g.push;
    }
    ++used_;
    return true;
}

std::span<const std::uint8_t> Coalescer::finish(Group& g) {
    const std::size_t index = static_cast<std::size_t>(&g - groups_.data());
    std::uint8_t* base = slot(index);
    std::uint8_t* ip = base + vnet_header_size;
    VnetHeader vh;
    if (g.segments > 1) {
        store16(ip + 2, static_cast<std::uint16_t>(g.length));
        ipv4::set_header_checksum({ip, ipv4_min_header});
        std::uint8_t* tcp = ip + ipv4_min_header;
        if (g.push) tcp[13] = static_cast<std::uint8_t>(tcp[13] | tcp_psh);
        // CHECKSUM_PARTIAL: the pseudo-header sum goes in the field; the kernel adds the rest.
        store16(tcp + 16, checksum_fold(pseudo_header_sum(
                              load32(ip + 12), load32(ip + 16), protocol_tcp,
                              static_cast<std::uint16_t>(g.length - ipv4_min_header))));
        vh.flags = vnet_flag_needs_csum;
        vh.gso_type = gso_tcpv4;
        vh.header_length = static_cast<std::uint16_t>(g.headers);
        vh.gso_size = static_cast<std::uint16_t>(g.gso_size);
        vh.csum_start = ipv4_min_header;
        vh.csum_offset = 16;
    }
    encode_vnet(vh, {base, vnet_header_size});
    return {base, vnet_header_size + g.length};
}

}  // namespace cgwd::dataplane::offload
