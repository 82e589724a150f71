// Stateless cookies and per-source rate limit in front of the IKE_SA_INIT responders
// (RFC 7296 section 2.6). See cookie.hpp.
#include "cgwd/ike/cookie.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace cgwd::ike {
namespace {

constexpr std::size_t version_size = 4;
constexpr std::size_t digest_size = 32;  // SHA-256
constexpr std::size_t secret_size = 32;

void put_be(Bytes& out, std::uint64_t value, int octets) {
    for (int i = octets - 1; i >= 0; --i) {
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

Bytes cookie_response(const Header& request, Bytes cookie) {
    Message m;
    m.header.spi_i = request.spi_i;
    m.header.spi_r = 0;
    m.header.exchange = ExchangeType::ike_sa_init;
    m.header.response = true;
    m.header.message_id = 0;
    m.payloads.push_back(
        Payload{PayloadType::notify, false,
                NotifyPayload{ProtocolId::none, {}, NotifyType::cookie, std::move(cookie)}});
    auto bytes = encode_message(m);
    return bytes ? std::move(*bytes) : Bytes{};
}

}  // namespace

const char* to_string(CookieVerdict v) {
    switch (v) {
        case CookieVerdict::pass:
            return "pass";
        case CookieVerdict::send_cookie:
            return "send_cookie";
        case CookieVerdict::drop:
            return "drop";
    }
    return "?";
}

CookieGuard::CookieGuard(CookieSettings settings, crypto::Random& rng)
    : settings_(settings), rng_(rng) {
    if (settings_.secret_lifetime <= std::chrono::milliseconds::zero()) {
        settings_.secret_lifetime = std::chrono::minutes(5);
    }
    if (settings_.per_source_interval <= std::chrono::milliseconds::zero()) {
        settings_.per_source_interval = std::chrono::milliseconds(1000);
    }
    settings_.max_sources = std::max<std::size_t>(settings_.max_sources, 1);
    if (settings_.pass_window > std::chrono::milliseconds::zero()) {
        // Only whether more than the threshold passed matters: keep that many times.
        passes_.assign(settings_.half_open_threshold + 1, TimePoint::min());
    }
}

std::size_t CookieGuard::recent_passes() const {
    std::size_t n = 0;
    for (const TimePoint& t : passes_)
        if (t != TimePoint::min() && last_now_ - t < settings_.pass_window) ++n;
    return n;
}

bool CookieGuard::cookie_token_available(TimePoint now) {
    const double rate = settings_.max_cookies_per_second;
    if (rate <= 0) return true;
    Bucket& b = cookie_bucket_;
    if (!cookie_bucket_started_) {
        b = Bucket{rate, now};
        cookie_bucket_started_ = true;
    } else if (now > b.updated) {
        b.tokens = std::min(
            rate, b.tokens + rate * std::chrono::duration<double>(now - b.updated).count());
        b.updated = now;
    }
    return b.tokens >= 1.0;
}

bool CookieGuard::take_cookie_token(TimePoint now) {
    if (!cookie_token_available(now)) return false;
    if (settings_.max_cookies_per_second > 0) cookie_bucket_.tokens -= 1.0;
    return true;
}

bool CookieGuard::rotate(TimePoint now) {
    if (current_ && now - current_->created < settings_.secret_lifetime) return true;
    Secret fresh;
    fresh.bytes = crypto::SecretBytes(secret_size);
    if (!rng_.fill(fresh.bytes.writable())) return false;
    fresh.created = now;
    if (current_) {
        fresh.version = current_->version + 1;
        // The previous version stays valid for one period after its replacement; a secret
        // older than two periods (nothing arrived for a while) is forgotten at once.
        if (now - current_->created < 2 * settings_.secret_lifetime) {
            previous_ = std::move(current_);
        } else {
            previous_.reset();
        }
    }
    current_ = std::move(fresh);
    return true;
}

Bytes CookieGuard::cookie_for(const Secret& secret, std::span<const std::uint8_t> ni,
                              config::Ipv4Address source, std::uint64_t spi_i) const {
    Bytes input(ni.begin(), ni.end());
    put_be(input, source.value, 4);
    put_be(input, spi_i, 8);
    const auto key = secret.bytes.reveal();
    input.insert(input.end(), key.begin(), key.end());

    Bytes out;
    out.reserve(version_size + digest_size);
    put_be(out, secret.version, version_size);
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    const bool ok =
        EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha256(), nullptr) == 1;
    OPENSSL_cleanse(input.data(), input.size());  // holds the secret
    if (!ok || size != digest_size) return {};
    out.insert(out.end(), digest.begin(), digest.begin() + digest_size);
    return out;
}

bool CookieGuard::cookie_valid(std::span<const std::uint8_t> cookie,
                               std::span<const std::uint8_t> ni, config::Ipv4Address source,
                               std::uint64_t spi_i) const {
    if (cookie.size() != version_size + digest_size) return false;
    const std::uint32_t version = static_cast<std::uint32_t>(cookie[0]) << 24 |
                                  static_cast<std::uint32_t>(cookie[1]) << 16 |
                                  static_cast<std::uint32_t>(cookie[2]) << 8 | cookie[3];
    const Secret* secret = nullptr;
    if (current_ && current_->version == version) secret = &*current_;
    if (previous_ && previous_->version == version) secret = &*previous_;
    if (!secret) return false;
    const Bytes expected = cookie_for(*secret, ni, source, spi_i);
    return expected.size() == cookie.size() &&
           CRYPTO_memcmp(expected.data(), cookie.data(), cookie.size()) == 0;
}

void CookieGuard::refill(Bucket& b, TimePoint now) const {
    if (now <= b.updated) return;
    const double gained = std::chrono::duration<double>(now - b.updated).count() /
                          std::chrono::duration<double>(settings_.per_source_interval).count();
    b.tokens = std::min<double>(settings_.per_source_burst, b.tokens + gained);
    b.updated = now;
}

void CookieGuard::prune(TimePoint now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        refill(it->second, now);
        if (it->second.tokens >= settings_.per_source_burst) {
            it = buckets_.erase(it);
        } else {
            ++it;
        }
    }
    while (buckets_.size() >= settings_.max_sources) {
        auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
            return a.second.updated < b.second.updated;
        });
        buckets_.erase(oldest);
    }
}

bool CookieGuard::take_token(config::Ipv4Address source, TimePoint now) {
    auto it = buckets_.find(source.value);
    if (it == buckets_.end()) {
        if (buckets_.size() >= settings_.max_sources) prune(now);
        it =
            buckets_
                .emplace(source.value, Bucket{static_cast<double>(settings_.per_source_burst), now})
                .first;
    }
    Bucket& b = it->second;
    refill(b, now);
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

CookieDecision CookieGuard::on_init_request(std::span<const std::uint8_t> datagram,
                                            config::Ipv4Address source,
                                            std::uint16_t /*source_port*/, TimePoint now) {
    last_now_ = std::max(last_now_, now);
    // The cheap refusal first (no decoding, no allocation): while cookies are required and no
    // cookie answer may leave, only a request whose first payload is a Notify can pass (N(COOKIE)
    // must come first). Next Payload is octet 16 of the IKE header (RFC 7296 section 3.1).
    constexpr std::size_t next_payload_at = 16;
    if (cookies_required() && datagram.size() > next_payload_at &&
        datagram[next_payload_at] != static_cast<std::uint8_t>(PayloadType::notify) &&
        !cookie_token_available(now)) {
        ++stats_.dropped_cookie_rate;
        return {CookieVerdict::drop, {}};
    }
    auto m = decode_message(datagram);
    const NoncePayload* ni = nullptr;
    if (m) {
        const Payload* p = m->find(PayloadType::nonce);
        ni = p ? p->get<NoncePayload>() : nullptr;
    }
    if (!m || m->header.exchange != ExchangeType::ike_sa_init || m->header.response ||
        m->header.spi_r != 0 || m->header.message_id != 0 || m->header.spi_i == 0 || !ni) {
        ++stats_.dropped_malformed;
        return {CookieVerdict::drop, {}};
    }
    if (!rotate(now)) {
        ++stats_.dropped_malformed;  // no secret: cannot tell cookies apart, say nothing
        return {CookieVerdict::drop, {}};
    }

    bool with_cookie = false;
    if (cookies_required()) {
        const NotifyPayload* cookie =
            m->payloads.empty() ? nullptr : m->payloads.front().get<NotifyPayload>();
        with_cookie = cookie && cookie->type == NotifyType::cookie &&
                      cookie_valid(cookie->data, ni->data, source, m->header.spi_i);
        if (!with_cookie) {
            if (!take_cookie_token(now)) {
                ++stats_.dropped_cookie_rate;
                return {CookieVerdict::drop, {}};
            }
            Bytes response = cookie_response(
                m->header, cookie_for(*current_, ni->data, source, m->header.spi_i));
            if (response.empty()) {
                ++stats_.dropped_malformed;
                return {CookieVerdict::drop, {}};
            }
            ++stats_.cookies_sent;
            return {CookieVerdict::send_cookie, std::move(response)};
        }
    }
    if (!take_token(source, now)) {
        ++stats_.dropped_rate;
        return {CookieVerdict::drop, {}};
    }
    ++stats_.passed;
    if (!passes_.empty()) {
        passes_[next_pass_] = now;
        next_pass_ = (next_pass_ + 1) % passes_.size();
    }
    if (with_cookie) ++stats_.cookies_accepted;
    return {CookieVerdict::pass, {}};
}

}  // namespace cgwd::ike
