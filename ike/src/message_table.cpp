// The IKEv2 payload codec table: one row per payload type (RFC 7296 section 3.2 table,
// RFC 7383 section 2.5 for SKF). The chain code in message.cpp looks a payload type up here,
// checks the body against `min_body`, and calls the row's decode / encode function.
//
// Every payload starts with the generic payload header (RFC 7296 section 3.2):
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Next Payload  |C|  RESERVED   |         Payload Length        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Payload Length includes the generic header. C: critical (reject the message if the type
//   is not understood; ignored for understood types).
//
// Bodies after the generic header (min_body in brackets; details in payload_*.cpp):
//   SA       [8]  <Proposals>                             (payload_sa.cpp)
//   KE       [4]  | DH Group Num (2) | RESERVED (2) | Key Exchange Data ~
//   IDi/IDr  [4]  | ID Type (1) | RESERVED (3) | Identification Data ~
//   CERT     [0]  opaque (Cert Encoding + data)
//   CERTREQ  [0]  opaque (Cert Encoding + CA hashes)
//   AUTH     [4]  | Auth Method (1) | RESERVED (3) | Authentication Data ~
//   Nonce   [16]  Nonce Data, 16..256 octets
//   Notify   [4]  | Protocol ID (1) | SPI Size (1) | Notify Type (2) | SPI ~ | Data ~
//   Delete   [4]  | Protocol ID (1) | SPI Size (1) | Num of SPIs (2) | SPIs ~
//   V        [0]  Vendor ID data
//   TSi/TSr  [4]  | Number of TSs (1) | RESERVED (3) | <Traffic Selectors>  (payload_ts.cpp)
//   SK       [0]  IV | ciphertext | padding | pad length | ICV (opaque)
//   CP       [0]  opaque
//   EAP      [0]  opaque
//   SKF      [4]  | Fragment Number (2) | Total Fragments (2) | IV | ciphertext | ICV
#include <iterator>

#include "payload_codec.hpp"

namespace cgwd::ike::detail {
namespace {

template <class T, std::expected<T, DecodeError> (*Fn)(Reader&, const PayloadContext&)>
std::expected<PayloadBody, DecodeError> decode_as(Reader& r, const PayloadContext& ctx) {
    auto v = Fn(r, ctx);
    if (!v) return std::unexpected(v.error());
    return PayloadBody{std::move(*v)};
}

template <class T, std::expected<void, EncodeError> (*Fn)(const T&, Writer&)>
std::expected<void, EncodeError> encode_as(const PayloadBody& body, Writer& w) {
    const T* p = std::get_if<T>(&body);
    if (p == nullptr) return std::unexpected(EncodeError::type_mismatch);
    return Fn(*p, w);
}

#define CGWD_IKE_ROW(type, name, min, enc, T, fn)                                  \
    PayloadCodec {                                                                 \
        type, name, min, enc, decode_as<T, decode_##fn>, encode_as<T, encode_##fn> \
    }

constexpr PayloadCodec table[] = {
    CGWD_IKE_ROW(PayloadType::sa, "SA", 8, false, SaPayload, sa),
    CGWD_IKE_ROW(PayloadType::ke, "KE", 4, false, KePayload, ke),
    CGWD_IKE_ROW(PayloadType::idi, "IDi", 4, false, IdPayload, id),
    CGWD_IKE_ROW(PayloadType::idr, "IDr", 4, false, IdPayload, id),
    CGWD_IKE_ROW(PayloadType::cert, "CERT", 0, false, GenericPayload, generic),
    CGWD_IKE_ROW(PayloadType::certreq, "CERTREQ", 0, false, GenericPayload, generic),
    CGWD_IKE_ROW(PayloadType::auth, "AUTH", 4, false, AuthPayload, auth),
    CGWD_IKE_ROW(PayloadType::nonce, "Nonce", 16, false, NoncePayload, nonce),
    CGWD_IKE_ROW(PayloadType::notify, "N", 4, false, NotifyPayload, notify),
    CGWD_IKE_ROW(PayloadType::del, "D", 4, false, DeletePayload, delete),
    CGWD_IKE_ROW(PayloadType::vendor_id, "V", 0, false, VendorIdPayload, vendor_id),
    CGWD_IKE_ROW(PayloadType::tsi, "TSi", 4, false, TsPayload, ts),
    CGWD_IKE_ROW(PayloadType::tsr, "TSr", 4, false, TsPayload, ts),
    CGWD_IKE_ROW(PayloadType::sk, "SK", 0, true, SkPayload, sk),
    CGWD_IKE_ROW(PayloadType::cp, "CP", 0, false, GenericPayload, generic),
    CGWD_IKE_ROW(PayloadType::eap, "EAP", 0, false, GenericPayload, generic),
    CGWD_IKE_ROW(PayloadType::skf, "SKF", 4, true, SkfPayload, skf),
};

// Unknown (non-critical) payloads: kept as opaque bytes.
constexpr PayloadCodec generic_row =
    CGWD_IKE_ROW(PayloadType::none, "?", 0, false, GenericPayload, generic);

#undef CGWD_IKE_ROW

const PayloadCodec* lookup(PayloadType type) {
    for (const auto& row : table)
        if (row.type == type) return &row;
    return nullptr;
}

}  // namespace

const PayloadCodec& codec_for(PayloadType type) {
    const PayloadCodec* row = lookup(type);
    return row != nullptr ? *row : generic_row;
}

bool is_known(PayloadType type) {
    return lookup(type) != nullptr;
}

}  // namespace cgwd::ike::detail

namespace cgwd::ike {

const char* to_string(PayloadType type) {
    if (type == PayloadType::none) return "NONE";
    return detail::codec_for(type).name;
}

}  // namespace cgwd::ike
