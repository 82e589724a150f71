// IKEv2 message codec (RFC 7296 section 3; SKF fragments, RFC 7383 section 2.5).
//
// Two layers use the same table-driven payload codec:
//   - the outer message: IKE header + payload chain up to and including an SK or SKF payload,
//     whose body (IV | ciphertext | ICV) stays opaque bytes;
//   - an inner payload chain: the decrypted plaintext of SK, starting with SK's first-payload
//     type (`decode_payloads` / `encode_payloads`).
// The encoder computes every Next Payload and length field. `encrypted_layout` tells the crypto
// layer where the associated data / integrity-checked range and the encrypted body are.
//
// Decoding is strict about structure: the header length must equal the datagram size, every
// length field must fit its container and be consumed exactly, nothing may trail, and the
// number of payloads / proposals / transforms / selectors is capped (`limits`) so a peer cannot
// drive unbounded allocation. Unknown payloads are kept as GenericPayload unless their critical
// bit is set (then: DecodeError::unsupported_critical -> UNSUPPORTED_CRITICAL_PAYLOAD).
// No exceptions, no I/O, no crypto. NAT-T framing on port 4500 is in codec_natt.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <vector>

#include "cgwd/ike/codec_constants.hpp"
#include "cgwd/ike/codec_payloads.hpp"

namespace cgwd::ike {

namespace limits {
inline constexpr std::size_t max_payloads = 64;    // per chain (outer or inner)
inline constexpr std::size_t max_proposals = 64;   // per SA payload
inline constexpr std::size_t max_transforms = 64;  // per proposal
inline constexpr std::size_t max_attributes = 16;  // per transform
inline constexpr std::size_t max_selectors = 64;   // per TS payload
}  // namespace limits

inline constexpr std::size_t header_size = 28;         // RFC 7296 section 3.1
inline constexpr std::size_t generic_header_size = 4;  // RFC 7296 section 3.2

// RFC 7296 section 3.1. Next Payload and Length are not stored: the encoder derives them from
// the payload chain. Major version must be 2; the minor version is sent as 0 and ignored.
// `exchange` holds whatever the peer sent (the engine drops exchange types it does not know).
struct Header {
    std::uint64_t spi_i = 0;
    std::uint64_t spi_r = 0;
    ExchangeType exchange = ExchangeType::ike_sa_init;
    bool initiator = false;       // I flag (0x08): sent by the original initiator
    bool higher_version = false;  // V flag (0x10)
    bool response = false;        // R flag (0x20)
    std::uint32_t message_id = 0;
    friend bool operator==(const Header&, const Header&) = default;
};

// One payload: its type code (also distinguishes IDi/IDr, TSi/TSr and the generic kinds), the
// critical bit as received (send false for RFC 7296 payloads), and the typed body.
struct Payload {
    PayloadType type = PayloadType::none;
    bool critical = false;
    PayloadBody body;

    template <class T>
    const T* get() const {
        return std::get_if<T>(&body);
    }
    friend bool operator==(const Payload&, const Payload&) = default;
};

struct Message {
    Header header;
    std::vector<Payload> payloads;

    const Payload* find(PayloadType type) const;  // first payload of that type, or nullptr
    friend bool operator==(const Message&, const Message&) = default;
};

enum class DecodeErrorKind {
    truncated,    // input shorter than the header / header Length, a payload announced by Next
                  // Payload is missing, or a Payload Length runs past the end of its chain
    bad_length,   // a length field below its minimum, bytes left over (after the chain or in a
                  // payload), or substructure lengths (proposal, transform, TS, ...) not adding up
    bad_version,  // IKE major version != 2 -> INVALID_MAJOR_VERSION
    unsupported_critical,  // unknown payload with the critical bit -> UNSUPPORTED_CRITICAL_PAYLOAD
    too_many,              // a `limits` cap was exceeded
    invalid_syntax,        // a field value the RFC forbids -> INVALID_SYNTAX
};
const char* to_string(DecodeErrorKind);

struct DecodeError {
    DecodeErrorKind kind = DecodeErrorKind::invalid_syntax;
    std::size_t offset = 0;                   // byte offset of the offending field in the input
    PayloadType payload = PayloadType::none;  // the payload concerned (type code), if any
    friend bool operator==(const DecodeError&, const DecodeError&) = default;
};

// The Notify a responder sends for a decode error (RFC 7296 sections 2.5, 3.10.1):
// UNSUPPORTED_CRITICAL_PAYLOAD with the one-octet payload type as data, INVALID_MAJOR_VERSION,
// or INVALID_SYNTAX. Whether to send it at all (e.g. never for unauthenticated garbage) is the
// engine's decision.
[[nodiscard]] NotifyPayload error_notify(const DecodeError& error);

// The fixed 28-byte header only (to find the SA by SPI before a full decode). Checks the major
// version and that the length field equals `datagram.size()`.
[[nodiscard]] std::expected<Header, DecodeError> decode_header(
    std::span<const std::uint8_t> datagram);

// A whole IKE message (without the NAT-T non-ESP marker). An SK or SKF payload ends the chain
// and must extend to the end of the message.
[[nodiscard]] std::expected<Message, DecodeError> decode_message(
    std::span<const std::uint8_t> datagram);

// An inner payload chain (decrypted SK plaintext without padding), starting with `first`.
// SK/SKF may not appear inside. Error offsets are relative to `plaintext` plus `base_offset`.
[[nodiscard]] std::expected<std::vector<Payload>, DecodeError> decode_payloads(
    PayloadType first, std::span<const std::uint8_t> plaintext, std::size_t base_offset = 0);

enum class EncodeError {
    type_mismatch,        // body alternative does not fit the payload type (e.g. SA type, KE body)
    too_large,            // a payload exceeds 65535 bytes or a count its field can hold
    too_many,             // more payloads / proposals / transforms than `limits` allows
    misplaced_encrypted,  // SK/SKF not last in the outer chain, or inside an inner chain
    invalid_value,        // SPI size other than 0/4/8, fragment number 0 or > total, ...
};
const char* to_string(EncodeError);

// Header + payload chain with all Next Payload and length fields filled in.
[[nodiscard]] std::expected<Bytes, EncodeError> encode_message(const Message& message);

// An inner chain (SK plaintext before padding); its first type is `payloads.front().type`.
[[nodiscard]] std::expected<Bytes, EncodeError> encode_payloads(std::span<const Payload> payloads);

// Where the encrypted payload sits in a complete message (received, or encoded with a body of
// the final size). For AEAD (RFC 5282 section 5.1; RFC 7383 section 2.5 for SKF) the
// associated data is [0, body_offset): the IKE header, any payloads before SK/SKF, the SK/SKF
// generic header and, for SKF, Fragment Number and Total Fragments. The body (IV | ciphertext |
// ICV) is [body_offset, end). For non-AEAD integrity the ICV covers [0, end - icv_size).
struct EncryptedLayout {
    PayloadType type = PayloadType::sk;  // sk or skf
    std::size_t payload_offset = 0;      // start of the SK/SKF generic header
    std::size_t body_offset = 0;         // start of the IV == length of the associated data
    std::size_t end = 0;                 // end of the message (== size)
};
// Walks only the generic headers; fails with invalid_syntax if the message has no SK/SKF.
[[nodiscard]] std::expected<EncryptedLayout, DecodeError> encrypted_layout(
    std::span<const std::uint8_t> message);

}  // namespace cgwd::ike
