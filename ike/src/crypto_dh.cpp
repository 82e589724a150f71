// Key exchange for the KE payload (RFC 7296 section 3.4): MODP (RFC 2409 / RFC 3526), MODP with
// prime-order subgroups (RFC 5114, validated per RFC 6989), ECP (RFC 5903), Curve25519
// (RFC 8031). All through EVP_PKEY; OpenSSL's named groups supply the domain parameters except
// for group 2, whose RFC 2409 prime comes from BN_get_rfc2409_prime_1024().
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "cgwd/ike/crypto.hpp"
#include "crypto_internal.hpp"

namespace cgwd::ike::crypto {

namespace {

using detail::PkeyCtxPtr;
using detail::PkeyPtr;

enum class Kind { modp, ecp, x25519 };

struct Group {
    std::uint16_t id;
    Kind kind;
    const char* name;         // OpenSSL group name (nullptr: explicit parameters, group 2)
    std::size_t public_size;  // KE data octets
    int curve_nid;            // ECP only, for the test-only private key import
};

// IANA "Transform Type 4 - Key Exchange Method Transform IDs".
constexpr Group groups[] = {
    {2, Kind::modp, nullptr, 128, 0},                    // RFC 2409 section 6.2, 1024-bit MODP
    {5, Kind::modp, "modp_1536", 192, 0},                // RFC 3526 section 2
    {14, Kind::modp, "modp_2048", 256, 0},               // RFC 3526 section 3
    {15, Kind::modp, "modp_3072", 384, 0},               // RFC 3526 section 4
    {16, Kind::modp, "modp_4096", 512, 0},               // RFC 3526 section 5
    {17, Kind::modp, "modp_6144", 768, 0},               // RFC 3526 section 6
    {18, Kind::modp, "modp_8192", 1024, 0},              // RFC 3526 section 7
    {19, Kind::ecp, "P-256", 64, NID_X9_62_prime256v1},  // RFC 5903
    {20, Kind::ecp, "P-384", 96, NID_secp384r1},
    {21, Kind::ecp, "P-521", 132, NID_secp521r1},
    {22, Kind::modp, "dh_1024_160", 128, 0},  // RFC 5114 section 2.1
    {23, Kind::modp, "dh_2048_224", 256, 0},  // RFC 5114 section 2.2
    {24, Kind::modp, "dh_2048_256", 256, 0},  // RFC 5114 section 2.3
    {31, Kind::x25519, "X25519", 32, 0},      // RFC 8031
};

const Group* find_group(std::uint16_t id) {
    for (const Group& g : groups) {
        if (g.id == id) return &g;
    }
    return nullptr;
}

struct BnFree {
    void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcGroupFree {
    void operator()(EC_GROUP* p) const { EC_GROUP_free(p); }
};
struct EcPointFree {
    void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;

std::unexpected<CryptoError> fail(CryptoError e) {
    detail::clear_openssl_errors();
    return std::unexpected(e);
}

// Domain parameters of a MODP group, pushed onto a param builder.
bool push_modp_domain(const Group& g, OSSL_PARAM_BLD* bld, std::vector<BnPtr>& keep) {
    if (g.name != nullptr) {
        return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, g.name, 0) == 1;
    }
    // Group 2: p from RFC 2409 section 6.2, g = 2. No q is given: OpenSSL 3.0 then draws a
    // full-length private exponent (with q it refuses to generate for this group). p is a safe
    // prime, so the range check 1 < y < p-1 in import_peer() excludes the only small subgroup.
    BnPtr p(BN_get_rfc2409_prime_1024(nullptr));
    BnPtr gen(BN_new());
    if (!p || !gen || BN_set_word(gen.get(), 2) != 1) return false;
    const bool ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p.get()) == 1 &&
                    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, gen.get()) == 1;
    keep.push_back(std::move(p));  // the builder refers to the BIGNUMs until to_param()
    keep.push_back(std::move(gen));
    return ok;
}

PkeyPtr pkey_from_params(const char* type, int selection, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &key, selection, params.get()) != 1) return nullptr;
    return PkeyPtr(key);
}

// The KE payload value of our own key.
std::expected<Bytes, CryptoError> export_public(const Group& g, EVP_PKEY* key) {
    Bytes out(g.public_size);
    switch (g.kind) {
        case Kind::modp: {
            BIGNUM* raw = nullptr;
            if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &raw) != 1) {
                return fail(CryptoError::internal);
            }
            BnPtr pub(raw);
            if (BN_bn2binpad(pub.get(), out.data(), static_cast<int>(out.size())) < 0) {
                return fail(CryptoError::internal);
            }
            return out;
        }
        case Kind::ecp: {
            // Uncompressed SEC1 point 0x04 | x | y; the KE payload carries x | y.
            Bytes sec1(1 + g.public_size);
            std::size_t len = 0;
            if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                sec1.data(), sec1.size(), &len) != 1 ||
                len != sec1.size() || sec1[0] != 0x04) {
                return fail(CryptoError::internal);
            }
            std::copy(sec1.begin() + 1, sec1.end(), out.begin());
            return out;
        }
        case Kind::x25519: {
            std::size_t len = out.size();
            if (EVP_PKEY_get_raw_public_key(key, out.data(), &len) != 1 || len != out.size()) {
                return fail(CryptoError::internal);
            }
            return out;
        }
    }
    return fail(CryptoError::internal);
}

// Builds an EVP_PKEY for the peer's KE value after the checks OpenSSL does not do for us.
std::expected<PkeyPtr, CryptoError> import_peer(const Group& g, EVP_PKEY* own, ByteView value) {
    if (value.size() != g.public_size) return fail(CryptoError::invalid_public);
    switch (g.kind) {
        case Kind::modp: {
            // RFC 7296 / RFC 6989: 1 < y < p - 1 (rules out 0, 1, p - 1 and values >= p).
            BIGNUM* raw_p = nullptr;
            if (EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_FFC_P, &raw_p) != 1) {
                return fail(CryptoError::internal);
            }
            BnPtr p(raw_p);
            BnPtr y(BN_bin2bn(value.data(), static_cast<int>(value.size()), nullptr));
            BnPtr p_minus_1(BN_dup(p.get()));
            if (!y || !p_minus_1 || BN_sub_word(p_minus_1.get(), 1) != 1) {
                return fail(CryptoError::internal);
            }
            if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p_minus_1.get()) >= 0) {
                return fail(CryptoError::invalid_public);
            }
            ParamBldPtr bld(OSSL_PARAM_BLD_new());
            std::vector<BnPtr> keep;
            if (!bld || !push_modp_domain(g, bld.get(), keep) ||
                OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
                return fail(CryptoError::internal);
            }
            PkeyPtr peer = pkey_from_params("DH", EVP_PKEY_PUBLIC_KEY, bld.get());
            if (!peer) return fail(CryptoError::invalid_public);
            return peer;
        }
        case Kind::ecp: {
            // RFC 5903 section 7: x | y; OpenSSL rejects a point that is not on the curve.
            Bytes sec1(1 + value.size());
            sec1[0] = 0x04;
            std::copy(value.begin(), value.end(), sec1.begin() + 1);
            ParamBldPtr bld(OSSL_PARAM_BLD_new());
            if (!bld ||
                OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, g.name, 0) !=
                    1 ||
                OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, sec1.data(),
                                                 sec1.size()) != 1) {
                return fail(CryptoError::internal);
            }
            PkeyPtr peer = pkey_from_params("EC", EVP_PKEY_PUBLIC_KEY, bld.get());
            if (!peer) return fail(CryptoError::invalid_public);
            return peer;
        }
        case Kind::x25519: {
            PkeyPtr peer(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, value.data(),
                                                        value.size()));
            if (!peer) return fail(CryptoError::invalid_public);
            return peer;
        }
    }
    return fail(CryptoError::internal);
}

std::expected<PkeyPtr, CryptoError> generate_key(const Group& g) {
    PkeyCtxPtr ctx;
    switch (g.kind) {
        case Kind::modp: {
            if (g.name != nullptr) {
                ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
                if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) break;
                OSSL_PARAM params[] = {
                    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     const_cast<char*>(g.name), 0),
                    OSSL_PARAM_construct_end()};
                if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) ctx.reset();
            } else {
                ParamBldPtr bld(OSSL_PARAM_BLD_new());
                std::vector<BnPtr> keep;
                if (!bld || !push_modp_domain(g, bld.get(), keep)) break;
                PkeyPtr domain = pkey_from_params("DH", EVP_PKEY_KEY_PARAMETERS, bld.get());
                if (!domain) break;
                ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, domain.get(), nullptr));
                if (ctx && EVP_PKEY_keygen_init(ctx.get()) != 1) ctx.reset();
            }
            break;
        }
        case Kind::ecp: {
            ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
            if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) {
                ctx.reset();
                break;
            }
            OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                                    const_cast<char*>(g.name), 0),
                                   OSSL_PARAM_construct_end()};
            if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) ctx.reset();
            break;
        }
        case Kind::x25519:
            ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr));
            if (ctx && EVP_PKEY_keygen_init(ctx.get()) != 1) ctx.reset();
            break;
    }
    if (!ctx) return fail(CryptoError::internal);
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_generate(ctx.get(), &key) != 1) return fail(CryptoError::internal);
    return PkeyPtr(key);
}

// ECP private key import for known-answer tests: the public point is priv * G, computed with
// the EC_POINT API because OpenSSL 3.0's EVP import does not derive it from the scalar.
std::expected<PkeyPtr, CryptoError> import_ecp_private(const Group& g, ByteView scalar) {
    if (scalar.size() != g.public_size / 2) return fail(CryptoError::invalid_argument);
    std::unique_ptr<EC_GROUP, EcGroupFree> group(EC_GROUP_new_by_curve_name(g.curve_nid));
    BnPtr priv(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr));
    if (!group || !priv) return fail(CryptoError::internal);
    if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(group.get())) >= 0) {
        return fail(CryptoError::invalid_argument);
    }
    std::unique_ptr<EC_POINT, EcPointFree> point(EC_POINT_new(group.get()));
    Bytes sec1(1 + g.public_size);
    if (!point ||
        EC_POINT_mul(group.get(), point.get(), priv.get(), nullptr, nullptr, nullptr) != 1 ||
        EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, sec1.data(),
                           sec1.size(), nullptr) != sec1.size()) {
        return fail(CryptoError::internal);
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, g.name, 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, sec1.data(),
                                         sec1.size()) != 1) {
        return fail(CryptoError::internal);
    }
    PkeyPtr key = pkey_from_params("EC", EVP_PKEY_KEYPAIR, bld.get());
    if (!key) return fail(CryptoError::internal);
    return key;
}

}  // namespace

bool ke_group_supported(std::uint16_t group) {
    return find_group(group) != nullptr;
}

std::size_t ke_public_size(std::uint16_t group) {
    const Group* g = find_group(group);
    return g == nullptr ? 0 : g->public_size;
}

KeyExchange::KeyExchange(std::uint16_t group, evp_pkey_st* key, Bytes public_value)
    : group_(group), key_(key), public_(std::move(public_value)) {}

KeyExchange::KeyExchange(KeyExchange&& other) noexcept
    : group_(other.group_),
      key_(std::exchange(other.key_, nullptr)),
      public_(std::move(other.public_)) {}

KeyExchange& KeyExchange::operator=(KeyExchange&& other) noexcept {
    if (this != &other) {
        EVP_PKEY_free(key_);
        group_ = other.group_;
        key_ = std::exchange(other.key_, nullptr);
        public_ = std::move(other.public_);
    }
    return *this;
}

KeyExchange::~KeyExchange() {
    EVP_PKEY_free(key_);
}  // frees and clears the private key

std::expected<KeyExchange, CryptoError> KeyExchange::generate(std::uint16_t group) {
    const Group* g = find_group(group);
    if (g == nullptr) return std::unexpected(CryptoError::unsupported);
    auto key = generate_key(*g);
    if (!key) return std::unexpected(key.error());
    auto pub = export_public(*g, key->get());
    if (!pub) return std::unexpected(pub.error());
    return KeyExchange(group, key->release(), std::move(*pub));
}

std::expected<KeyExchange, CryptoError> KeyExchange::from_private_key_for_testing(
    std::uint16_t group, ByteView private_key) {
    const Group* g = find_group(group);
    if (g == nullptr) return std::unexpected(CryptoError::unsupported);
    PkeyPtr key;
    switch (g->kind) {
        case Kind::modp:
            return std::unexpected(CryptoError::unsupported);
        case Kind::ecp: {
            auto imported = import_ecp_private(*g, private_key);
            if (!imported) return std::unexpected(imported.error());
            key = std::move(*imported);
            break;
        }
        case Kind::x25519:
            if (private_key.size() != 32) return std::unexpected(CryptoError::invalid_argument);
            key.reset(EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr,
                                                      private_key.data(), private_key.size()));
            if (!key) return fail(CryptoError::internal);
            break;
    }
    auto pub = export_public(*g, key.get());
    if (!pub) return std::unexpected(pub.error());
    return KeyExchange(group, key.release(), std::move(*pub));
}

std::expected<SecretBytes, CryptoError> KeyExchange::shared_secret(ByteView peer_public) const {
    const Group* g = find_group(group_);
    if (g == nullptr || key_ == nullptr) return std::unexpected(CryptoError::invalid_argument);
    auto peer = import_peer(*g, key_, peer_public);
    if (!peer) return std::unexpected(peer.error());

    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return fail(CryptoError::internal);
    if (g->kind == Kind::modp) {
        // RFC 7296 section 2.14: g^ir is padded with zeros to the length of the modulus.
        int pad = 1;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_int(OSSL_EXCHANGE_PARAM_PAD, &pad),
                               OSSL_PARAM_construct_end()};
        if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) return fail(CryptoError::internal);
    }
    // validate_peer = 1: EVP_PKEY_public_check() on the peer key. For MODP groups with a known
    // subgroup order q (all but group 2) that includes y^q mod p == 1 (RFC 6989); for ECP the
    // point checks.
    if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer->get(), 1) != 1) {
        return fail(CryptoError::invalid_public);
    }
    std::size_t len = 0;
    if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) return fail(CryptoError::internal);
    const std::size_t expected_len = g->kind == Kind::ecp      ? g->public_size / 2
                                     : g->kind == Kind::x25519 ? 32
                                                               : g->public_size;
    if (len < expected_len) return fail(CryptoError::internal);
    SecretBytes secret(len);
    if (EVP_PKEY_derive(ctx.get(), secret.writable().data(), &len) != 1) {
        // X25519: OpenSSL refuses an all-zero result (low-order peer point).
        return fail(CryptoError::invalid_public);
    }
    if (len != expected_len) return fail(CryptoError::internal);
    if (secret.size() != len) secret = secret.slice(0, len);
    if (g->kind == Kind::x25519) {
        // RFC 8031 section 2.3 / RFC 7748 section 6.1: reject an all-zero shared secret.
        std::uint8_t acc = 0;
        for (std::uint8_t b : secret.reveal()) acc |= b;
        if (acc == 0) return std::unexpected(CryptoError::invalid_public);
    }
    return secret;
}

}  // namespace cgwd::ike::crypto
