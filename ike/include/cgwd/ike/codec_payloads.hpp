// Typed IKEv2 payload bodies (RFC 7296 section 3.3 - 3.16, RFC 7383 section 2.5).
//
// Each struct is the body of one payload without its 4-byte generic header; `Payload` in
// message.hpp pairs a body with its payload type and critical bit. Reserved fields are not
// stored (sent as zero, ignored on receipt). Bodies compare with ==, which the round-trip tests
// and the fuzz target rely on. The diagrams of every layout are next to the codec table in
// ike/src/message_table.cpp and the per-payload codecs in ike/src/payload_*.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "cgwd/ike/codec_constants.hpp"

namespace cgwd::ike {

using Bytes = std::vector<std::uint8_t>;

// RFC 7296 section 3.3.5. TV format (AF=1) carries a 16-bit value; TLV (AF=0) carries bytes.
struct Attribute {
    std::uint16_t type = attribute_key_length;  // without the AF bit
    bool tv = true;
    std::uint16_t value = 0;  // TV only
    Bytes data;               // TLV only
    friend bool operator==(const Attribute&, const Attribute&) = default;
};

// RFC 7296 section 3.3.2.
struct Transform {
    TransformType type = TransformType::encr;
    std::uint16_t id = 0;
    std::vector<Attribute> attributes;

    // A transform with an optional Key Length attribute (bits), e.g. {encr, 12, 128}.
    static Transform make(TransformType type, std::uint16_t id,
                          std::optional<std::uint16_t> key_bits = std::nullopt);
    // The Key Length attribute's value, if present.
    std::optional<std::uint16_t> key_length() const;
    friend bool operator==(const Transform&, const Transform&) = default;
};

// RFC 7296 section 3.3.1. `spi` is 0, 4 or 8 bytes (IKE initial: 0, IKE rekey: 8, ESP/AH: 4).
struct Proposal {
    std::uint8_t number = 1;
    ProtocolId protocol = ProtocolId::ike;
    Bytes spi;
    std::vector<Transform> transforms;
    friend bool operator==(const Proposal&, const Proposal&) = default;
};

struct SaPayload {  // RFC 7296 section 3.3
    std::vector<Proposal> proposals;
    friend bool operator==(const SaPayload&, const SaPayload&) = default;
};

struct KePayload {  // RFC 7296 section 3.4
    std::uint16_t group = 0;
    Bytes data;
    friend bool operator==(const KePayload&, const KePayload&) = default;
};

struct IdPayload {  // RFC 7296 section 3.5 (IDi and IDr)
    IdType type = IdType::ipv4_addr;
    Bytes data;
    friend bool operator==(const IdPayload&, const IdPayload&) = default;
};

struct AuthPayload {  // RFC 7296 section 3.8
    AuthMethod method = AuthMethod::shared_key_mic;
    Bytes data;
    friend bool operator==(const AuthPayload&, const AuthPayload&) = default;
};

struct NoncePayload {  // RFC 7296 section 3.9: 16..256 bytes (enforced by the codec)
    Bytes data;
    friend bool operator==(const NoncePayload&, const NoncePayload&) = default;
};

struct NotifyPayload {  // RFC 7296 section 3.10
    ProtocolId protocol = ProtocolId::none;
    Bytes spi;  // 0..255 bytes; usually 0 (IKE SA) or 4 (ESP/AH)
    NotifyType type = NotifyType::invalid_syntax;
    Bytes data;
    friend bool operator==(const NotifyPayload&, const NotifyPayload&) = default;
};

// RFC 7296 section 3.11: for IKE the SPI size is 0 and `spis` empty; for AH/ESP it is 4.
struct DeletePayload {
    ProtocolId protocol = ProtocolId::esp;
    std::vector<std::uint32_t> spis;
    friend bool operator==(const DeletePayload&, const DeletePayload&) = default;
};

struct VendorIdPayload {  // RFC 7296 section 3.12
    Bytes data;
    friend bool operator==(const VendorIdPayload&, const VendorIdPayload&) = default;
};

// RFC 7296 section 3.13.1. Addresses use the first 4 bytes for IPv4, all 16 for IPv6; the
// unused bytes stay zero. Ports 0..65535 and protocol 0 mean "any".
struct TrafficSelector {
    TsType type = TsType::ipv4_addr_range;
    std::uint8_t ip_protocol = 0;
    std::uint16_t start_port = 0;
    std::uint16_t end_port = 65535;
    std::array<std::uint8_t, 16> start_address{};
    std::array<std::uint8_t, 16> end_address{};

    static TrafficSelector ipv4(std::array<std::uint8_t, 4> start, std::array<std::uint8_t, 4> end,
                                std::uint8_t protocol = 0, std::uint16_t start_port = 0,
                                std::uint16_t end_port = 65535);
    static TrafficSelector ipv6(const std::array<std::uint8_t, 16>& start,
                                const std::array<std::uint8_t, 16>& end, std::uint8_t protocol = 0,
                                std::uint16_t start_port = 0, std::uint16_t end_port = 65535);
    friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
};

struct TsPayload {  // RFC 7296 section 3.13 (TSi and TSr)
    std::vector<TrafficSelector> selectors;
    friend bool operator==(const TsPayload&, const TsPayload&) = default;
};

// RFC 7296 section 3.14: body = IV | ciphertext (incl. padding and pad length) | ICV, opaque
// to the codec. `first_inner` is the type of the first payload inside the plaintext.
struct SkPayload {
    PayloadType first_inner = PayloadType::none;
    Bytes body;
    friend bool operator==(const SkPayload&, const SkPayload&) = default;
};

// RFC 7383 section 2.5. `first_inner` is meaningful in fragment 1 only (0 in the others).
struct SkfPayload {
    PayloadType first_inner = PayloadType::none;
    std::uint16_t fragment_number = 1;
    std::uint16_t total_fragments = 1;
    Bytes body;  // IV | ciphertext | ICV
    friend bool operator==(const SkfPayload&, const SkfPayload&) = default;
};

// CERT, CERTREQ, CP, EAP and any unrecognised non-critical payload: the raw body.
struct GenericPayload {
    Bytes body;
    friend bool operator==(const GenericPayload&, const GenericPayload&) = default;
};

using PayloadBody =
    std::variant<GenericPayload, SaPayload, KePayload, IdPayload, AuthPayload, NoncePayload,
                 NotifyPayload, DeletePayload, VendorIdPayload, TsPayload, SkPayload, SkfPayload>;

}  // namespace cgwd::ike
