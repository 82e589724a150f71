// Helpers shared by the crypto_*.cpp files (not part of the public interface): RAII owners
// for OpenSSL objects, the digest behind each PRF / integrity transform, one-shot HMAC.
#pragma once

#include <openssl/evp.h>

#include <memory>

#include "cgwd/ike/crypto.hpp"

namespace cgwd::ike::crypto::detail {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct CipherFree {
    void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;

// OpenSSL digest name ("SHA1", "SHA2-256", ...) of a PRF / integrity transform, or nullptr.
const char* prf_digest(std::uint16_t prf_id);
const char* integ_digest(std::uint16_t integ_id);

// HMAC(key, part_1 | part_2 | ...) with the named digest, written to `out` (which must be the
// digest size). False on any OpenSSL failure.
[[nodiscard]] bool hmac(const char* digest, ByteView key, std::span<const ByteView> parts,
                        std::span<std::uint8_t> out);
[[nodiscard]] inline bool hmac(const char* digest, ByteView key,
                               std::initializer_list<ByteView> parts, std::span<std::uint8_t> out) {
    return hmac(digest, key, std::span<const ByteView>(parts.begin(), parts.size()), out);
}

// OpenSSL's error queue is left clean after a failure we report as a value.
void clear_openssl_errors();

}  // namespace cgwd::ike::crypto::detail
