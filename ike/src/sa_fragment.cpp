// SK protection of IKE SA engine messages with IKE fragmentation (RFC 7383): sealing an inner
// payload chain into one SK datagram or into SKF fragments, opening SK messages and
// reassembling SKF fragments. See "IKE fragmentation" in sa.hpp.
//
// RFC 7383 section 2.5: each fragment is
//   IKE header (same SPIs, exchange, flags and Message ID, Length = this datagram),
//   SKF { Next Payload (fragment 1: the first inner payload, else 0), Fragment Number,
//         Total Fragments, IV, encrypted (chunk of the inner chain | padding | pad length), ICV }
// where the chunks in fragment order concatenate to the inner payload chain that one SK payload
// would have carried. The associated data / integrity-checked range of each fragment is its
// own IKE header and SKF header including the two fragment fields (section 2.5).
#include <algorithm>
#include <utility>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike {

namespace {

constexpr std::size_t ipv4_header = 20;
constexpr std::size_t udp_header = 8;
constexpr std::size_t non_esp_marker = 4;  // RFC 3948 section 2.2, on natt_port
constexpr std::size_t skf_header = 8;      // generic header + Fragment Number + Total Fragments

}  // namespace

// RFC 7383 section 2.5.1: the fragment size counts the whole IP datagram.
std::size_t IkeSa::fragment_budget() const {
    const bool natt = local_port_ == settings_.natt_port || rx_local_port_ == settings_.natt_port;
    const std::size_t overhead = ipv4_header + udp_header + (natt ? non_esp_marker : 0);
    return settings_.fragment_size > overhead ? settings_.fragment_size - overhead : 0;
}

std::uint16_t IkeSa::fragment_number(std::span<const std::uint8_t> datagram) {
    auto layout = encrypted_layout(datagram);
    if (!layout || layout->type != PayloadType::skf ||
        layout->body_offset < layout->payload_offset + skf_header) {
        return 0;
    }
    const std::size_t at = layout->payload_offset + generic_header_size;
    return static_cast<std::uint16_t>(datagram[at] << 8 | datagram[at + 1]);
}

std::optional<IkeSa::Datagrams> IkeSa::seal(Keys& keys, const Header& h,
                                            const std::vector<Payload>& inner) {
    Bytes plaintext;
    if (!inner.empty()) {
        auto p = encode_payloads(inner);
        if (!p) return std::nullopt;
        plaintext = std::move(*p);
    }
    const PayloadType first = inner.empty() ? PayloadType::none : inner.front().type;
    const std::size_t whole =
        header_size + generic_header_size + keys.out.sealed_size(plaintext.size());
    if (fragmentation_ && h.exchange != ExchangeType::ike_sa_init && !plaintext.empty() &&
        whole > fragment_budget()) {
        return seal_fragments(keys, h, first, plaintext);
    }
    Message m;
    m.header = h;
    m.payloads.push_back(Payload{PayloadType::sk, false,
                                 SkPayload{first, Bytes(keys.out.sealed_size(plaintext.size()))}});
    auto bytes = encode_message(m);
    if (!bytes) return std::nullopt;
    auto layout = encrypted_layout(*bytes);
    if (!layout) return std::nullopt;
    const std::span<const std::uint8_t> ad(bytes->data(), layout->body_offset);
    auto body = keys.out.seal(ad, plaintext, rng_);
    if (!body || body->size() != bytes->size() - layout->body_offset) return std::nullopt;
    std::copy(body->begin(), body->end(),
              bytes->begin() + static_cast<std::ptrdiff_t>(layout->body_offset));
    return Datagrams{std::move(*bytes)};
}

std::optional<IkeSa::Datagrams> IkeSa::seal_fragments(Keys& keys, const Header& h,
                                                      PayloadType first,
                                                      std::span<const std::uint8_t> plaintext) {
    // The largest chunk whose fragment fits the budget (all fragments but the last carry one).
    const std::size_t budget = fragment_budget();
    if (budget <= header_size + skf_header) return std::nullopt;
    const std::size_t room = budget - header_size - skf_header;
    std::size_t chunk = room;
    while (chunk > 0 && keys.out.sealed_size(chunk) > room) --chunk;
    if (chunk == 0) return std::nullopt;  // fragment_size too small for even one octet
    const std::size_t total = (plaintext.size() + chunk - 1) / chunk;
    if (total > 0xFFFF) return std::nullopt;

    Datagrams out;
    out.reserve(total);
    for (std::size_t n = 1; n <= total; ++n) {
        const std::size_t at = (n - 1) * chunk;
        const auto part = plaintext.subspan(at, std::min(chunk, plaintext.size() - at));
        Message m;
        m.header = h;
        m.payloads.push_back(
            Payload{PayloadType::skf, false,
                    SkfPayload{n == 1 ? first : PayloadType::none, static_cast<std::uint16_t>(n),
                               static_cast<std::uint16_t>(total),
                               Bytes(keys.out.sealed_size(part.size()))}});
        auto bytes = encode_message(m);
        if (!bytes) return std::nullopt;
        auto layout = encrypted_layout(*bytes);
        if (!layout) return std::nullopt;
        const std::span<const std::uint8_t> ad(bytes->data(), layout->body_offset);
        auto body = keys.out.seal(ad, part, rng_);
        if (!body || body->size() != bytes->size() - layout->body_offset) return std::nullopt;
        std::copy(body->begin(), body->end(),
                  bytes->begin() + static_cast<std::ptrdiff_t>(layout->body_offset));
        out.push_back(std::move(*bytes));
    }
    fragments_sent_ += total;
    return out;
}

std::optional<std::vector<Payload>> IkeSa::open(Keys& keys,
                                                std::span<const std::uint8_t> datagram) {
    auto layout = encrypted_layout(datagram);
    const bool skf = layout && layout->type == PayloadType::skf;
    auto m = decode_message(datagram);
    if (!m || m->payloads.empty() || !layout) {
        if (skf) ++fragments_dropped_;  // e.g. Fragment Number 0 or above Total Fragments
        return std::nullopt;
    }
    if (const auto* f = m->payloads.back().get<SkfPayload>()) {
        return reassemble(keys, m->header, *f, layout->body_offset, datagram);
    }
    const auto* sk = m->payloads.back().get<SkPayload>();
    if (!sk) return std::nullopt;
    auto plaintext =
        keys.in.open(datagram.first(layout->body_offset), datagram.subspan(layout->body_offset));
    if (!plaintext) return std::nullopt;
    auto inner = decode_payloads(sk->first_inner, *plaintext, layout->body_offset);
    if (!inner) return std::nullopt;
    return std::move(*inner);
}

// RFC 7383 section 2.6. The caller has checked SPIs, direction and Message ID (the one it
// expects next), so a set for another Message ID in the same direction is an older one.
std::optional<std::vector<Payload>> IkeSa::reassemble(Keys& keys, const Header& h,
                                                      const SkfPayload& skf,
                                                      std::size_t body_offset,
                                                      std::span<const std::uint8_t> datagram) {
    auto drop = [this] {
        ++fragments_dropped_;
        return std::nullopt;
    };
    // Not negotiated, over our limit, or fragment 1 without its first inner payload type.
    if (!fragmentation_ || skf.total_fragments > settings_.max_fragments ||
        (skf.fragment_number == 1 && skf.first_inner == PayloadType::none)) {
        return drop();
    }
    Reassembly& r = h.response ? keys.responses : keys.requests;
    const bool same = r.total != 0 && r.message_id == h.message_id && r.exchange == h.exchange;
    if (same) {
        if (skf.total_fragments < r.total) return drop();  // 2.6: fewer than before
        if (skf.total_fragments == r.total && r.parts[skf.fragment_number - 1]) {
            return std::nullopt;  // duplicate: already have it
        }
    }
    // Authenticate before keeping anything.
    auto plaintext = keys.in.open(datagram.first(body_offset), datagram.subspan(body_offset));
    if (!plaintext) return drop();
    if (!same || skf.total_fragments > r.total) {
        // A new message, or the sender re-fragmented it smaller (2.6): start over.
        r = Reassembly{};
        r.message_id = h.message_id;
        r.exchange = h.exchange;
        r.total = skf.total_fragments;
        r.parts.resize(skf.total_fragments);
    }
    if (r.size + plaintext->size() > settings_.max_reassembly_size) {
        r = Reassembly{};
        return drop();
    }
    ++fragments_received_;
    if (skf.fragment_number == 1) r.first_inner = skf.first_inner;
    r.size += plaintext->size();
    r.parts[skf.fragment_number - 1] = std::move(*plaintext);
    if (++r.received < r.total) return std::nullopt;

    Bytes whole;
    whole.reserve(r.size);
    for (const auto& part : r.parts) whole.insert(whole.end(), part->begin(), part->end());
    const PayloadType first = r.first_inner;
    r = Reassembly{};
    auto inner = decode_payloads(first, whole);
    if (!inner) return std::nullopt;
    return std::move(*inner);
}

}  // namespace cgwd::ike
