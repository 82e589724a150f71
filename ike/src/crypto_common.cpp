// SecretBytes, randomness, algorithm tables and the HMAC primitive shared by the crypto layer.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

#include "cgwd/ike/crypto.hpp"
#include "crypto_internal.hpp"

namespace cgwd::ike::crypto {

const char* to_string(CryptoError e) {
    switch (e) {
        case CryptoError::unsupported:
            return "unsupported algorithm";
        case CryptoError::invalid_argument:
            return "invalid argument";
        case CryptoError::invalid_public:
            return "invalid peer public value";
        case CryptoError::rng_failure:
            return "random source failed";
        case CryptoError::internal:
            return "internal crypto failure";
    }
    return "unknown crypto error";
}

// --- SecretBytes -----------------------------------------------------------------------------

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
    if (this != &other) {
        wipe();
        bytes_ = std::vector<std::uint8_t>(other.bytes_);
    }
    return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        wipe();
        bytes_ = std::move(other.bytes_);
        other.bytes_.clear();
    }
    return *this;
}

void SecretBytes::wipe() noexcept {
    // The vector never grows after construction, so data() is the only buffer it ever had.
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
    bytes_.shrink_to_fit();
}

SecretBytes SecretBytes::slice(std::size_t offset, std::size_t length) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset) return SecretBytes();
    return SecretBytes(reveal().subspan(offset, length));
}

bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return equal_constant_time(a.reveal(), b.reveal());
}

bool equal_constant_time(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// --- Randomness ------------------------------------------------------------------------------

bool SystemRandom::fill(std::span<std::uint8_t> out) {
    while (!out.empty()) {
        const std::size_t chunk = std::min<std::size_t>(out.size(), INT_MAX);
        if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
            detail::clear_openssl_errors();
            return false;
        }
        out = out.subspan(chunk);
    }
    return true;
}

std::expected<Bytes, CryptoError> random_nonce(Random& rng, std::size_t size) {
    if (size < 16 || size > 256) return std::unexpected(CryptoError::invalid_argument);
    Bytes nonce(size);
    if (!rng.fill(nonce)) return std::unexpected(CryptoError::rng_failure);
    return nonce;
}

std::expected<std::uint64_t, CryptoError> random_ike_spi(Random& rng) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::uint8_t b[8];
        if (!rng.fill(b)) return std::unexpected(CryptoError::rng_failure);
        std::uint64_t spi = 0;
        for (std::uint8_t x : b) spi = (spi << 8) | x;
        if (spi != 0) return spi;
    }
    return std::unexpected(CryptoError::rng_failure);  // a source that only yields zeros
}

std::expected<std::uint32_t, CryptoError> random_esp_spi(Random& rng) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::uint8_t b[4];
        if (!rng.fill(b)) return std::unexpected(CryptoError::rng_failure);
        const std::uint32_t spi = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                                  (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
        if (spi > 255) return spi;
    }
    return std::unexpected(CryptoError::rng_failure);
}

// --- Algorithm tables ------------------------------------------------------------------------

namespace detail {

const char* prf_digest(std::uint16_t prf_id) {
    switch (prf_id) {
        case config::prf::hmac_sha1:
            return "SHA1";
        case config::prf::hmac_sha2_256:
            return "SHA2-256";
        case config::prf::hmac_sha2_384:
            return "SHA2-384";
        case config::prf::hmac_sha2_512:
            return "SHA2-512";
        default:
            return nullptr;
    }
}

const char* integ_digest(std::uint16_t integ_id) {
    switch (integ_id) {
        case config::integ::hmac_sha1_96:
            return "SHA1";
        case config::integ::hmac_sha2_256_128:
            return "SHA2-256";
        case config::integ::hmac_sha2_384_192:
            return "SHA2-384";
        case config::integ::hmac_sha2_512_256:
            return "SHA2-512";
        default:
            return nullptr;
    }
}

void clear_openssl_errors() {
    ERR_clear_error();
}

namespace {
struct MacFree {
    void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
bool openssl_failed() {
    clear_openssl_errors();
    return false;
}

}  // namespace

bool hmac(const char* digest, ByteView key, std::span<const ByteView> parts,
          std::span<std::uint8_t> out) {
    std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) return openssl_failed();
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) return openssl_failed();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    // HMAC treats a null key as "keep the previous key"; give an empty key a real address.
    static const std::uint8_t empty_key = 0;
    const std::uint8_t* key_ptr = key.empty() ? &empty_key : key.data();
    if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1) {
        return openssl_failed();
    }
    if (EVP_MAC_CTX_get_mac_size(ctx.get()) != out.size()) return false;
    for (ByteView part : parts) {
        if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1) {
            return openssl_failed();
        }
    }
    std::size_t written = 0;
    if (EVP_MAC_final(ctx.get(), out.data(), &written, out.size()) != 1 || written != out.size()) {
        return openssl_failed();
    }
    return true;
}

}  // namespace detail

std::size_t prf_size(std::uint16_t prf_id) {
    switch (prf_id) {
        case config::prf::hmac_sha1:
            return 20;
        case config::prf::hmac_sha2_256:
            return 32;
        case config::prf::hmac_sha2_384:
            return 48;
        case config::prf::hmac_sha2_512:
            return 64;
        default:
            return 0;
    }
}

// RFC 2404 (SHA1-96: 160-bit key), RFC 4868 section 2.1.1 (key = digest size, ICV = half).
std::size_t integ_key_size(std::uint16_t integ_id) {
    return config::integ_key_bytes(integ_id);
}

std::size_t integ_icv_size(std::uint16_t integ_id) {
    return config::integ_icv_bytes(integ_id);
}

std::size_t cipher_keymat_size(const config::Cipher& c) {
    return config::cipher_keymat_bytes(c);
}

}  // namespace cgwd::ike::crypto
