#include "cgwd/dataplane/ipv4.hpp"

#include <algorithm>
#include <cstring>

namespace cgwd::dataplane::ipv4 {

namespace {

constexpr std::uint16_t flag_df = 0x4000;
constexpr std::uint16_t flag_mf = 0x2000;
constexpr std::uint8_t protocol_tcp = 6;
constexpr std::uint8_t tcp_syn = 0x02;
constexpr std::uint8_t tcp_option_eol = 0;
constexpr std::uint8_t tcp_option_nop = 1;
constexpr std::uint8_t tcp_option_mss = 2;
constexpr std::size_t min_mtu = 68;  // RFC 791: every module must forward 68 octets

std::uint16_t load16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
std::uint16_t swap16(std::uint16_t v) {
    return static_cast<std::uint16_t>(v << 8 | v >> 8);
}

}  // namespace

void set_header_checksum(std::span<std::uint8_t> header) {
    store16(header.data() + 10, 0);
    store16(header.data() + 10, internet_checksum(header));
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> data) {
    std::uint32_t sum = 0;
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += load16(data.data() + i);
    if (i < data.size()) sum += static_cast<std::uint32_t>(data[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::uint16_t checksum_adjust(std::uint16_t checksum, std::uint16_t old_word,
                              std::uint16_t new_word) {
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
    sum += static_cast<std::uint16_t>(~old_word);
    sum += new_word;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::expected<Header, Ipv4Error> parse(std::span<const std::uint8_t> packet) {
    if (packet.size() < 20) return std::unexpected(Ipv4Error::truncated);
    const std::uint8_t* p = packet.data();
    if ((p[0] >> 4) != 4) return std::unexpected(Ipv4Error::malformed);
    Header h;
    h.header_length = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    h.total_length = load16(p + 2);
    if (h.header_length < 20 || h.total_length < h.header_length)
        return std::unexpected(Ipv4Error::malformed);
    if (h.total_length > packet.size()) return std::unexpected(Ipv4Error::truncated);
    const std::uint16_t frag = load16(p + 6);
    h.dont_fragment = (frag & flag_df) != 0;
    h.more_fragments = (frag & flag_mf) != 0;
    h.fragment_offset = frag & 0x1fff;
    h.protocol = p[9];
    return h;
}

std::expected<bool, Ipv4Error> clear_df(std::span<std::uint8_t> packet) {
    auto h = parse(packet);
    if (!h) return std::unexpected(h.error());
    if (!h->dont_fragment) return false;
    std::uint8_t* p = packet.data();
    const std::uint16_t old_word = load16(p + 6);
    const auto new_word = static_cast<std::uint16_t>(old_word & ~flag_df);
    store16(p + 6, new_word);
    store16(p + 10, checksum_adjust(load16(p + 10), old_word, new_word));
    return true;
}

std::expected<bool, Ipv4Error> clamp_mss(std::span<std::uint8_t> packet, std::uint16_t max_mss) {
    auto h = parse(packet);
    if (!h) return std::unexpected(h.error());
    if (h->protocol != protocol_tcp || h->fragment_offset != 0) return false;
    std::uint8_t* tcp = packet.data() + h->header_length;
    const std::size_t tcp_available = h->total_length - h->header_length;
    if (tcp_available < 20) {
        if (h->more_fragments) return false;  // first fragment too short to hold the header
        return std::unexpected(Ipv4Error::truncated);
    }
    if (!(tcp[13] & tcp_syn)) return false;
    const std::size_t tcp_header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    if (tcp_header < 20) return std::unexpected(Ipv4Error::malformed);
    if (tcp_header > tcp_available) return std::unexpected(Ipv4Error::truncated);

    // TCP options (RFC 9293 section 3.2): EOL, NOP, or kind | length | value.
    std::size_t i = 20;
    while (i < tcp_header) {
        const std::uint8_t kind = tcp[i];
        if (kind == tcp_option_eol) break;
        if (kind == tcp_option_nop) {
            ++i;
            continue;
        }
        if (i + 1 >= tcp_header) return std::unexpected(Ipv4Error::malformed);
        const std::size_t length = tcp[i + 1];
        if (length < 2 || i + length > tcp_header) return std::unexpected(Ipv4Error::malformed);
        if (kind == tcp_option_mss) {
            if (length != 4) return std::unexpected(Ipv4Error::malformed);
            const std::uint16_t mss = load16(tcp + i + 2);
            if (mss <= max_mss) return false;
            store16(tcp + i + 2, max_mss);
            // The checksum sums 16-bit words from the TCP header start; a field at an odd
            // offset contributes its bytes swapped.
            const bool odd = ((i + 2) % 2) != 0;
            const std::uint16_t old_word = odd ? swap16(mss) : mss;
            const std::uint16_t new_word = odd ? swap16(max_mss) : max_mss;
            store16(tcp + 16, checksum_adjust(load16(tcp + 16), old_word, new_word));
            return true;
        }
        i += length;
    }
    return false;
}

std::expected<Fragmenter, Ipv4Error> Fragmenter::create(std::span<const std::uint8_t> packet,
                                                        std::uint16_t mtu, bool clear_df) {
    auto h = parse(packet);
    if (!h) return std::unexpected(h.error());
    Fragmenter f;
    f.packet_ = packet.first(h->total_length);
    f.header_ = *h;
    f.mtu_ = mtu;
    f.clear_df_ = clear_df;
    f.payload_length_ = h->total_length - h->header_length;
    if (h->total_length <= mtu) return f;  // one piece, unchanged
    if (h->dont_fragment && !clear_df) return std::unexpected(Ipv4Error::needs_fragmentation);
    if (mtu < min_mtu || mtu < h->header_length + 8)
        return std::unexpected(Ipv4Error::mtu_too_small);

    // Options with the copied flag go into every fragment (RFC 791 section 3.1, "Options").
    const std::uint8_t* opt = packet.data() + 20;
    const std::size_t opt_len = h->header_length - 20;
    std::size_t i = 0;
    while (i < opt_len) {
        const std::uint8_t type = opt[i];
        if (type == 0) break;  // End of Option List
        if (type == 1) {       // No Operation (not copied)
            ++i;
            continue;
        }
        if (i + 1 >= opt_len) return std::unexpected(Ipv4Error::malformed);
        const std::size_t len = opt[i + 1];
        if (len < 2 || i + len > opt_len) return std::unexpected(Ipv4Error::malformed);
        if (type & 0x80) {
            std::memcpy(f.copied_options_.data() + f.copied_length_, opt + i, len);
            f.copied_length_ += len;
        }
        i += len;
    }
    while (f.copied_length_ % 4 != 0) f.copied_options_[f.copied_length_++] = 0;  // EOL padding
    return f;
}

std::size_t Fragmenter::fragment_count() const {
    if (header_.total_length <= mtu_) return 1;
    const std::size_t first = (mtu_ - header_.header_length) / 8 * 8;
    if (payload_length_ <= first) return 1;
    const std::size_t rest = (mtu_ - 20 - copied_length_) / 8 * 8;
    return 1 + (payload_length_ - first + rest - 1) / rest;
}

std::expected<std::size_t, Ipv4Error> Fragmenter::next(std::span<std::uint8_t> out) {
    if (done()) return std::unexpected(Ipv4Error::malformed);
    const std::uint8_t* src = packet_.data();
    if (header_.total_length <= mtu_) {
        if (out.size() < header_.total_length) return std::unexpected(Ipv4Error::buffer_too_small);
        std::memcpy(out.data(), src, header_.total_length);
        started_ = true;
        pos_ = payload_length_;
        return header_.total_length;
    }
    const bool first = !started_;
    const std::size_t hlen = first ? header_.header_length : 20 + copied_length_;
    const std::size_t room = (mtu_ - hlen) / 8 * 8;
    const std::size_t data_len = std::min(room, payload_length_ - pos_);
    const bool last = pos_ + data_len == payload_length_;
    const std::size_t total = hlen + data_len;
    if (out.size() < total) return std::unexpected(Ipv4Error::buffer_too_small);

    std::uint8_t* dst = out.data();
    if (first) {
        std::memcpy(dst, src, hlen);
    } else {
        std::memcpy(dst, src, 20);
        std::memcpy(dst + 20, copied_options_.data(), copied_length_);
        dst[0] = static_cast<std::uint8_t>(0x40 | (hlen / 4));
    }
    std::memcpy(dst + hlen, src + header_.header_length + pos_, data_len);
    store16(dst + 2, static_cast<std::uint16_t>(total));
    std::uint16_t frag = load16(src + 6) & flag_df;
    if (clear_df_) frag = 0;
    if (!last || header_.more_fragments) frag |= flag_mf;
    frag |= static_cast<std::uint16_t>(header_.fragment_offset + pos_ / 8);
    store16(dst + 6, frag);
    set_header_checksum({dst, hlen});

    pos_ += data_len;
    started_ = true;
    return total;
}

}  // namespace cgwd::dataplane::ipv4
