// Encrypted (SK) payload protection: RFC 7296 section 3.14 (AES-CBC, RFC 3602, with HMAC
// integrity, RFC 2404 / RFC 4868) and RFC 5282 (AES-GCM with a 16-octet ICV).
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <climits>

#include "cgwd/ike/crypto.hpp"
#include "crypto_internal.hpp"

namespace cgwd::ike::crypto {

namespace {

constexpr std::size_t cbc_block = 16;
constexpr std::size_t cbc_iv = 16;
constexpr std::size_t gcm_iv = 8;    // RFC 5282 section 3.1: explicit IV
constexpr std::size_t gcm_salt = 4;  // RFC 5282 section 7.1
constexpr std::size_t gcm_icv = 16;  // ENCR_AES_GCM_16

std::unexpected<CryptoError> internal_error() {
    detail::clear_openssl_errors();
    return std::unexpected(CryptoError::internal);
}

const char* cipher_name(bool aead, std::size_t key_size) {
    if (aead) return key_size == 16 ? "AES-128-GCM" : "AES-256-GCM";
    return key_size == 16 ? "AES-128-CBC" : "AES-256-CBC";
}

// Runs one AES operation. CBC: no padding, `iv` is the 16-octet IV, `aad` and `tag` unused.
// GCM: `iv` is the 12-octet nonce; on encrypt `tag` receives the tag, on decrypt it is
// checked. Returns false on any failure, including a tag mismatch.
bool run_cipher(bool aead, bool encrypt, ByteView key, ByteView iv, ByteView aad, ByteView in,
                std::uint8_t* out, std::span<std::uint8_t> tag) {
    if (in.size() > INT_MAX || aad.size() > INT_MAX) return false;
    detail::CipherPtr cipher(EVP_CIPHER_fetch(nullptr, cipher_name(aead, key.size()), nullptr));
    detail::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!cipher || !ctx ||
        EVP_CipherInit_ex2(ctx.get(), cipher.get(), key.data(), iv.data(), encrypt ? 1 : 0,
                           nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
        return false;
    }
    int len = 0;
    if (aead && !aad.empty() &&
        EVP_CipherUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
        return false;
    }
    int written = 0;
    if (!in.empty()) {
        if (EVP_CipherUpdate(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1) {
            return false;
        }
        written = len;
    }
    if (aead && !encrypt) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
            OSSL_PARAM_construct_end()};
        if (EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1) return false;
    }
    std::uint8_t final_block[cbc_block];
    if (EVP_CipherFinal_ex(ctx.get(), final_block, &len) != 1 || len != 0) return false;
    if (static_cast<std::size_t>(written) != in.size()) return false;
    if (aead && encrypt) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
            OSSL_PARAM_construct_end()};
        if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1) return false;
    }
    return true;
}

}  // namespace

std::expected<SkCipher, CryptoError> SkCipher::create(const config::Cipher& encr,
                                                      std::uint16_t integ, ByteView encr_key,
                                                      ByteView integ_key) {
    const std::size_t keymat = cipher_keymat_size(encr);
    if (keymat == 0) return std::unexpected(CryptoError::unsupported);
    if (encr_key.size() != keymat) return std::unexpected(CryptoError::invalid_argument);
    SkCipher c;
    c.aead_ = encr.is_aead();
    if (c.aead_) {
        if (integ != config::integ::none) return std::unexpected(CryptoError::unsupported);
        if (!integ_key.empty()) return std::unexpected(CryptoError::invalid_argument);
        c.icv_size_ = gcm_icv;
        c.encr_key_ = SecretBytes(encr_key.first(keymat - gcm_salt));
        c.salt_ = SecretBytes(encr_key.last(gcm_salt));
    } else {
        if (integ_key_size(integ) == 0) return std::unexpected(CryptoError::unsupported);
        if (integ_key.size() != integ_key_size(integ)) {
            return std::unexpected(CryptoError::invalid_argument);
        }
        c.integ_ = integ;
        c.icv_size_ = integ_icv_size(integ);
        c.encr_key_ = SecretBytes(encr_key);
        c.integ_key_ = SecretBytes(integ_key);
    }
    return c;
}

std::size_t SkCipher::sealed_size(std::size_t plaintext_size) const {
    if (aead_) return gcm_iv + plaintext_size + 1 + gcm_icv;  // no padding, pad length 0
    const std::size_t padded = (plaintext_size + 1 + cbc_block - 1) / cbc_block * cbc_block;
    return cbc_iv + padded + icv_size_;
}

std::expected<Bytes, CryptoError> SkCipher::seal(ByteView associated_data, ByteView plaintext,
                                                 Random& rng) {
    Bytes out(sealed_size(plaintext.size()));
    const std::size_t iv_len = iv_size();
    const std::size_t ct_len = out.size() - iv_len - icv_size_;
    // plaintext | padding (zeros) | pad length (RFC 7296 section 3.14)
    Bytes padded(ct_len, 0);
    std::copy(plaintext.begin(), plaintext.end(), padded.begin());
    padded.back() = static_cast<std::uint8_t>(ct_len - plaintext.size() - 1);

    const std::span<std::uint8_t> iv(out.data(), iv_len);
    std::uint8_t* ct = out.data() + iv_len;
    const std::span<std::uint8_t> icv(out.data() + iv_len + ct_len, icv_size_);

    if (aead_) {
        if (next_iv_ == 0) return std::unexpected(CryptoError::internal);  // 2^64 messages
        std::uint64_t counter = next_iv_++;
        for (std::size_t i = gcm_iv; i-- > 0;) {
            iv[i] = static_cast<std::uint8_t>(counter & 0xff);
            counter >>= 8;
        }
        std::array<std::uint8_t, gcm_salt + gcm_iv> nonce{};
        std::copy(salt_.reveal().begin(), salt_.reveal().end(), nonce.begin());
        std::copy(iv.begin(), iv.end(), nonce.begin() + gcm_salt);
        const bool ok =
            run_cipher(true, true, encr_key_.reveal(), nonce, associated_data, padded, ct, icv);
        OPENSSL_cleanse(nonce.data(), nonce.size());
        if (!ok) return internal_error();
        return out;
    }

    if (!rng.fill(iv)) return std::unexpected(CryptoError::rng_failure);
    if (!run_cipher(false, true, encr_key_.reveal(), iv, {}, padded, ct, {})) {
        return internal_error();
    }
    // Encrypt-then-MAC: the ICV covers the message from the IKE header through the ciphertext.
    SecretBytes mac(integ_key_size(integ_));
    if (!detail::hmac(detail::integ_digest(integ_), integ_key_.reveal(),
                      {associated_data, ByteView(out.data(), iv_len + ct_len)}, mac.writable())) {
        return internal_error();
    }
    std::copy_n(mac.reveal().begin(), icv_size_, icv.begin());
    return out;
}

std::expected<Bytes, IntegrityError> SkCipher::open(ByteView associated_data, ByteView body) const {
    const auto failed = [] {
        detail::clear_openssl_errors();
        return std::unexpected(IntegrityError{});
    };
    const std::size_t iv_len = iv_size();
    const std::size_t min_ct = aead_ ? 1 : cbc_block;  // at least the pad length octet
    if (body.size() < iv_len + min_ct + icv_size_) return failed();
    const std::size_t ct_len = body.size() - iv_len - icv_size_;
    if (!aead_ && ct_len % cbc_block != 0) return failed();
    const ByteView iv = body.first(iv_len);
    const ByteView ct = body.subspan(iv_len, ct_len);
    const ByteView icv = body.last(icv_size_);

    Bytes plain(ct_len);
    if (aead_) {
        std::array<std::uint8_t, gcm_salt + gcm_iv> nonce{};
        std::copy(salt_.reveal().begin(), salt_.reveal().end(), nonce.begin());
        std::copy(iv.begin(), iv.end(), nonce.begin() + gcm_salt);
        std::array<std::uint8_t, gcm_icv> tag{};
        std::copy(icv.begin(), icv.end(), tag.begin());
        const bool ok = run_cipher(true, false, encr_key_.reveal(), nonce, associated_data, ct,
                                   plain.data(), tag);
        OPENSSL_cleanse(nonce.data(), nonce.size());
        if (!ok) return failed();
    } else {
        // Verify before decrypting; compare in constant time.
        SecretBytes mac(integ_key_size(integ_));
        if (!detail::hmac(detail::integ_digest(integ_), integ_key_.reveal(),
                          {associated_data, body.first(iv_len + ct_len)}, mac.writable())) {
            return failed();
        }
        if (CRYPTO_memcmp(mac.reveal().data(), icv.data(), icv_size_) != 0) return failed();
        if (!run_cipher(false, false, encr_key_.reveal(), iv, {}, ct, plain.data(), {})) {
            return failed();
        }
    }
    // Pad Length: any value that fits (RFC 7296 section 3.14: accept any padding contents).
    const std::size_t pad = plain.back();
    if (pad + 1 > plain.size()) return failed();
    plain.resize(plain.size() - pad - 1);
    return plain;
}

}  // namespace cgwd::ike::crypto
