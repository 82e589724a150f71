// Codecs of the flat IKEv2 payloads: KE, IDi/IDr, AUTH, Nonce, Notify, Delete, Vendor ID,
// SK, SKF and the generic (opaque) payload. Layouts are drawn above each function, after the
// 4-byte generic header (RFC 7296 section 3.2) which message.cpp handles.
#include <limits>

#include "payload_codec.hpp"

namespace cgwd::ike::detail {
namespace {

constexpr std::size_t max_u16 = std::numeric_limits<std::uint16_t>::max();
constexpr std::size_t nonce_min = 16;   // RFC 7296 section 3.9
constexpr std::size_t nonce_max = 256;  // RFC 7296 section 3.9

}  // namespace

// KE (RFC 7296 section 3.4):
// |   Diffie-Hellman Group Num    |           RESERVED            |
// ~                       Key Exchange Data                       ~
std::expected<KePayload, DecodeError> decode_ke(Reader& r, const PayloadContext&) {
    KePayload ke;
    ke.group = r.u16();
    r.skip(2);
    ke.data = r.rest();
    return ke;
}

std::expected<void, EncodeError> encode_ke(const KePayload& ke, Writer& w) {
    w.u16(ke.group);
    w.u16(0);
    w.bytes(ke.data);
    return {};
}

// IDi / IDr (RFC 7296 section 3.5):
// |   ID Type     |                 RESERVED                      |
// ~                   Identification Data                         ~
std::expected<IdPayload, DecodeError> decode_id(Reader& r, const PayloadContext&) {
    IdPayload id;
    id.type = static_cast<IdType>(r.u8());
    r.skip(3);
    id.data = r.rest();
    return id;
}

std::expected<void, EncodeError> encode_id(const IdPayload& id, Writer& w) {
    w.u8(static_cast<std::uint8_t>(id.type));
    w.zeros(3);
    w.bytes(id.data);
    return {};
}

// AUTH (RFC 7296 section 3.8):
// | Auth Method   |                RESERVED                       |
// ~                      Authentication Data                      ~
std::expected<AuthPayload, DecodeError> decode_auth(Reader& r, const PayloadContext&) {
    AuthPayload auth;
    auth.method = static_cast<AuthMethod>(r.u8());
    r.skip(3);
    auth.data = r.rest();
    return auth;
}

std::expected<void, EncodeError> encode_auth(const AuthPayload& auth, Writer& w) {
    w.u8(static_cast<std::uint8_t>(auth.method));
    w.zeros(3);
    w.bytes(auth.data);
    return {};
}

// Nonce (RFC 7296 section 3.9): Nonce Data, 16..256 octets (the table's min_body is 16).
std::expected<NoncePayload, DecodeError> decode_nonce(Reader& r, const PayloadContext& ctx) {
    if (r.remaining() > nonce_max)
        return fail(DecodeErrorKind::invalid_syntax, ctx.offset, ctx.self);
    return NoncePayload{r.rest()};
}

std::expected<void, EncodeError> encode_nonce(const NoncePayload& nonce, Writer& w) {
    if (nonce.data.size() < nonce_min || nonce.data.size() > nonce_max)
        return std::unexpected(EncodeError::invalid_value);
    w.bytes(nonce.data);
    return {};
}

// Notify (RFC 7296 section 3.10):
// |  Protocol ID  |   SPI Size    |      Notify Message Type      |
// ~                Security Parameter Index (SPI)                 ~
// ~                       Notification Data                       ~
std::expected<NotifyPayload, DecodeError> decode_notify(Reader& r, const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    NotifyPayload n;
    n.protocol = static_cast<ProtocolId>(r.u8());
    const std::uint8_t spi_size = r.u8();
    n.type = static_cast<NotifyType>(r.u16());
    if (!r.has(spi_size)) return fail(DecodeErrorKind::bad_length, at + 1, ctx.self);
    n.spi = r.bytes(spi_size);
    n.data = r.rest();
    return n;
}

std::expected<void, EncodeError> encode_notify(const NotifyPayload& n, Writer& w) {
    if (n.spi.size() > std::numeric_limits<std::uint8_t>::max())
        return std::unexpected(EncodeError::invalid_value);
    w.u8(static_cast<std::uint8_t>(n.protocol));
    w.u8(static_cast<std::uint8_t>(n.spi.size()));
    w.u16(static_cast<std::uint16_t>(n.type));
    w.bytes(n.spi);
    w.bytes(n.data);
    return {};
}

// Delete (RFC 7296 section 3.11):
// | Protocol ID   |   SPI Size    |          Num of SPIs          |
// ~               Security Parameter Index(es) (SPI)              ~
// SPI Size MUST be 0 for IKE (and Num of SPIs 0) and 4 for AH/ESP.
std::expected<DeletePayload, DecodeError> decode_delete(Reader& r, const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    DeletePayload d;
    d.protocol = static_cast<ProtocolId>(r.u8());
    const std::uint8_t spi_size = r.u8();
    const std::uint16_t count = r.u16();
    const std::uint8_t expected_size = d.protocol == ProtocolId::ike ? 0 : 4;
    if (spi_size != expected_size) return fail(DecodeErrorKind::invalid_syntax, at + 1, ctx.self);
    if (spi_size == 0 && count != 0) return fail(DecodeErrorKind::invalid_syntax, at + 2, ctx.self);
    if (std::size_t{count} * spi_size != r.remaining())
        return fail(DecodeErrorKind::bad_length, at + 2, ctx.self);
    d.spis.reserve(count);
    for (std::size_t i = 0; i < count; ++i) d.spis.push_back(r.u32());
    return d;
}

std::expected<void, EncodeError> encode_delete(const DeletePayload& d, Writer& w) {
    const bool ike = d.protocol == ProtocolId::ike;
    if (ike && !d.spis.empty()) return std::unexpected(EncodeError::invalid_value);
    if (d.spis.size() > max_u16) return std::unexpected(EncodeError::too_large);
    w.u8(static_cast<std::uint8_t>(d.protocol));
    w.u8(ike ? 0 : 4);
    w.u16(static_cast<std::uint16_t>(d.spis.size()));
    for (std::uint32_t spi : d.spis) w.u32(spi);
    return {};
}

// Vendor ID (RFC 7296 section 3.12): Vendor ID data, opaque.
std::expected<VendorIdPayload, DecodeError> decode_vendor_id(Reader& r, const PayloadContext&) {
    return VendorIdPayload{r.rest()};
}

std::expected<void, EncodeError> encode_vendor_id(const VendorIdPayload& v, Writer& w) {
    w.bytes(v.data);
    return {};
}

// SK (RFC 7296 section 3.14); Next Payload in the generic header = first inner payload:
// |                     Initialization Vector                     |
// ~                    Encrypted IKE Payloads                     ~
// |               |             Padding (0-255 octets)            |
// |                                               |  Pad Length   |
// ~                    Integrity Checksum Data                    ~
std::expected<SkPayload, DecodeError> decode_sk(Reader& r, const PayloadContext& ctx) {
    return SkPayload{ctx.next, r.rest()};
}

std::expected<void, EncodeError> encode_sk(const SkPayload& sk, Writer& w) {
    w.bytes(sk.body);
    return {};
}

// SKF (RFC 7383 section 2.5); Next Payload = first inner payload in fragment 1, else 0:
// |        Fragment Number        |        Total Fragments        |
// |                   Initialization Vector                       |
// ~                      Encrypted content                        ~
// ~                    Integrity Checksum Data                    ~
// Fragment Number starts at 1 and may not exceed Total Fragments.
std::expected<SkfPayload, DecodeError> decode_skf(Reader& r, const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    SkfPayload f;
    f.first_inner = ctx.next;
    f.fragment_number = r.u16();
    f.total_fragments = r.u16();
    if (f.fragment_number == 0 || f.fragment_number > f.total_fragments)
        return fail(DecodeErrorKind::invalid_syntax, at, ctx.self);
    f.body = r.rest();
    return f;
}

std::expected<void, EncodeError> encode_skf(const SkfPayload& f, Writer& w) {
    if (f.fragment_number == 0 || f.fragment_number > f.total_fragments)
        return std::unexpected(EncodeError::invalid_value);
    w.u16(f.fragment_number);
    w.u16(f.total_fragments);
    w.bytes(f.body);
    return {};
}

// CERT, CERTREQ, CP, EAP, unknown: the body as-is.
std::expected<GenericPayload, DecodeError> decode_generic(Reader& r, const PayloadContext&) {
    return GenericPayload{r.rest()};
}

std::expected<void, EncodeError> encode_generic(const GenericPayload& g, Writer& w) {
    w.bytes(g.body);
    return {};
}

}  // namespace cgwd::ike::detail
