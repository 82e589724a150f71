// Responder-side IKE_SA_INIT admission control: stateless cookies (RFC 7296 section 2.6) and a
// per-source rate limit of half-open attempts. Sans-I/O: the daemon hands every IKE_SA_INIT
// request (bytes, source address and port, `now`) to one CookieGuard before any IkeSa
// responder sees it, and reports how many of its IKE SAs are half-open (InitReplied).
//
// Verdicts:
//   pass         hand the request to the IkeSa responders (one token of the source's bucket
//                spent);
//   send_cookie  send `response` back to the request's source address/port from the port it
//                came in on: HDR(SPIi, 0, IKE_SA_INIT, response, message ID 0), N(COOKIE);
//                no state is kept;
//   drop         say nothing (malformed request, or the source is over its rate).
//
// Cookies are asked for only while the reported half-open count is above
// `half_open_threshold`. Then a request passes only with a valid N(COOKIE) as its first
// payload; one without a cookie, or with a wrong or stale one, is answered with a fresh cookie
// (section 2.6: "ignore the cookie and process the message as if no cookie had been
// included"). Below the threshold every well-formed request passes (a cookie is ignored).
//
//   Cookie = <VersionIDofSecret> | SHA-256(Ni | IPi | SPIi | <secret>)      (RFC 7296 2.6)
//
// VersionIDofSecret is 4 octets (big-endian counter), IPi the 4-octet IPv4 source address,
// SPIi the 8 octets of the header; 36 octets in all (the limit is 64, section 3.10.1). The
// 32-octet secret comes from the injected crypto::Random, is replaced every `secret_lifetime`
// and the previous version stays valid until the next replacement (one period), so a cookie
// handed out just before a rotation still works.
//
// Rate limit: a token bucket per source address (`per_source_burst` tokens, one more every
// `per_source_interval`) spent by each request that passes; cookie answers cost no token (they
// keep no state). At most `max_sources` buckets are kept: full buckets are forgotten first,
// then the least recently used.
//
// Load: cookies are asked for while `half_open` (reported by the caller) plus, when
// `pass_window` is set, the requests that passed within the last `pass_window` is above the
// threshold. A responder that keeps one IKE SA per peer (the daemon's tunnels) replaces its
// half-open SA on each new request, so its own half-open count stays at 0 or 1 under a flood;
// the requests that passed recently are then the measure of how many half-open SAs a flood
// would have made.
//
// Cookie answers are limited too (`max_cookies_per_second`, a global token bucket of one
// second's worth): a flood of requests spoofed from a victim's address is not reflected at
// full rate. Over it, requests are dropped (`dropped_cookie_rate`), those without a leading
// Notify payload before they are decoded (a flood costs a header check, no allocation).
//
// Not done: IPv6 sources.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/ike/crypto.hpp"
#include "cgwd/ike/message.hpp"

namespace cgwd::ike {

struct CookieSettings {
    std::size_t half_open_threshold = 50;  // cookies while the half-open count is above this
    std::chrono::milliseconds secret_lifetime{std::chrono::minutes(5)};
    std::uint32_t per_source_burst = 10;                  // bucket size, in half-open attempts
    std::chrono::milliseconds per_source_interval{1000};  // one token per interval
    std::size_t max_sources = 4096;
    // Requests that passed within this window count as half-open (0: only set_half_open).
    std::chrono::milliseconds pass_window{0};
    std::uint32_t max_cookies_per_second = 0;  // 0: no limit
};

enum class CookieVerdict : std::uint8_t { pass, send_cookie, drop };
[[nodiscard]] const char* to_string(CookieVerdict);

struct CookieDecision {
    CookieVerdict verdict = CookieVerdict::drop;
    Bytes response;  // send_cookie: the IKE message to send back
};

struct CookieStats {
    std::uint64_t passed = 0;
    std::uint64_t cookies_sent = 0;
    std::uint64_t cookies_accepted = 0;  // passed with a valid cookie
    std::uint64_t dropped_malformed = 0;
    std::uint64_t dropped_rate = 0;
    std::uint64_t dropped_cookie_rate = 0;  // over max_cookies_per_second
};

class CookieGuard {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    CookieGuard(CookieSettings settings, crypto::Random& rng);

    // How many IKE SAs are half-open now (IKE_SA_INIT answered, IKE_AUTH not yet done).
    void set_half_open(std::size_t count) { half_open_ = count; }
    // As of the last request seen (the passes within `pass_window` of it count).
    [[nodiscard]] bool cookies_required() const {
        return half_open_ + recent_passes() > settings_.half_open_threshold;
    }
    // Requests that passed within `pass_window` of the last request (0 without a window;
    // counted up to half_open_threshold + 1).
    [[nodiscard]] std::size_t recent_passes() const;

    // One IKE_SA_INIT request (IKE header spi_r 0, message ID 0, not a response) from
    // `source`:`source_port`, without the non-ESP marker. Anything else is dropped.
    [[nodiscard]] CookieDecision on_init_request(std::span<const std::uint8_t> datagram,
                                                 config::Ipv4Address source,
                                                 std::uint16_t source_port, TimePoint now);

    [[nodiscard]] const CookieStats& stats() const { return stats_; }
    [[nodiscard]] std::size_t tracked_sources() const { return buckets_.size(); }

  private:
    struct Secret {
        std::uint32_t version = 0;
        crypto::SecretBytes bytes;
        TimePoint created{};
    };
    struct Bucket {
        double tokens = 0;
        TimePoint updated{};
    };

    [[nodiscard]] bool rotate(TimePoint now);  // false: the random source failed
    [[nodiscard]] Bytes cookie_for(const Secret& secret, std::span<const std::uint8_t> ni,
                                   config::Ipv4Address source, std::uint64_t spi_i) const;
    [[nodiscard]] bool cookie_valid(std::span<const std::uint8_t> cookie,
                                    std::span<const std::uint8_t> ni, config::Ipv4Address source,
                                    std::uint64_t spi_i) const;
    [[nodiscard]] bool take_token(config::Ipv4Address source, TimePoint now);
    void refill(Bucket& b, TimePoint now) const;
    void prune(TimePoint now);
    [[nodiscard]] bool cookie_token_available(TimePoint now);  // refills, takes nothing
    [[nodiscard]] bool take_cookie_token(TimePoint now);

    CookieSettings settings_;
    crypto::Random& rng_;
    std::size_t half_open_ = 0;
    std::optional<Secret> current_;
    std::optional<Secret> previous_;
    std::unordered_map<std::uint32_t, Bucket> buckets_;
    // The last half_open_threshold + 1 pass times (a ring; allocated once, with pass_window).
    std::vector<TimePoint> passes_;
    std::size_t next_pass_ = 0;
    TimePoint last_now_{};
    Bucket cookie_bucket_;
    bool cookie_bucket_started_ = false;
    CookieStats stats_;
};

}  // namespace cgwd::ike
