// PRF, prf+, integrity MACs, IKE/CHILD SA key derivation and shared-key AUTH
// (RFC 7296 sections 2.13, 2.14, 2.15, 2.17, 2.18).
#include <algorithm>
#include <array>
#include <vector>

#include "cgwd/ike/crypto.hpp"
#include "crypto_internal.hpp"

namespace cgwd::ike::crypto {

std::expected<SecretBytes, CryptoError> prf(std::uint16_t prf_id, ByteView key,
                                            std::initializer_list<ByteView> data) {
    const char* digest = detail::prf_digest(prf_id);
    if (digest == nullptr) return std::unexpected(CryptoError::unsupported);
    SecretBytes out(prf_size(prf_id));
    if (!detail::hmac(digest, key, data, out.writable())) {
        return std::unexpected(CryptoError::internal);
    }
    return out;
}

std::expected<SecretBytes, CryptoError> prf_plus(std::uint16_t prf_id, ByteView key,
                                                 std::initializer_list<ByteView> seed,
                                                 std::size_t length) {
    const char* digest = detail::prf_digest(prf_id);
    if (digest == nullptr) return std::unexpected(CryptoError::unsupported);
    const std::size_t block = prf_size(prf_id);
    if (length > 255 * block) return std::unexpected(CryptoError::invalid_argument);

    SecretBytes out(length);
    SecretBytes t;  // Tn-1 (empty before T1)
    std::vector<ByteView> parts;
    std::size_t done = 0;
    for (unsigned n = 1; done < length; ++n) {
        // T1 = prf(K, S | 0x01); Tn = prf(K, Tn-1 | S | n): one HMAC over the parts in order.
        const std::array<std::uint8_t, 1> counter{static_cast<std::uint8_t>(n)};
        parts.clear();
        parts.push_back(t.reveal());
        parts.insert(parts.end(), seed.begin(), seed.end());
        parts.push_back(counter);
        SecretBytes next(block);
        if (!detail::hmac(digest, key, parts, next.writable())) {
            return std::unexpected(CryptoError::internal);
        }
        t = std::move(next);
        const std::size_t take = std::min(block, length - done);
        std::copy_n(t.reveal().begin(), take, out.writable().begin() + done);
        done += take;
    }
    return out;
}

std::expected<Bytes, CryptoError> integ_mac(std::uint16_t integ_id, ByteView key, ByteView data) {
    const char* digest = detail::integ_digest(integ_id);
    if (digest == nullptr) return std::unexpected(CryptoError::unsupported);
    if (key.size() != integ_key_size(integ_id)) {
        return std::unexpected(CryptoError::invalid_argument);
    }
    SecretBytes full(integ_key_size(integ_id));  // HMAC output size == key size here
    if (!detail::hmac(digest, key, {data}, full.writable())) {
        return std::unexpected(CryptoError::internal);
    }
    const ByteView icv = full.reveal().first(integ_icv_size(integ_id));
    return Bytes(icv.begin(), icv.end());
}

// --- Key derivation ---------------------------------------------------------------------------

namespace {

std::array<std::uint8_t, 8> spi_bytes(std::uint64_t spi) {
    std::array<std::uint8_t, 8> b{};
    for (int i = 7; i >= 0; --i) {
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(spi & 0xff);
        spi >>= 8;
    }
    return b;
}

// Sizes of the seven IKE SA keys, or nullopt-like 0 prf size when unsupported.
struct IkeKeySizes {
    std::size_t prf = 0, integ = 0, encr = 0;
    std::size_t total() const { return 3 * prf + 2 * integ + 2 * encr; }
};

std::expected<IkeKeySizes, CryptoError> ike_key_sizes(const IkeSaTransforms& t) {
    IkeKeySizes s;
    s.prf = prf_size(t.prf);
    s.encr = cipher_keymat_size(t.encr);
    if (s.prf == 0 || s.encr == 0) return std::unexpected(CryptoError::unsupported);
    if (t.encr.is_aead()) {
        if (t.integ != config::integ::none) return std::unexpected(CryptoError::unsupported);
    } else {
        s.integ = integ_key_size(t.integ);
        if (s.integ == 0) return std::unexpected(CryptoError::unsupported);
    }
    return s;
}

std::expected<IkeSaKeys, CryptoError> split_ike_keys(const IkeSaTransforms& t,
                                                     const SecretBytes& skeyseed, ByteView ni,
                                                     ByteView nr, std::uint64_t spi_i,
                                                     std::uint64_t spi_r) {
    const auto sizes = ike_key_sizes(t);
    if (!sizes) return std::unexpected(sizes.error());
    const auto spii = spi_bytes(spi_i);
    const auto spir = spi_bytes(spi_r);
    auto keymat = prf_plus(t.prf, skeyseed.reveal(), {ni, nr, spii, spir}, sizes->total());
    if (!keymat) return std::unexpected(keymat.error());
    IkeSaKeys k;
    std::size_t at = 0;
    auto take = [&](std::size_t n) {
        SecretBytes part = keymat->slice(at, n);
        at += n;
        return part;
    };
    k.sk_d = take(sizes->prf);
    k.sk_ai = take(sizes->integ);
    k.sk_ar = take(sizes->integ);
    k.sk_ei = take(sizes->encr);
    k.sk_er = take(sizes->encr);
    k.sk_pi = take(sizes->prf);
    k.sk_pr = take(sizes->prf);
    return k;
}

}  // namespace

std::expected<IkeSaKeys, CryptoError> derive_ike_sa_keys(const IkeSaTransforms& transforms,
                                                         ByteView shared_secret, ByteView ni,
                                                         ByteView nr, std::uint64_t spi_i,
                                                         std::uint64_t spi_r) {
    if (shared_secret.empty() || ni.empty() || nr.empty()) {
        return std::unexpected(CryptoError::invalid_argument);
    }
    // SKEYSEED = prf(Ni | Nr, g^ir). HMAC takes the concatenated nonces as its key.
    Bytes nonces(ni.begin(), ni.end());
    nonces.insert(nonces.end(), nr.begin(), nr.end());
    auto skeyseed = prf(transforms.prf, nonces, {shared_secret});
    if (!skeyseed) return std::unexpected(skeyseed.error());
    return split_ike_keys(transforms, *skeyseed, ni, nr, spi_i, spi_r);
}

std::expected<IkeSaKeys, CryptoError> derive_rekeyed_ike_sa_keys(
    std::uint16_t old_prf, ByteView old_sk_d, const IkeSaTransforms& transforms,
    ByteView shared_secret, ByteView ni, ByteView nr, std::uint64_t spi_i, std::uint64_t spi_r) {
    if (old_sk_d.empty() || shared_secret.empty() || ni.empty() || nr.empty()) {
        return std::unexpected(CryptoError::invalid_argument);
    }
    auto skeyseed = prf(old_prf, old_sk_d, {shared_secret, ni, nr});
    if (!skeyseed) return std::unexpected(skeyseed.error());
    return split_ike_keys(transforms, *skeyseed, ni, nr, spi_i, spi_r);
}

std::expected<ChildSaKeys, CryptoError> derive_child_sa_keys(std::uint16_t prf_id, ByteView sk_d,
                                                             const ChildSaTransforms& transforms,
                                                             ByteView ni, ByteView nr,
                                                             ByteView pfs_shared_secret) {
    if (sk_d.empty() || ni.empty() || nr.empty()) {
        return std::unexpected(CryptoError::invalid_argument);
    }
    const std::size_t encr = cipher_keymat_size(transforms.encr);
    if (encr == 0) return std::unexpected(CryptoError::unsupported);
    std::size_t integ = 0;
    if (transforms.encr.is_aead()) {
        if (transforms.integ != config::integ::none) {
            return std::unexpected(CryptoError::unsupported);
        }
    } else {
        integ = integ_key_size(transforms.integ);
        if (integ == 0) return std::unexpected(CryptoError::unsupported);
    }
    auto keymat = prf_plus(prf_id, sk_d, {pfs_shared_secret, ni, nr}, 2 * (encr + integ));
    if (!keymat) return std::unexpected(keymat.error());
    ChildSaKeys k;
    k.initiator_to_responder.encr = keymat->slice(0, encr);
    k.initiator_to_responder.integ = keymat->slice(encr, integ);
    k.responder_to_initiator.encr = keymat->slice(encr + integ, encr);
    k.responder_to_initiator.integ = keymat->slice(2 * encr + integ, integ);
    return k;
}

// --- Shared-key AUTH ---------------------------------------------------------------------------

std::expected<Bytes, CryptoError> auth_signed_octets(std::uint16_t prf_id, ByteView real_message,
                                                     ByteView nonce, ByteView sk_p,
                                                     ByteView id_payload_body) {
    if (real_message.empty() || nonce.empty() || sk_p.empty() || id_payload_body.empty()) {
        return std::unexpected(CryptoError::invalid_argument);
    }
    auto maced_id = prf(prf_id, sk_p, {id_payload_body});
    if (!maced_id) return std::unexpected(maced_id.error());
    Bytes out;
    out.reserve(real_message.size() + nonce.size() + maced_id->size());
    out.insert(out.end(), real_message.begin(), real_message.end());
    out.insert(out.end(), nonce.begin(), nonce.end());
    out.insert(out.end(), maced_id->reveal().begin(), maced_id->reveal().end());
    return out;
}

std::expected<Bytes, CryptoError> psk_auth(std::uint16_t prf_id, ByteView psk,
                                           ByteView signed_octets) {
    if (psk.empty()) return std::unexpected(CryptoError::invalid_argument);
    static constexpr std::uint8_t key_pad[] = {'K', 'e', 'y', ' ', 'P', 'a', 'd', ' ', 'f',
                                               'o', 'r', ' ', 'I', 'K', 'E', 'v', '2'};
    auto padded_key = prf(prf_id, psk, {key_pad});
    if (!padded_key) return std::unexpected(padded_key.error());
    auto auth = prf(prf_id, padded_key->reveal(), {signed_octets});
    if (!auth) return std::unexpected(auth.error());
    return Bytes(auth->reveal().begin(), auth->reveal().end());
}

std::expected<Bytes, CryptoError> psk_auth(std::uint16_t prf_id, const config::Secret& psk,
                                           ByteView signed_octets) {
    const std::string_view v = psk.reveal();
    const ByteView bytes(reinterpret_cast<const std::uint8_t*>(v.data()), v.size());
    return psk_auth(prf_id, bytes, signed_octets);
}

}  // namespace cgwd::ike::crypto
