// IKEv2 cryptography behind a small interface; OpenSSL 3 EVP underneath (EVP_MAC for HMAC,
// EVP_PKEY for Diffie-Hellman / ECDH / X25519, EVP_CIPHER for AES).
//
//   - PRFs and prf+ (RFC 7296 section 2.13; HMAC-SHA1 RFC 2104, HMAC-SHA2 RFC 4868) and the
//     truncated HMAC integrity algorithms (RFC 2404, RFC 4868).
//   - Key derivation: IKE SA keys (section 2.14), rekeyed IKE SA keys (section 2.18), CHILD_SA
//     KEYMAT (section 2.17; AES-GCM salt per RFC 4106 section 8.1 / RFC 5282 section 7.1).
//   - Shared-key AUTH payload value (section 2.15).
//   - Key exchange (section 3.4): MODP groups 2, 5, 14-18 (RFC 2409 / RFC 3526), MODP with
//     prime-order subgroup 22-24 (RFC 5114), ECP 19-21 (RFC 5903), Curve25519 31 (RFC 8031).
//   - Encrypted (SK) payload protection (section 3.14; AES-GCM per RFC 5282).
//   - Random bytes through an injectable `Random` so tests are deterministic.
//
// Transform ids are those of cgwd/config/model.hpp (namespaces encr, prf, integ). Functions
// return std::expected; nothing here throws on bad input. Key material travels in SecretBytes,
// which is wiped with OPENSSL_cleanse() when destroyed and has no printing support.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <initializer_list>
#include <span>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/config/secret.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace cgwd::ike::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

enum class CryptoError {
    unsupported,       // transform id, key length or DH group not implemented
    invalid_argument,  // a length that does not fit the algorithm (key, SPI, prf+ output, ...)
    invalid_public,    // the peer's KE value failed validation
    rng_failure,       // the random source failed
    internal,          // OpenSSL reported an unexpected failure
};
const char* to_string(CryptoError);

// The only failure `SkCipher::open` reports: wrong ICV, bad length, bad padding all look the
// same to the caller (and to the peer), so there is no padding/MAC oracle.
struct IntegrityError {
    friend bool operator==(IntegrityError, IntegrityError) = default;
};

// Key material. Fixed size once built; wiped on destruction and before being overwritten.
// There is deliberately no operator<< / to_string: reach the bytes through reveal().
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(std::size_t size) : bytes_(size) {}  // zero-filled
    explicit SecretBytes(ByteView bytes) : bytes_(bytes.begin(), bytes.end()) {}
    SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
    SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    SecretBytes& operator=(const SecretBytes& other);
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    ~SecretBytes() { wipe(); }

    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }
    ByteView reveal() const { return bytes_; }
    std::span<std::uint8_t> writable() { return bytes_; }
    // A copy of [offset, offset + length); the range must lie inside.
    SecretBytes slice(std::size_t offset, std::size_t length) const;
    // Constant-time comparison (for tests and for comparing derived values).
    friend bool operator==(const SecretBytes& a, const SecretBytes& b);

  private:
    void wipe() noexcept;
    std::vector<std::uint8_t> bytes_;
};

// ---------------------------------------------------------------------------------------------
// Randomness

// Source of random bytes for nonces, SPIs and IVs. Production code uses SystemRandom; tests
// inject a deterministic implementation.
class Random {
  public:
    virtual ~Random() = default;
    // Fills `out` completely; false if the source failed.
    [[nodiscard]] virtual bool fill(std::span<std::uint8_t> out) = 0;
};

// OpenSSL's RAND_bytes (the default DRBG, seeded from the OS).
class SystemRandom final : public Random {
  public:
    [[nodiscard]] bool fill(std::span<std::uint8_t> out) override;
};

// Nonce for IKE_SA_INIT / CREATE_CHILD_SA. RFC 7296 section 2.10: at least 16 octets and at
// least half the PRF key size; 32 satisfies every PRF here. Allowed sizes: 16..256.
[[nodiscard]] std::expected<Bytes, CryptoError> random_nonce(Random& rng, std::size_t size = 32);
// Non-zero IKE SPI (RFC 7296 section 3.1).
[[nodiscard]] std::expected<std::uint64_t, CryptoError> random_ike_spi(Random& rng);
// ESP SPI outside the reserved range 0..255 (RFC 4303 section 2.1).
[[nodiscard]] std::expected<std::uint32_t, CryptoError> random_esp_spi(Random& rng);

// ---------------------------------------------------------------------------------------------
// Algorithm sizes (0 when the id is not supported)

std::size_t prf_size(std::uint16_t prf_id);               // output and preferred key size
std::size_t integ_key_size(std::uint16_t integ_id);       // 0 also for integ::none
std::size_t integ_icv_size(std::uint16_t integ_id);       // truncated MAC length
std::size_t cipher_keymat_size(const config::Cipher& c);  // AES key, + 4 salt octets for GCM

// ---------------------------------------------------------------------------------------------
// PRF, prf+, integrity MAC

// prf(key, data_1 | data_2 | ...): the parts are fed in order without being concatenated.
[[nodiscard]] std::expected<SecretBytes, CryptoError> prf(std::uint16_t prf_id, ByteView key,
                                                          std::initializer_list<ByteView> data);
// prf+ (RFC 7296 section 2.13): T1 | T2 | ... truncated to `length`, with
// Tn = prf(key, Tn-1 | seed | n); n is one octet, so length <= 255 * prf_size.
[[nodiscard]] std::expected<SecretBytes, CryptoError> prf_plus(std::uint16_t prf_id, ByteView key,
                                                               std::initializer_list<ByteView> seed,
                                                               std::size_t length);
// Truncated HMAC of an integrity transform (HMAC-SHA1-96, HMAC-SHA2-256-128, ...).
[[nodiscard]] std::expected<Bytes, CryptoError> integ_mac(std::uint16_t integ_id, ByteView key,
                                                          ByteView data);

// ---------------------------------------------------------------------------------------------
// Key derivation

struct IkeSaTransforms {
    config::Cipher encr;
    std::uint16_t integ = config::integ::none;  // none for AES-GCM
    std::uint16_t prf = config::prf::hmac_sha2_256;
};

// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}, sized by the transforms: SK_d and
// SK_p* by the PRF, SK_a* by the integrity algorithm (empty for AEAD), SK_e* by the cipher
// (key followed by the 4-octet salt for AES-GCM).
struct IkeSaKeys {
    SecretBytes sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

// Initial IKE SA (RFC 7296 section 2.14):
//   SKEYSEED = prf(Ni | Nr, g^ir)
//   keys     = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
// SPIs as in the IKE header (sent big-endian). `shared_secret` is KeyExchange::shared_secret().
[[nodiscard]] std::expected<IkeSaKeys, CryptoError> derive_ike_sa_keys(
    const IkeSaTransforms& transforms, ByteView shared_secret, ByteView ni, ByteView nr,
    std::uint64_t spi_i, std::uint64_t spi_r);

// Rekeyed IKE SA (RFC 7296 section 2.18): SKEYSEED = prf_old(SK_d(old), g^ir(new) | Ni | Nr)
// with the OLD IKE SA's PRF; then prf+ of the NEW SA's PRF as above with the new SPIs.
[[nodiscard]] std::expected<IkeSaKeys, CryptoError> derive_rekeyed_ike_sa_keys(
    std::uint16_t old_prf, ByteView old_sk_d, const IkeSaTransforms& transforms,
    ByteView shared_secret, ByteView ni, ByteView nr, std::uint64_t spi_i, std::uint64_t spi_r);

struct ChildSaTransforms {
    config::Cipher encr;
    std::uint16_t integ = config::integ::none;  // none for AES-GCM
};

// One direction of an ESP SA: encryption key (AES key, + 4-octet salt for GCM) and
// integrity key (empty for AEAD).
struct EspKeys {
    SecretBytes encr;
    SecretBytes integ;
};

// "Initiator" is the initiator of the exchange that created the CHILD_SA (IKE_AUTH or
// CREATE_CHILD_SA), which is not necessarily the IKE SA's original initiator.
struct ChildSaKeys {
    EspKeys initiator_to_responder;
    EspKeys responder_to_initiator;
};

// KEYMAT = prf+(SK_d, [g^ir(new) |] Ni | Nr) (RFC 7296 sections 2.17, 1.3.1), split as
// encr_i | integ_i | encr_r | integ_r. `pfs_shared_secret` empty: no PFS exchange.
[[nodiscard]] std::expected<ChildSaKeys, CryptoError> derive_child_sa_keys(
    std::uint16_t prf_id, ByteView sk_d, const ChildSaTransforms& transforms, ByteView ni,
    ByteView nr, ByteView pfs_shared_secret = {});

// ---------------------------------------------------------------------------------------------
// Shared-key authentication (RFC 7296 section 2.15)

// <SignedOctets> = RealMessage | Nonce | prf(SK_p, RestOfIDPayload) where, for the AUTH the
// initiator sends: RealMessage1 (its IKE_SA_INIT request), NonceRData, SK_pi, IDi; for the
// responder's: RealMessage2 (its IKE_SA_INIT response), NonceIData, SK_pr, IDr.
// `id_payload_body` is the ID payload without its generic header (ID Type | RESERVED | data).
[[nodiscard]] std::expected<Bytes, CryptoError> auth_signed_octets(std::uint16_t prf_id,
                                                                   ByteView real_message,
                                                                   ByteView nonce, ByteView sk_p,
                                                                   ByteView id_payload_body);

// AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>).
[[nodiscard]] std::expected<Bytes, CryptoError> psk_auth(std::uint16_t prf_id, ByteView psk,
                                                         ByteView signed_octets);
[[nodiscard]] std::expected<Bytes, CryptoError> psk_auth(std::uint16_t prf_id,
                                                         const config::Secret& psk,
                                                         ByteView signed_octets);

// Constant-time equality for comparing a received AUTH value with the expected one.
bool equal_constant_time(ByteView a, ByteView b);

// ---------------------------------------------------------------------------------------------
// Key exchange (Diffie-Hellman / ECDH / X25519)

bool ke_group_supported(std::uint16_t group);
// Octets of the KE payload's Key Exchange Data for the group (0 if unsupported).
std::size_t ke_public_size(std::uint16_t group);

// One side of one key exchange: an ephemeral private key and its public value. Move-only; the
// private key is freed (and cleared by OpenSSL) on destruction, so drop the object as soon as
// the shared secret has been computed.
class KeyExchange {
  public:
    [[nodiscard]] static std::expected<KeyExchange, CryptoError> generate(std::uint16_t group);
    // For known-answer tests only: a fixed private key (ECP: big-endian scalar of the field
    // size; Curve25519: the 32-octet scalar as in RFC 7748). MODP groups: unsupported.
    [[nodiscard]] static std::expected<KeyExchange, CryptoError> from_private_key_for_testing(
        std::uint16_t group, ByteView private_key);

    KeyExchange(KeyExchange&& other) noexcept;
    KeyExchange& operator=(KeyExchange&& other) noexcept;
    KeyExchange(const KeyExchange&) = delete;
    KeyExchange& operator=(const KeyExchange&) = delete;
    ~KeyExchange();

    std::uint16_t group() const { return group_; }
    // KE payload format (RFC 7296 section 3.4): MODP: g^x big-endian, zero-padded to the
    // prime's length; ECP: x | y, each the field size (RFC 5903 section 7); Curve25519: the
    // 32-octet u-coordinate (RFC 8031 section 2).
    const Bytes& public_value() const { return public_; }

    // g^ir from the peer's KE data, after validating it: exact length; MODP: 1 < y < p-1 and,
    // for the RFC 5114 groups, y^q = 1 (RFC 6989); ECP: point on the curve; Curve25519: the
    // result is not all zero. MODP results are zero-padded to the prime's length; ECP gives
    // the x coordinate (RFC 5903 section 9).
    [[nodiscard]] std::expected<SecretBytes, CryptoError> shared_secret(ByteView peer_public) const;

  private:
    KeyExchange(std::uint16_t group, evp_pkey_st* key, Bytes public_value);
    std::uint16_t group_ = 0;
    evp_pkey_st* key_ = nullptr;
    Bytes public_;
};

// ---------------------------------------------------------------------------------------------
// Encrypted payload protection (RFC 7296 section 3.14; RFC 5282 for AES-GCM)

// One direction of an IKE SA's SK payload protection (SK_ei/SK_ai or SK_er/SK_ar).
//   AES-CBC + HMAC: body = IV(16) | AES-CBC(plaintext | padding | pad length) | ICV, where
//     ICV = truncated HMAC(SK_a, associated data | IV | ciphertext) (encrypt-then-MAC over the
//     whole message up to the ICV). IV from the Random source.
//   AES-GCM-16: body = IV(8) | ciphertext | tag(16), nonce = salt(4) | IV(8) (RFC 5282
//     section 3.1), associated data authenticated by GCM. The IV is a per-key counter, so it
//     never repeats for the lifetime of the object; hence move-only.
// `associated_data` is the message from the IKE header up to and including the SK (or SKF)
// payload header — everything before the body (see EncryptedLayout in message.hpp). Its
// length fields must already hold their final values: size the body with sealed_size().
class SkCipher {
  public:
    // encr_key: SK_e (for GCM: key | salt); integ_key: SK_a (empty for GCM).
    [[nodiscard]] static std::expected<SkCipher, CryptoError> create(const config::Cipher& encr,
                                                                     std::uint16_t integ,
                                                                     ByteView encr_key,
                                                                     ByteView integ_key);
    SkCipher(SkCipher&&) noexcept = default;
    SkCipher& operator=(SkCipher&&) noexcept = default;
    SkCipher(const SkCipher&) = delete;
    SkCipher& operator=(const SkCipher&) = delete;
    ~SkCipher() = default;

    std::size_t iv_size() const { return aead_ ? 8 : 16; }
    std::size_t icv_size() const { return icv_size_; }
    // Size of the body seal() produces for `plaintext_size` octets of inner payloads.
    std::size_t sealed_size(std::size_t plaintext_size) const;

    // IV | ciphertext | ICV for the inner payload chain `plaintext`.
    [[nodiscard]] std::expected<Bytes, CryptoError> seal(ByteView associated_data,
                                                         ByteView plaintext, Random& rng);
    // The inner payload chain (padding and pad length removed), or IntegrityError for ANY
    // failure (length, ICV/tag, padding).
    [[nodiscard]] std::expected<Bytes, IntegrityError> open(ByteView associated_data,
                                                            ByteView body) const;

  private:
    SkCipher() = default;
    bool aead_ = false;
    std::uint16_t integ_ = config::integ::none;
    std::size_t icv_size_ = 0;
    SecretBytes encr_key_;  // AES key only
    SecretBytes salt_;      // GCM
    SecretBytes integ_key_;
    std::uint64_t next_iv_ = 1;  // GCM explicit IV counter
};

}  // namespace cgwd::ike::crypto
