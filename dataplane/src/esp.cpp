#include "cgwd/dataplane/esp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>

#include "cgwd/dataplane/icv.hpp"

namespace cgwd::dataplane {

namespace {

constexpr std::size_t header_len = 8;  // SPI + sequence number
constexpr std::size_t gcm_icv_len = 16;
constexpr std::size_t salt_len = 4;
constexpr std::uint8_t next_header_dummy = 59;
// Without ESN, ask for a rekey when 3/4 of the 32-bit sequence space is used.
constexpr std::uint64_t soft_sequence_limit = 0xc0000000u;

void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

void store64(std::uint8_t* p, std::uint64_t v) {
    store32(p, static_cast<std::uint32_t>(v >> 32));
    store32(p + 4, static_cast<std::uint32_t>(v));
}

std::uint32_t load32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

const EVP_CIPHER* gcm_cipher(std::uint16_t bits) {
    return bits == 128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
}
const EVP_CIPHER* cbc_cipher(std::uint16_t bits) {
    return bits == 128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

std::unexpected<Error> crypto_error(const char* what) {
    return std::unexpected(Error{Errc::crypto, what, 0});
}

}  // namespace

std::optional<std::uint32_t> EspSa::esn_high(std::uint64_t seq) const {
    if (!config_.esn) return std::nullopt;
    return static_cast<std::uint32_t>(seq >> 32);
}

const char* to_string(Drop drop) {
    switch (drop) {
        case Drop::truncated:
            return "truncated";
        case Drop::bad_spi:
            return "bad SPI";
        case Drop::replay:
            return "replay";
        case Drop::integrity:
            return "integrity check failed";
        case Drop::expired:
            return "SA expired";
        case Drop::buffer_too_small:
            return "buffer too small";
        case Drop::dummy:
            return "dummy packet";
        case Drop::crypto:
            return "crypto failure";
    }
    return "unknown";
}

struct EspSa::Crypto {
    EVP_CIPHER_CTX* cipher = nullptr;  // GCM or CBC, keyed once, direction of the SA
    EVP_CIPHER_CTX* iv_gen = nullptr;  // outbound CBC: AES-ECB under a random key
    std::optional<IcvHmac> hmac;       // AES-CBC only
    std::array<std::uint8_t, salt_len> salt{};
    std::array<std::uint8_t, 8> iv_nonce{};  // random second half of the CBC IV block

    Crypto() = default;
    Crypto(const Crypto&) = delete;
    Crypto& operator=(const Crypto&) = delete;
    ~Crypto() {
        EVP_CIPHER_CTX_free(cipher);
        EVP_CIPHER_CTX_free(iv_gen);
        OPENSSL_cleanse(salt.data(), salt.size());
        OPENSSL_cleanse(iv_nonce.data(), iv_nonce.size());
    }
};

EspSa::EspSa(const SaConfig& config, std::uint64_t now_s)
    : config_(config),
      crypto_(std::make_unique<Crypto>()),
      replay_(config.replay_window, config.esn),
      add_time_(now_s),
      now_(now_s) {}

EspSa::EspSa(EspSa&&) noexcept = default;
EspSa& EspSa::operator=(EspSa&&) noexcept = default;
EspSa::~EspSa() = default;

std::expected<EspSa, Error> EspSa::create(const SaConfig& config, std::uint64_t now_s) {
    if (auto ok = validate(config); !ok) return std::unexpected(ok.error());
    EspSa sa(config, now_s);
    // The OpenSSL contexts hold the (expanded) keys from here on; drop our copies.
    sa.config_.enc_key = KeyBytes{};
    sa.config_.integ_key = KeyBytes{};
    Crypto& c = *sa.crypto_;
    const bool encrypt = config.direction == Direction::outbound;
    const auto key = config.enc_key.bytes();

    c.cipher = EVP_CIPHER_CTX_new();
    if (!c.cipher) return crypto_error("EVP_CIPHER_CTX_new");
    if (config.cipher.is_aead()) {
        sa.iv_len_ = 8;
        sa.icv_len_ = gcm_icv_len;
        sa.block_ = 4;
        const std::size_t aes_len = key.size() - salt_len;
        std::memcpy(c.salt.data(), key.data() + aes_len, salt_len);
        const EVP_CIPHER* cipher = gcm_cipher(config.cipher.key_bits);
        if (EVP_CipherInit_ex(c.cipher, cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
            EVP_CIPHER_CTX_ctrl(c.cipher, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
            EVP_CipherInit_ex(c.cipher, nullptr, nullptr, key.data(), nullptr, -1) != 1)
            return crypto_error("AES-GCM setup");
    } else {
        sa.iv_len_ = 16;
        sa.block_ = 16;
        if (EVP_CipherInit_ex(c.cipher, cbc_cipher(config.cipher.key_bits), nullptr, key.data(),
                              nullptr, encrypt ? 1 : 0) != 1 ||
            EVP_CIPHER_CTX_set_padding(c.cipher, 0) != 1)
            return crypto_error("AES-CBC setup");

        auto hmac = IcvHmac::create(config.integ, config.integ_key.bytes());
        if (!hmac) return std::unexpected(hmac.error());
        sa.icv_len_ = hmac->icv_length();
        c.hmac.emplace(std::move(*hmac));

        if (encrypt) {
            std::array<std::uint8_t, 16> iv_key{};
            c.iv_gen = EVP_CIPHER_CTX_new();
            const bool ok =
                c.iv_gen && RAND_bytes(iv_key.data(), static_cast<int>(iv_key.size())) == 1 &&
                RAND_bytes(c.iv_nonce.data(), static_cast<int>(c.iv_nonce.size())) == 1 &&
                EVP_EncryptInit_ex(c.iv_gen, EVP_aes_128_ecb(), nullptr, iv_key.data(), nullptr) ==
                    1 &&
                EVP_CIPHER_CTX_set_padding(c.iv_gen, 0) == 1;
            OPENSSL_cleanse(iv_key.data(), iv_key.size());
            if (!ok) return crypto_error("IV generator setup");
        }
    }
    return sa;
}

std::size_t EspSa::encapsulated_size(std::size_t inner_length) const {
    const std::size_t unpadded = inner_length + 2;
    const std::size_t padded = (unpadded + block_ - 1) / block_ * block_;
    return header_len + iv_len_ + padded + icv_len_;
}

void EspSa::force_next_iv_for_testing(std::span<const std::uint8_t> iv) {
    if (iv.size() != iv_len_) return;
    std::memcpy(forced_iv_.data(), iv.data(), iv.size());
    forced_iv_len_ = iv.size();
}

bool EspSa::make_iv(std::uint64_t seq, std::uint8_t* iv) {
    if (forced_iv_len_ != 0) {
        std::memcpy(iv, forced_iv_.data(), forced_iv_len_);
        forced_iv_len_ = 0;
        return true;
    }
    if (config_.cipher.is_aead()) {
        store64(iv, seq);  // RFC 4106 section 3.1: a counter is a valid (unique) IV
        return true;
    }
    // RFC 3602 section 3: the CBC IV must be unpredictable. AES-ECB under a random per-SA key
    // of (sequence number | random per-SA value) is, and never repeats within the SA.
    std::array<std::uint8_t, 16> block{};
    store64(block.data(), seq);
    std::memcpy(block.data() + 8, crypto_->iv_nonce.data(), 8);
    int len = 0;
    return EVP_EncryptUpdate(crypto_->iv_gen, iv, &len, block.data(), 16) == 1 && len == 16;
}

std::expected<std::size_t, Drop> EspSa::seal(std::span<const std::uint8_t> inner,
                                             std::uint8_t next_header,
                                             std::span<std::uint8_t> out) {
    const std::uint64_t seq = next_seq_;
    const bool exhausted = config_.esn ? seq == 0 : seq > 0xffffffffu;
    if (exhausted && !hard_expired_) raise(ExpiryKind::hard, ExpiryCause::sequence);
    if (hard_expired_) {
        ++counters_.expired_drops;
        return std::unexpected(Drop::expired);
    }
    const std::size_t total = encapsulated_size(inner.size());
    if (out.size() < total) return std::unexpected(Drop::buffer_too_small);

    std::uint8_t* const base = out.data();
    const std::size_t ct_len = total - header_len - iv_len_ - icv_len_;
    const std::size_t pad_len = ct_len - 2 - inner.size();
    std::uint8_t* const iv = base + header_len;
    std::uint8_t* const payload = iv + iv_len_;
    std::uint8_t* const icv = payload + ct_len;

    std::memmove(payload, inner.data(), inner.size());  // inner may already sit in `out`
    for (std::size_t i = 0; i < pad_len; ++i)
        payload[inner.size() + i] = static_cast<std::uint8_t>(i + 1);  // RFC 4303 2.4
    payload[ct_len - 2] = static_cast<std::uint8_t>(pad_len);
    payload[ct_len - 1] = next_header;
    store32(base, config_.spi);
    store32(base + 4, static_cast<std::uint32_t>(seq));

    Crypto& c = *crypto_;
    int len = 0;
    int final_len = 0;
    if (!make_iv(seq, iv)) return std::unexpected(Drop::crypto);
    if (config_.cipher.is_aead()) {
        std::array<std::uint8_t, 12> nonce{};
        std::memcpy(nonce.data(), c.salt.data(), salt_len);
        std::memcpy(nonce.data() + salt_len, iv, 8);
        std::array<std::uint8_t, 12> aad{};
        std::size_t aad_len = 8;
        store32(aad.data(), config_.spi);
        if (config_.esn) {
            store32(aad.data() + 4, static_cast<std::uint32_t>(seq >> 32));
            store32(aad.data() + 8, static_cast<std::uint32_t>(seq));
            aad_len = 12;
        } else {
            store32(aad.data() + 4, static_cast<std::uint32_t>(seq));
        }
        if (EVP_EncryptInit_ex(c.cipher, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
            EVP_EncryptUpdate(c.cipher, nullptr, &len, aad.data(), static_cast<int>(aad_len)) !=
                1 ||
            EVP_EncryptUpdate(c.cipher, payload, &len, payload, static_cast<int>(ct_len)) != 1 ||
            EVP_EncryptFinal_ex(c.cipher, payload + len, &final_len) != 1 ||
            EVP_CIPHER_CTX_ctrl(c.cipher, EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_icv_len),
                                icv) != 1)
            return std::unexpected(Drop::crypto);
    } else {
        if (EVP_EncryptInit_ex(c.cipher, nullptr, nullptr, nullptr, iv) != 1 ||
            EVP_EncryptUpdate(c.cipher, payload, &len, payload, static_cast<int>(ct_len)) != 1 ||
            EVP_EncryptFinal_ex(c.cipher, payload + len, &final_len) != 1 ||
            !c.hmac->compute({base, header_len + iv_len_ + ct_len}, esn_high(seq), icv))
            return std::unexpected(Drop::crypto);
    }
    ++next_seq_;
    if (!config_.esn && seq >= soft_sequence_limit) raise(ExpiryKind::soft, ExpiryCause::sequence);
    count_and_check_lifetime(inner.size());
    return total;
}

std::expected<Decapsulated, Drop> EspSa::open_impl(std::span<const std::uint8_t> packet,
                                                   std::span<std::uint8_t> out,
                                                   bool tunnel_ipv4_only) {
    const std::uint8_t* const base = packet.data();
    if (packet.size() < header_len) {
        ++counters_.truncated;
        return std::unexpected(Drop::truncated);
    }
    if (load32(base) != config_.spi) {
        ++counters_.bad_spi;
        return std::unexpected(Drop::bad_spi);
    }
    if (hard_expired_) {
        ++counters_.expired_drops;
        return std::unexpected(Drop::expired);
    }
    const std::size_t min_ct = config_.cipher.is_aead() ? 2 : 16;
    if (packet.size() < header_len + iv_len_ + min_ct + icv_len_) {
        ++counters_.truncated;
        return std::unexpected(Drop::truncated);
    }
    const std::size_t ct_len = packet.size() - header_len - iv_len_ - icv_len_;
    if (ct_len % block_ != 0 && !config_.cipher.is_aead()) {
        ++counters_.truncated;
        return std::unexpected(Drop::truncated);
    }
    const auto seq = replay_.infer(load32(base + 4));
    if (!seq || replay_.check(*seq) != ReplayCheck::ok) {
        ++counters_.replay_drops;
        return std::unexpected(Drop::replay);
    }
    if (out.size() < ct_len) return std::unexpected(Drop::buffer_too_small);

    const std::uint8_t* const iv = base + header_len;
    const std::uint8_t* const ciphertext = iv + iv_len_;
    const std::uint8_t* const icv = ciphertext + ct_len;
    const auto seq_high = static_cast<std::uint32_t>(*seq >> 32);
    std::uint8_t* const plain = out.data();
    // The single rejection path for ICV, padding and next-header failures.
    auto reject = [&]() -> std::unexpected<Drop> {
        OPENSSL_cleanse(plain, ct_len);
        ++counters_.integrity_failures;
        return std::unexpected(Drop::integrity);
    };

    Crypto& c = *crypto_;
    int len = 0;
    int final_len = 0;
    if (config_.cipher.is_aead()) {
        std::array<std::uint8_t, 12> nonce{};
        std::memcpy(nonce.data(), c.salt.data(), salt_len);
        std::memcpy(nonce.data() + salt_len, iv, 8);
        std::array<std::uint8_t, 12> aad{};
        std::size_t aad_len = 8;
        std::memcpy(aad.data(), base, 4);
        if (config_.esn) {
            store32(aad.data() + 4, seq_high);
            std::memcpy(aad.data() + 8, base + 4, 4);
            aad_len = 12;
        } else {
            std::memcpy(aad.data() + 4, base + 4, 4);
        }
        std::array<std::uint8_t, gcm_icv_len> tag{};
        std::memcpy(tag.data(), icv, gcm_icv_len);
        if (EVP_DecryptInit_ex(c.cipher, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
            EVP_DecryptUpdate(c.cipher, nullptr, &len, aad.data(), static_cast<int>(aad_len)) !=
                1 ||
            EVP_DecryptUpdate(c.cipher, plain, &len, ciphertext, static_cast<int>(ct_len)) != 1 ||
            EVP_CIPHER_CTX_ctrl(c.cipher, EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_icv_len),
                                tag.data()) != 1)
            return std::unexpected(Drop::crypto);
        if (EVP_DecryptFinal_ex(c.cipher, plain + len, &final_len) != 1) return reject();
    } else {
        std::array<std::uint8_t, 32> expected{};
        if (!c.hmac->compute({base, header_len + iv_len_ + ct_len}, esn_high(*seq),
                             expected.data()))
            return std::unexpected(Drop::crypto);
        if (CRYPTO_memcmp(expected.data(), icv, icv_len_) != 0) return reject();
        if (EVP_DecryptInit_ex(c.cipher, nullptr, nullptr, nullptr, iv) != 1 ||
            EVP_DecryptUpdate(c.cipher, plain, &len, ciphertext, static_cast<int>(ct_len)) != 1 ||
            EVP_DecryptFinal_ex(c.cipher, plain + len, &final_len) != 1)
            return std::unexpected(Drop::crypto);
    }

    // Trailer: Padding 1, 2, 3, ... | Pad Length | Next Header (RFC 4303 section 2.4).
    const std::size_t pad_len = plain[ct_len - 2];
    const std::uint8_t next_header = plain[ct_len - 1];
    if (pad_len + 2 > ct_len) return reject();
    const std::size_t inner_len = ct_len - 2 - pad_len;
    std::uint8_t bad = 0;
    for (std::size_t i = 0; i < pad_len; ++i)
        bad |= static_cast<std::uint8_t>(plain[inner_len + i] ^ static_cast<std::uint8_t>(i + 1));
    if (bad != 0) return reject();
    if (next_header == next_header_dummy) {
        replay_.accept(*seq);
        OPENSSL_cleanse(plain, ct_len);
        return std::unexpected(Drop::dummy);
    }
    if (tunnel_ipv4_only && next_header != next_header_ipv4) return reject();

    replay_.accept(*seq);
    count_and_check_lifetime(inner_len);
    return Decapsulated{inner_len, *seq, next_header};
}

void EspSa::count_and_check_lifetime(std::size_t inner_bytes) {
    counters_.bytes += inner_bytes;
    ++counters_.packets;
    if (use_time_ == 0) use_time_ = now_;
    const Lifetime& lt = config_.lifetime;
    if (lt.bytes.soft && counters_.bytes >= lt.bytes.soft)
        raise(ExpiryKind::soft, ExpiryCause::bytes);
    if (lt.packets.soft && counters_.packets >= lt.packets.soft)
        raise(ExpiryKind::soft, ExpiryCause::packets);
    if (lt.bytes.hard && counters_.bytes >= lt.bytes.hard)
        raise(ExpiryKind::hard, ExpiryCause::bytes);
    if (lt.packets.hard && counters_.packets >= lt.packets.hard)
        raise(ExpiryKind::hard, ExpiryCause::packets);
}

void EspSa::advance_time(std::uint64_t now_s) {
    if (now_s > now_) now_ = now_s;
    const std::uint64_t age = now_ - add_time_;
    const Limit& l = config_.lifetime.seconds;
    if (l.soft && age >= l.soft) raise(ExpiryKind::soft, ExpiryCause::time);
    if (l.hard && age >= l.hard) raise(ExpiryKind::hard, ExpiryCause::time);
}

void EspSa::raise(ExpiryKind kind, ExpiryCause cause) {
    const unsigned index = static_cast<unsigned>(kind) * 4 + static_cast<unsigned>(cause);
    const auto bit = static_cast<std::uint8_t>(1u << index);
    if (kind == ExpiryKind::hard) hard_expired_ = true;
    if (raised_ & bit) return;
    raised_ |= bit;
    pending_ |= bit;
}

std::optional<ExpiryEvent> EspSa::next_expiry() {
    if (pending_ == 0) return std::nullopt;
    unsigned index = 0;
    while (!(pending_ & (1u << index))) ++index;
    pending_ &= static_cast<std::uint8_t>(~(1u << index));
    return ExpiryEvent{config_.key(), config_.direction, static_cast<ExpiryKind>(index / 4),
                       static_cast<ExpiryCause>(index % 4)};
}

SaStats EspSa::stats() const {
    SaStats s;
    s.counters = {counters_.bytes, counters_.packets, counters_.replay_drops,
                  counters_.integrity_failures};
    s.lifetime = config_.lifetime;
    s.add_time = add_time_;
    s.use_time = use_time_;
    return s;
}

}  // namespace cgwd::dataplane
