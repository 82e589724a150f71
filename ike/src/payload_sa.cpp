// SA payload codec: proposals -> transforms -> attributes (RFC 7296 sections 3.3.1 - 3.3.5).
//
// Proposal substructure (RFC 7296 section 3.3.1):
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Last Substruc |   RESERVED    |         Proposal Length       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        SPI (variable)                         ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        <Transforms>                           ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Last Substruc: 0 for the last proposal, 2 otherwise.
//
// Transform substructure (RFC 7296 section 3.3.2):
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Last Substruc |   RESERVED    |        Transform Length       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Transform Type |   RESERVED    |          Transform ID         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                      Transform Attributes                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Last Substruc: 0 for the last transform of a proposal, 3 otherwise.
//
// Data attribute (RFC 7296 section 3.3.5):
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |A|       Attribute Type        |    AF=0  Attribute Length     |
// |F|                             |    AF=1  Attribute Value      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   AF=0  Attribute Value                       |
// |                   AF=1  Not Transmitted                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#include <limits>

#include "payload_codec.hpp"

namespace cgwd::ike {

Transform Transform::make(TransformType type, std::uint16_t id,
                          std::optional<std::uint16_t> key_bits) {
    Transform t{type, id, {}};
    if (key_bits) t.attributes.push_back(Attribute{attribute_key_length, true, *key_bits, {}});
    return t;
}

std::optional<std::uint16_t> Transform::key_length() const {
    for (const auto& a : attributes)
        if (a.type == attribute_key_length && a.tv) return a.value;
    return std::nullopt;
}

}  // namespace cgwd::ike

namespace cgwd::ike::detail {
namespace {

constexpr std::uint8_t last_none = 0;
constexpr std::uint8_t more_proposals = 2;
constexpr std::uint8_t more_transforms = 3;
constexpr std::uint16_t af_bit = 0x8000;
constexpr std::size_t substructure_header = 8;  // proposal and transform fixed parts
constexpr std::size_t max_u16 = std::numeric_limits<std::uint16_t>::max();

bool valid_spi_size(std::size_t n) {
    return n == 0 || n == 4 || n == 8;
}

std::expected<Transform, DecodeError> decode_transform(Reader& r, bool last,
                                                       const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    if (!r.has(substructure_header)) return fail(DecodeErrorKind::bad_length, at, ctx.self);
    const std::uint8_t marker = r.u8();
    r.skip(1);
    const std::uint16_t length = r.u16();
    if (length < substructure_header || length - 4u > r.remaining())
        return fail(DecodeErrorKind::bad_length, at + 2, ctx.self);
    if (marker != (last ? last_none : more_transforms))
        return fail(DecodeErrorKind::invalid_syntax, at, ctx.self);
    Reader t = r.sub(length - 4u);
    Transform out;
    out.type = static_cast<TransformType>(t.u8());
    t.skip(1);
    out.id = t.u16();
    while (!t.empty()) {
        const std::size_t attr_at = t.offset();
        if (out.attributes.size() == limits::max_attributes)
            return fail(DecodeErrorKind::too_many, attr_at, ctx.self);
        if (!t.has(4)) return fail(DecodeErrorKind::bad_length, attr_at, ctx.self);
        const std::uint16_t type_field = t.u16();
        Attribute a;
        a.type = type_field & ~af_bit;
        a.tv = (type_field & af_bit) != 0;
        if (a.tv) {
            a.value = t.u16();
        } else {
            const std::uint16_t alen = t.u16();
            if (!t.has(alen)) return fail(DecodeErrorKind::bad_length, attr_at + 2, ctx.self);
            a.data = t.bytes(alen);
        }
        out.attributes.push_back(std::move(a));
    }
    return out;
}

std::expected<Proposal, DecodeError> decode_proposal(Reader& r, const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    if (!r.has(substructure_header)) return fail(DecodeErrorKind::bad_length, at, ctx.self);
    const std::uint8_t marker = r.u8();
    r.skip(1);
    const std::uint16_t length = r.u16();
    if (length < substructure_header || length - 4u > r.remaining())
        return fail(DecodeErrorKind::bad_length, at + 2, ctx.self);
    Reader p = r.sub(length - 4u);
    Proposal out;
    out.number = p.u8();
    out.protocol = static_cast<ProtocolId>(p.u8());
    const std::uint8_t spi_size = p.u8();
    const std::uint8_t count = p.u8();
    if (!valid_spi_size(spi_size)) return fail(DecodeErrorKind::invalid_syntax, at + 6, ctx.self);
    if (!p.has(spi_size)) return fail(DecodeErrorKind::bad_length, at + 2, ctx.self);
    out.spi = p.bytes(spi_size);
    if (count > limits::max_transforms) return fail(DecodeErrorKind::too_many, at + 7, ctx.self);
    out.transforms.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto t = decode_transform(p, i + 1 == count, ctx);
        if (!t) return std::unexpected(t.error());
        out.transforms.push_back(std::move(*t));
    }
    // Num Transforms and Proposal Length must describe the same bytes.
    if (!p.empty()) return fail(DecodeErrorKind::bad_length, at + 2, ctx.self);
    // The marker must agree with whether another proposal follows (checked after the contents
    // so that a wrong Proposal Length is reported as a length error).
    if (marker != (r.empty() ? last_none : more_proposals))
        return fail(DecodeErrorKind::invalid_syntax, at, ctx.self);
    return out;
}

std::expected<void, EncodeError> encode_transform(const Transform& t, bool last, Writer& w) {
    const std::size_t start = w.size();
    w.u8(last ? last_none : more_transforms);
    w.u8(0);
    w.u16(0);  // length, patched below
    w.u8(static_cast<std::uint8_t>(t.type));
    w.u8(0);
    w.u16(t.id);
    if (t.attributes.size() > limits::max_attributes) return std::unexpected(EncodeError::too_many);
    for (const auto& a : t.attributes) {
        if (a.type & af_bit) return std::unexpected(EncodeError::invalid_value);
        if (a.tv) {
            w.u16(a.type | af_bit);
            w.u16(a.value);
        } else {
            if (a.data.size() > max_u16) return std::unexpected(EncodeError::too_large);
            w.u16(a.type);
            w.u16(static_cast<std::uint16_t>(a.data.size()));
            w.bytes(a.data);
        }
    }
    const std::size_t length = w.size() - start;
    if (length > max_u16) return std::unexpected(EncodeError::too_large);
    w.patch_u16(start + 2, static_cast<std::uint16_t>(length));
    return {};
}

}  // namespace

std::expected<SaPayload, DecodeError> decode_sa(Reader& r, const PayloadContext& ctx) {
    SaPayload sa;
    while (!r.empty()) {
        if (sa.proposals.size() == limits::max_proposals)
            return fail(DecodeErrorKind::too_many, r.offset(), ctx.self);
        auto p = decode_proposal(r, ctx);
        if (!p) return std::unexpected(p.error());
        sa.proposals.push_back(std::move(*p));
    }
    return sa;
}

std::expected<void, EncodeError> encode_sa(const SaPayload& sa, Writer& w) {
    if (sa.proposals.empty()) return std::unexpected(EncodeError::invalid_value);
    if (sa.proposals.size() > limits::max_proposals) return std::unexpected(EncodeError::too_many);
    for (std::size_t i = 0; i < sa.proposals.size(); ++i) {
        const Proposal& p = sa.proposals[i];
        if (!valid_spi_size(p.spi.size())) return std::unexpected(EncodeError::invalid_value);
        if (p.transforms.size() > limits::max_transforms)
            return std::unexpected(EncodeError::too_many);
        const std::size_t start = w.size();
        w.u8(i + 1 == sa.proposals.size() ? last_none : more_proposals);
        w.u8(0);
        w.u16(0);  // length, patched below
        w.u8(p.number);
        w.u8(static_cast<std::uint8_t>(p.protocol));
        w.u8(static_cast<std::uint8_t>(p.spi.size()));
        w.u8(static_cast<std::uint8_t>(p.transforms.size()));
        w.bytes(p.spi);
        for (std::size_t j = 0; j < p.transforms.size(); ++j) {
            auto ok = encode_transform(p.transforms[j], j + 1 == p.transforms.size(), w);
            if (!ok) return ok;
        }
        const std::size_t length = w.size() - start;
        if (length > max_u16) return std::unexpected(EncodeError::too_large);
        w.patch_u16(start + 2, static_cast<std::uint16_t>(length));
    }
    return {};
}

}  // namespace cgwd::ike::detail
