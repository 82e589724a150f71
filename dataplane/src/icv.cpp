#include "cgwd/dataplane/icv.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstring>

#include "cgwd/config/model.hpp"
#include "cgwd/dataplane/dataplane.hpp"

namespace cgwd::dataplane {

namespace {

struct Algorithm {
    std::uint16_t integ;
    const char* digest;
    std::size_t icv_len;
};

// RFC 2404 section 2 and RFC 4868 section 2.6: key length = hash output length; the ICV is the
// leftmost half (SHA2) or leftmost 96 bits (SHA1).
constexpr std::array<Algorithm, 4> algorithms{{
    {config::integ::hmac_sha1_96, "SHA1", 12},
    {config::integ::hmac_sha2_256_128, "SHA256", 16},
    {config::integ::hmac_sha2_384_192, "SHA384", 24},
    {config::integ::hmac_sha2_512_256, "SHA512", 32},
}};

}  // namespace

struct IcvHmac::State {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
    }
};

IcvHmac::IcvHmac(IcvHmac&&) noexcept = default;
IcvHmac& IcvHmac::operator=(IcvHmac&&) noexcept = default;
IcvHmac::~IcvHmac() = default;

std::expected<IcvHmac, Error> IcvHmac::create(std::uint16_t integ,
                                              std::span<const std::uint8_t> key) {
    const Algorithm* alg = nullptr;
    for (const auto& a : algorithms)
        if (a.integ == integ) alg = &a;
    if (!alg) return std::unexpected(Error{Errc::invalid_argument, "unknown integrity id", 0});
    if (key.size() != integ_key_length(integ))
        return std::unexpected(Error{Errc::invalid_argument, "integrity key length", 0});

    IcvHmac h;
    h.icv_len_ = alg->icv_len;
    h.state_ = std::make_unique<State>();
    h.state_->mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (h.state_->mac) h.state_->ctx = EVP_MAC_CTX_new(h.state_->mac);
    if (!h.state_->ctx) return std::unexpected(Error{Errc::crypto, "HMAC context", 0});
    OSSL_PARAM params[2];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(alg->digest), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(h.state_->ctx, key.data(), key.size(), params) != 1)
        return std::unexpected(Error{Errc::crypto, "HMAC key setup", 0});
    return h;
}

bool IcvHmac::compute(std::span<const std::uint8_t> data, std::optional<std::uint32_t> esn_high,
                      std::uint8_t* icv) {
    EVP_MAC_CTX* ctx = state_->ctx;
    // A null key re-initialises the context with the key it already holds.
    if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx, data.data(), data.size()) != 1)
        return false;
    if (esn_high) {
        const std::array<std::uint8_t, 4> high{
            static_cast<std::uint8_t>(*esn_high >> 24), static_cast<std::uint8_t>(*esn_high >> 16),
            static_cast<std::uint8_t>(*esn_high >> 8), static_cast<std::uint8_t>(*esn_high)};
        if (EVP_MAC_update(ctx, high.data(), high.size()) != 1) return false;
    }
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
    std::size_t full_len = 0;
    if (EVP_MAC_final(ctx, full.data(), &full_len, full.size()) != 1 || full_len < icv_len_)
        return false;
    std::memcpy(icv, full.data(), icv_len_);
    OPENSSL_cleanse(full.data(), full.size());
    return true;
}

}  // namespace cgwd::dataplane
