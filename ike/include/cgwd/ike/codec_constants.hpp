// IKEv2 wire constants: payload types, exchange types, protocol ids, transform types, ID types,
// AUTH methods, traffic-selector types and Notify message types.
//
// Values from RFC 7296 section 3 and the IANA "Internet Key Exchange Version 2 (IKEv2)
// Parameters" registries; SKF from RFC 7383, MOBIKE_SUPPORTED from RFC 4555,
// SIGNATURE_HASH_ALGORITHMS from RFC 7427. All enums are open: any on-wire value can be held,
// the named enumerators are just the ones cgwd uses. Transform ids live in
// cgwd/config/model.hpp (config::encr, config::prf, config::integ, config::esn).
#pragma once

#include <cstdint>

namespace cgwd::ike {

// RFC 7296 section 3.2 (Next Payload / payload type codes); 53 = SKF, RFC 7383 section 2.5.
enum class PayloadType : std::uint8_t {
    none = 0,
    sa = 33,
    ke = 34,
    idi = 35,
    idr = 36,
    cert = 37,
    certreq = 38,
    auth = 39,
    nonce = 40,
    notify = 41,
    del = 42,
    vendor_id = 43,
    tsi = 44,
    tsr = 45,
    sk = 46,
    cp = 47,
    eap = 48,
    skf = 53,
};

// RFC 7296 section 3.1.
enum class ExchangeType : std::uint8_t {
    ike_sa_init = 34,
    ike_auth = 35,
    create_child_sa = 36,
    informational = 37,
};

// RFC 7296 section 3.3.1 (Protocol ID in proposals, Notify and Delete).
enum class ProtocolId : std::uint8_t {
    none = 0,  // Notify not about a specific SA
    ike = 1,
    ah = 2,
    esp = 3,
};

// RFC 7296 section 3.3.2.
enum class TransformType : std::uint8_t {
    encr = 1,
    prf = 2,
    integ = 3,
    dh = 4,  // "Key Exchange Method" since RFC 9370
    esn = 5,
};

// RFC 7296 section 3.3.5: the only attribute IKEv2 defines (TV format, value in bits).
inline constexpr std::uint16_t attribute_key_length = 14;

// RFC 7296 section 3.5.
enum class IdType : std::uint8_t {
    ipv4_addr = 1,
    fqdn = 2,
    rfc822_addr = 3,
    ipv6_addr = 5,
    der_asn1_dn = 9,
    der_asn1_gn = 10,
    key_id = 11,
};

// RFC 7296 section 3.8; 14 = Digital Signature, RFC 7427.
enum class AuthMethod : std::uint8_t {
    rsa_signature = 1,
    shared_key_mic = 2,
    dss_signature = 3,
    ecdsa_sha256_p256 = 9,
    ecdsa_sha384_p384 = 10,
    ecdsa_sha512_p521 = 11,
    digital_signature = 14,
};

// RFC 7296 section 3.13.1.
enum class TsType : std::uint8_t {
    ipv4_addr_range = 7,
    ipv6_addr_range = 8,
};

// RFC 7296 section 3.10.1 and the IANA "IKEv2 Notify Message Types" registry.
enum class NotifyType : std::uint16_t {
    // Error types (< 16384).
    unsupported_critical_payload = 1,
    invalid_ike_spi = 4,
    invalid_major_version = 5,
    invalid_syntax = 7,
    invalid_message_id = 9,
    invalid_spi = 11,
    no_proposal_chosen = 14,
    invalid_ke_payload = 17,
    authentication_failed = 24,
    single_pair_required = 34,
    no_additional_sas = 35,
    internal_address_failure = 36,
    failed_cp_required = 37,
    ts_unacceptable = 38,
    invalid_selectors = 39,
    temporary_failure = 43,
    child_sa_not_found = 44,
    // Status types (>= 16384).
    initial_contact = 16384,
    set_window_size = 16385,
    additional_ts_possible = 16386,
    ipcomp_supported = 16387,
    nat_detection_source_ip = 16388,
    nat_detection_destination_ip = 16389,
    cookie = 16390,
    use_transport_mode = 16391,
    http_cert_lookup_supported = 16392,
    rekey_sa = 16393,
    esp_tfc_padding_not_supported = 16394,
    non_first_fragments_also = 16395,
    mobike_supported = 16396,               // RFC 4555
    ikev2_fragmentation_supported = 16430,  // RFC 7383
    signature_hash_algorithms = 16431,      // RFC 7427
};

// RFC 7296 section 3.10.1: types below 16384 report errors.
constexpr bool is_error(NotifyType t) {
    return static_cast<std::uint16_t>(t) < 16384;
}

// Short upper-case names for logs ("SA", "KE", "N", "SK", ...); "?" for unassigned values.
const char* to_string(PayloadType);
const char* to_string(ExchangeType);  // "IKE_SA_INIT", ...
const char* to_string(NotifyType);    // "NO_PROPOSAL_CHOSEN", ...

}  // namespace cgwd::ike
