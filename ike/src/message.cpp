// IKEv2 header and payload-chain codec (RFC 7296 sections 3.1 and 3.2), shared by the outer
// message and the inner (decrypted SK) chain; encrypted-payload layout for the crypto layer.
//
// IKE header (RFC 7296 section 3.1):
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       IKE SA Initiator's SPI                  |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       IKE SA Responder's SPI                  |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                          Message ID                           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                            Length                             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Flags: |X|X|R|V|I|X|X|X|  (R = 0x20, V = 0x10, I = 0x08; X sent 0, ignored).
//   Length: whole message including the header.
#include <limits>

#include "payload_codec.hpp"

namespace cgwd::ike {
namespace {

using detail::fail;

constexpr std::uint8_t flag_initiator = 0x08;
constexpr std::uint8_t flag_version = 0x10;
constexpr std::uint8_t flag_response = 0x20;
constexpr std::uint8_t flag_critical = 0x80;
constexpr std::uint8_t ike_major_version = 2;
constexpr std::size_t max_u16 = std::numeric_limits<std::uint16_t>::max();

constexpr std::size_t offset_version = 17;  // header offsets named in decode errors
constexpr std::size_t offset_length = 24;

struct FixedHeader {
    Header header;
    PayloadType first = PayloadType::none;
};

std::expected<FixedHeader, DecodeError> read_header(std::span<const std::uint8_t> datagram) {
    if (datagram.size() < header_size)
        return fail(DecodeErrorKind::truncated, datagram.size(), PayloadType::none);
    Reader r(datagram);
    FixedHeader out;
    Header& h = out.header;
    h.spi_i = r.u64();
    h.spi_r = r.u64();
    out.first = static_cast<PayloadType>(r.u8());
    const std::uint8_t version = r.u8();
    h.exchange = static_cast<ExchangeType>(r.u8());
    const std::uint8_t flags = r.u8();
    h.initiator = (flags & flag_initiator) != 0;
    h.higher_version = (flags & flag_version) != 0;
    h.response = (flags & flag_response) != 0;
    h.message_id = r.u32();
    const std::uint32_t length = r.u32();
    if ((version >> 4) != ike_major_version)
        return fail(DecodeErrorKind::bad_version, offset_version, PayloadType::none);
    if (length < header_size)
        return fail(DecodeErrorKind::bad_length, offset_length, PayloadType::none);
    if (length > datagram.size())
        return fail(DecodeErrorKind::truncated, offset_length, PayloadType::none);
    if (length < datagram.size())
        return fail(DecodeErrorKind::bad_length, offset_length, PayloadType::none);
    return out;
}

// Decode payloads from `r` starting with type `next` until a payload says Next Payload = none
// (or, in the outer chain, until SK/SKF). The whole reader must be consumed.
std::expected<std::vector<Payload>, DecodeError> decode_chain(Reader& r, PayloadType next,
                                                              bool outer) {
    std::vector<Payload> out;
    while (next != PayloadType::none) {
        const std::size_t at = r.offset();
        if (out.size() == limits::max_payloads) return fail(DecodeErrorKind::too_many, at, next);
        if (!r.has(generic_header_size)) return fail(DecodeErrorKind::truncated, at, next);
        const auto next_field = static_cast<PayloadType>(r.u8());
        const bool critical = (r.u8() & flag_critical) != 0;
        const std::uint16_t length = r.u16();
        if (length < generic_header_size) return fail(DecodeErrorKind::bad_length, at + 2, next);
        if (length - generic_header_size > r.remaining())
            return fail(DecodeErrorKind::truncated, at + 2, next);
        // RFC 7296 section 3.2: an unknown payload with C set rejects the whole message;
        // without C it is skipped (kept here as a GenericPayload for the engine to ignore).
        if (critical && !detail::is_known(next))
            return fail(DecodeErrorKind::unsupported_critical, at, next);
        const detail::PayloadCodec& codec = detail::codec_for(next);
        if (length - generic_header_size < codec.min_body)
            return fail(DecodeErrorKind::bad_length, at + 2, next);
        if (codec.encrypted && !outer) return fail(DecodeErrorKind::invalid_syntax, at, next);
        Reader body = r.sub(length - generic_header_size);
        auto decoded = codec.decode(body, detail::PayloadContext{next, next_field, at});
        if (!decoded) return std::unexpected(decoded.error());
        if (!body.empty()) return fail(DecodeErrorKind::bad_length, at + 2, next);
        out.push_back(Payload{next, critical, std::move(*decoded)});
        // SK / SKF must be the last payload; its Next Payload names the first inner payload.
        if (codec.encrypted) {
            if (!r.empty()) return fail(DecodeErrorKind::invalid_syntax, r.offset(), next);
            return out;
        }
        next = next_field;
    }
    if (!r.empty()) return fail(DecodeErrorKind::bad_length, r.offset(), PayloadType::none);
    return out;
}

PayloadType encrypted_first_inner(const PayloadBody& body) {
    if (const auto* sk = std::get_if<SkPayload>(&body)) return sk->first_inner;
    if (const auto* skf = std::get_if<SkfPayload>(&body)) return skf->first_inner;
    return PayloadType::none;
}

std::expected<void, EncodeError> encode_chain(std::span<const Payload> payloads, bool outer,
                                              Writer& w) {
    if (payloads.size() > limits::max_payloads) return std::unexpected(EncodeError::too_many);
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        const Payload& p = payloads[i];
        if (p.type == PayloadType::none) return std::unexpected(EncodeError::invalid_value);
        const detail::PayloadCodec& codec = detail::codec_for(p.type);
        const bool last = i + 1 == payloads.size();
        if (codec.encrypted && (!outer || !last))
            return std::unexpected(EncodeError::misplaced_encrypted);
        PayloadType next = last ? PayloadType::none : payloads[i + 1].type;
        if (codec.encrypted) next = encrypted_first_inner(p.body);
        const std::size_t start = w.size();
        w.u8(static_cast<std::uint8_t>(next));
        w.u8(p.critical ? flag_critical : 0);
        w.u16(0);  // Payload Length, patched below
        auto ok = codec.encode(p.body, w);
        if (!ok) return ok;
        const std::size_t length = w.size() - start;
        if (length > max_u16) return std::unexpected(EncodeError::too_large);
        if (length - generic_header_size < codec.min_body)
            return std::unexpected(EncodeError::invalid_value);
        w.patch_u16(start + 2, static_cast<std::uint16_t>(length));
    }
    return {};
}

}  // namespace

const Payload* Message::find(PayloadType type) const {
    for (const auto& p : payloads)
        if (p.type == type) return &p;
    return nullptr;
}

std::expected<Header, DecodeError> decode_header(std::span<const std::uint8_t> datagram) {
    auto fixed = read_header(datagram);
    if (!fixed) return std::unexpected(fixed.error());
    return fixed->header;
}

std::expected<Message, DecodeError> decode_message(std::span<const std::uint8_t> datagram) {
    auto fixed = read_header(datagram);
    if (!fixed) return std::unexpected(fixed.error());
    Reader r(datagram.subspan(header_size), header_size);
    auto payloads = decode_chain(r, fixed->first, true);
    if (!payloads) return std::unexpected(payloads.error());
    return Message{fixed->header, std::move(*payloads)};
}

std::expected<std::vector<Payload>, DecodeError> decode_payloads(
    PayloadType first, std::span<const std::uint8_t> plaintext, std::size_t base_offset) {
    Reader r(plaintext, base_offset);
    return decode_chain(r, first, false);
}

std::expected<Bytes, EncodeError> encode_message(const Message& message) {
    Bytes out;
    Writer w(out);
    const Header& h = message.header;
    w.u64(h.spi_i);
    w.u64(h.spi_r);
    w.u8(static_cast<std::uint8_t>(message.payloads.empty() ? PayloadType::none
                                                            : message.payloads.front().type));
    w.u8(ike_major_version << 4);
    w.u8(static_cast<std::uint8_t>(h.exchange));
    w.u8(static_cast<std::uint8_t>((h.initiator ? flag_initiator : 0) |
                                   (h.higher_version ? flag_version : 0) |
                                   (h.response ? flag_response : 0)));
    w.u32(h.message_id);
    w.u32(0);  // Length, patched below
    auto ok = encode_chain(message.payloads, true, w);
    if (!ok) return std::unexpected(ok.error());
    if (out.size() > std::numeric_limits<std::uint32_t>::max())
        return std::unexpected(EncodeError::too_large);
    w.patch_u32(offset_length, static_cast<std::uint32_t>(out.size()));
    return out;
}

std::expected<Bytes, EncodeError> encode_payloads(std::span<const Payload> payloads) {
    Bytes out;
    Writer w(out);
    auto ok = encode_chain(payloads, false, w);
    if (!ok) return std::unexpected(ok.error());
    return out;
}

std::expected<EncryptedLayout, DecodeError> encrypted_layout(
    std::span<const std::uint8_t> message) {
    auto fixed = read_header(message);
    if (!fixed) return std::unexpected(fixed.error());
    Reader r(message.subspan(header_size), header_size);
    PayloadType next = fixed->first;
    for (std::size_t n = 0; next != PayloadType::none; ++n) {
        const std::size_t at = r.offset();
        if (n == limits::max_payloads) return fail(DecodeErrorKind::too_many, at, next);
        if (!r.has(generic_header_size)) return fail(DecodeErrorKind::truncated, at, next);
        const auto next_field = static_cast<PayloadType>(r.u8());
        r.skip(1);
        const std::uint16_t length = r.u16();
        if (length < generic_header_size) return fail(DecodeErrorKind::bad_length, at + 2, next);
        if (length - generic_header_size > r.remaining())
            return fail(DecodeErrorKind::truncated, at + 2, next);
        if (next == PayloadType::sk || next == PayloadType::skf) {
            const std::size_t header = next == PayloadType::skf ? 8 : generic_header_size;
            if (length < header) return fail(DecodeErrorKind::bad_length, at + 2, next);
            if (at + length != message.size())
                return fail(DecodeErrorKind::invalid_syntax, at, next);
            return EncryptedLayout{next, at, at + header, message.size()};
        }
        r.skip(length - generic_header_size);
        next = next_field;
    }
    return fail(DecodeErrorKind::invalid_syntax, r.offset(), PayloadType::none);
}

NotifyPayload error_notify(const DecodeError& error) {
    NotifyPayload n;
    n.protocol = ProtocolId::none;
    switch (error.kind) {
        case DecodeErrorKind::unsupported_critical:
            n.type = NotifyType::unsupported_critical_payload;
            n.data = {static_cast<std::uint8_t>(error.payload)};
            break;
        case DecodeErrorKind::bad_version:
            n.type = NotifyType::invalid_major_version;
            break;
        default:
            n.type = NotifyType::invalid_syntax;
            break;
    }
    return n;
}

const char* to_string(DecodeErrorKind kind) {
    switch (kind) {
        case DecodeErrorKind::truncated:
            return "truncated";
        case DecodeErrorKind::bad_length:
            return "bad length";
        case DecodeErrorKind::bad_version:
            return "bad version";
        case DecodeErrorKind::unsupported_critical:
            return "unsupported critical payload";
        case DecodeErrorKind::too_many:
            return "too many elements";
        case DecodeErrorKind::invalid_syntax:
            return "invalid syntax";
    }
    return "?";
}

const char* to_string(EncodeError error) {
    switch (error) {
        case EncodeError::type_mismatch:
            return "payload body does not match its type";
        case EncodeError::too_large:
            return "payload too large";
        case EncodeError::too_many:
            return "too many elements";
        case EncodeError::misplaced_encrypted:
            return "SK/SKF not last in the outer chain";
        case EncodeError::invalid_value:
            return "invalid field value";
    }
    return "?";
}

const char* to_string(ExchangeType type) {
    switch (type) {
        case ExchangeType::ike_sa_init:
            return "IKE_SA_INIT";
        case ExchangeType::ike_auth:
            return "IKE_AUTH";
        case ExchangeType::create_child_sa:
            return "CREATE_CHILD_SA";
        case ExchangeType::informational:
            return "INFORMATIONAL";
    }
    return "?";
}

}  // namespace cgwd::ike
