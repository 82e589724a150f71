// Private to the IKEv2 codec: the per-payload decode/encode functions and the table row type.
//
// A payload codec sees a Reader over exactly the payload body (the generic header is handled by
// the chain code in message.cpp, which has already checked `min_body`); the chain requires the
// body to be consumed exactly. Encoders append the body only; the chain writes the generic
// header and patches the length.
#pragma once

#include <cstddef>
#include <expected>

#include "cgwd/ike/codec_cursor.hpp"
#include "cgwd/ike/message.hpp"

namespace cgwd::ike::detail {

// What a payload decoder knows besides its body.
struct PayloadContext {
    PayloadType self = PayloadType::none;  // this payload's type code
    PayloadType next = PayloadType::none;  // its Next Payload field (SK/SKF: first inner type)
    std::size_t offset = 0;                // absolute offset of its generic header
};

using DecodeFn = std::expected<PayloadBody, DecodeError> (*)(Reader& body, const PayloadContext&);
using EncodeFn = std::expected<void, EncodeError> (*)(const PayloadBody& body, Writer& out);

struct PayloadCodec {
    PayloadType type;
    const char* name;
    std::size_t min_body;  // bytes after the generic header
    bool encrypted;        // SK/SKF: last in the outer chain; Next Payload = first inner type
    DecodeFn decode;
    EncodeFn encode;
};

// The row for `type`, or the generic row (name "?") for types the table does not list.
const PayloadCodec& codec_for(PayloadType type);
// Whether `type` has a row of its own (i.e. the receiver "understands" it, RFC 7296 3.2).
bool is_known(PayloadType type);

inline std::unexpected<DecodeError> fail(DecodeErrorKind kind, std::size_t offset,
                                         PayloadType payload) {
    return std::unexpected(DecodeError{kind, offset, payload});
}

// Typed codec functions; the table wraps them to the uniform signatures above.
std::expected<SaPayload, DecodeError> decode_sa(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_sa(const SaPayload&, Writer&);
std::expected<TsPayload, DecodeError> decode_ts(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_ts(const TsPayload&, Writer&);

std::expected<KePayload, DecodeError> decode_ke(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_ke(const KePayload&, Writer&);
std::expected<IdPayload, DecodeError> decode_id(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_id(const IdPayload&, Writer&);
std::expected<AuthPayload, DecodeError> decode_auth(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_auth(const AuthPayload&, Writer&);
std::expected<NoncePayload, DecodeError> decode_nonce(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_nonce(const NoncePayload&, Writer&);
std::expected<NotifyPayload, DecodeError> decode_notify(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_notify(const NotifyPayload&, Writer&);
std::expected<DeletePayload, DecodeError> decode_delete(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_delete(const DeletePayload&, Writer&);
std::expected<VendorIdPayload, DecodeError> decode_vendor_id(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_vendor_id(const VendorIdPayload&, Writer&);
std::expected<SkPayload, DecodeError> decode_sk(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_sk(const SkPayload&, Writer&);
std::expected<SkfPayload, DecodeError> decode_skf(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_skf(const SkfPayload&, Writer&);
std::expected<GenericPayload, DecodeError> decode_generic(Reader&, const PayloadContext&);
std::expected<void, EncodeError> encode_generic(const GenericPayload&, Writer&);

}  // namespace cgwd::ike::detail
