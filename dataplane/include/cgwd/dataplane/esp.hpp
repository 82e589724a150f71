// ESP (RFC 4303) tunnel-mode packet processing in userspace, sans-I/O.
//
// An EspSa is one direction of one CHILD_SA. encapsulate() turns an inner IPv4 packet into an
// ESP packet (SPI .. ICV, no outer IP header: the caller sends it on a raw IP-50 socket or
// wraps it per RFC 3948, see udp_encap.hpp); decapsulate() does the reverse. Both write into a
// caller-provided buffer and never allocate; the OpenSSL contexts are created once per SA.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               Security Parameters Index (SPI)                 |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                      Sequence Number                          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                    IV (8 bytes GCM, 16 bytes CBC)             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |        Payload Data (inner IPv4 packet, Next Header 4)        |
//  +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               |     Padding 1, 2, 3, ... (0-255 bytes)        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                               |  Pad Length   | Next Header   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |         Integrity Check Value (16, 12, 24 or 32 bytes)        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Transforms:
//  - AES-GCM-16 128/256 (RFC 4106): nonce = 4-byte salt | 8-byte IV; the IV is the 64-bit
//    sequence number (unique per key, RFC 4106 section 3.1); AAD = SPI | seq (8 bytes) or
//    SPI | seq-high | seq-low with ESN (RFC 4106 section 5); 16-byte ICV.
//  - AES-CBC 128/256 (RFC 3602) with HMAC-SHA1-96 (RFC 2404) or HMAC-SHA2-256-128/-384-192/
//    -512-256 (RFC 4868). The IV is the AES-ECB encryption, under a random per-SA key, of the
//    sequence number and a random per-SA value: unpredictable (RFC 3602 section 3) and unique.
//    ICV = truncated HMAC over SPI | seq | IV | ciphertext, followed by the ESN high half when
//    ESN is on (RFC 4303 section 2.2.1; those 4 bytes are not transmitted).
//
// Sequence numbers (RFC 4303 section 3.3.3): outbound starts at 1; without ESN the 32-bit
// counter never wraps: at 2^32-1 the SA is hard-expired (ExpiryCause::sequence, soft at 3/4 of
// the space). Inbound: anti-replay window (replay.hpp), updated only after the ICV verified.
// Any ICV, padding or next-header failure is one disposition (Drop::integrity) and one counter,
// so the receiver is no decryption oracle. Byte and packet lifetimes raise soft/hard expiry
// events, read with next_expiry(); after a hard expiry the SA refuses all packets.
//
// An EspSa is not thread-safe: one thread uses it at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>

#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/replay.hpp"

namespace cgwd::dataplane {

// Why a packet was not processed.
enum class Drop : std::uint8_t {
    truncated,         // shorter than the minimum, or CBC ciphertext not whole blocks
    bad_spi,           // SPI is not this SA's
    replay,            // duplicate, or older than the window
    integrity,         // ICV, padding or next header wrong (one disposition on purpose)
    expired,           // hard lifetime reached or sequence space exhausted
    buffer_too_small,  // caller's output buffer cannot hold the result
    dummy,             // valid dummy packet (next header 59, RFC 4303 section 2.6): discard
    crypto,            // the crypto library failed
};

const char* to_string(Drop drop);

struct EspCounters {
    std::uint64_t bytes = 0;    // inner bytes protected / accepted
    std::uint64_t packets = 0;  // packets protected / accepted
    std::uint64_t replay_drops = 0;
    std::uint64_t integrity_failures = 0;
    std::uint64_t bad_spi = 0;
    std::uint64_t truncated = 0;
    std::uint64_t expired_drops = 0;
};

struct Decapsulated {
    std::size_t length = 0;  // the inner packet is out[0, length)
    std::uint64_t seq = 0;   // full (inferred) sequence number
    std::uint8_t next_header = 0;
};

class EspSa {
  public:
    static constexpr std::uint8_t next_header_ipv4 = 4;

    // Validates `config` (dataplane.hpp validate()) and sets up the cipher contexts.
    // `now_s`: current time in seconds on the clock later passed to advance_time().
    [[nodiscard]] static std::expected<EspSa, Error> create(const SaConfig& config,
                                                            std::uint64_t now_s = 0);
    EspSa(EspSa&&) noexcept;
    EspSa& operator=(EspSa&&) noexcept;
    EspSa(const EspSa&) = delete;
    EspSa& operator=(const EspSa&) = delete;
    ~EspSa();

    // Exact size encapsulate() writes for an inner packet of `inner_length` bytes.
    std::size_t encapsulated_size(std::size_t inner_length) const;

    // Outbound, tunnel mode: protects an inner IPv4 packet (Next Header 4). Writes SPI .. ICV
    // into `out` (at least encapsulated_size() bytes); returns the number of bytes written.
    // `inner` may lie inside `out`.
    [[nodiscard]] std::expected<std::size_t, Drop> encapsulate(std::span<const std::uint8_t> inner,
                                                               std::span<std::uint8_t> out) {
        return seal(inner, next_header_ipv4, out);
    }
    // Inbound, tunnel mode: `out` must hold at least the ciphertext length (packet size minus
    // header, IV and ICV); the inner packet is written to its start. A Next Header other than
    // 4 (IPv4) is an integrity failure; 59 is a dummy packet (Drop::dummy).
    [[nodiscard]] std::expected<Decapsulated, Drop> decapsulate(
        std::span<const std::uint8_t> packet, std::span<std::uint8_t> out) {
        return open_impl(packet, out, true);
    }

    // The RFC 4303 steps without the tunnel-mode Next Header policy: seal() takes any Next
    // Header value, open() reports it (the published ESP test vectors carry other values).
    [[nodiscard]] std::expected<std::size_t, Drop> seal(std::span<const std::uint8_t> payload,
                                                        std::uint8_t next_header,
                                                        std::span<std::uint8_t> out);
    [[nodiscard]] std::expected<Decapsulated, Drop> open(std::span<const std::uint8_t> packet,
                                                         std::span<std::uint8_t> out) {
        return open_impl(packet, out, false);
    }

    // Raises time expiries (lifetime.seconds counted from `now_s` given to create()).
    void advance_time(std::uint64_t now_s);
    // Pending expiry events, soft before hard, each raised once; nullopt when none.
    std::optional<ExpiryEvent> next_expiry();
    bool hard_expired() const { return hard_expired_; }

    const EspCounters& counters() const { return counters_; }
    SaStats stats() const;
    const SaConfig& config() const { return config_; }
    std::size_t icv_length() const { return icv_len_; }
    std::size_t iv_length() const { return iv_len_; }
    // Outbound: the sequence number the next packet gets. For tests and for diagnostics.
    std::uint64_t next_sequence() const { return next_seq_; }
    // Outbound, tests only: jump the counter (e.g. to just below 2^32).
    void set_next_sequence_for_testing(std::uint64_t seq) { next_seq_ = seq; }
    const ReplayWindow& replay_window() const { return replay_; }
    // Inbound: continue from replay state kept elsewhere (HA peer, restart); see
    // ReplayWindow::restore(). An ESN receiver can only infer high halves near its window.
    void restore_replay_state(std::uint64_t highest) { replay_.restore(highest); }
    // Outbound, tests only: the next packet uses this IV (8 bytes GCM, 16 bytes CBC) instead
    // of the generated one, to reproduce published packets. Never use it otherwise: an IV
    // repeated under one GCM key breaks confidentiality and integrity.
    void force_next_iv_for_testing(std::span<const std::uint8_t> iv);

  private:
    struct Crypto;
    EspSa(const SaConfig& config, std::uint64_t now_s);
    void count_and_check_lifetime(std::size_t inner_bytes);
    void raise(ExpiryKind kind, ExpiryCause cause);
    [[nodiscard]] std::expected<Decapsulated, Drop> open_impl(std::span<const std::uint8_t> packet,
                                                              std::span<std::uint8_t> out,
                                                              bool tunnel_ipv4_only);
    std::optional<std::uint32_t> esn_high(std::uint64_t seq) const;
    [[nodiscard]] bool make_iv(std::uint64_t seq, std::uint8_t* iv);

    SaConfig config_;
    std::unique_ptr<Crypto> crypto_;
    ReplayWindow replay_;
    std::size_t iv_len_ = 0;
    std::size_t icv_len_ = 0;
    std::size_t block_ = 4;  // alignment of payload + padding + 2
    std::uint64_t next_seq_ = 1;
    EspCounters counters_;
    std::uint64_t add_time_ = 0;
    std::uint64_t use_time_ = 0;
    std::uint64_t now_ = 0;
    std::uint8_t raised_ = 0;   // bitmask of events already queued (see raise())
    std::uint8_t pending_ = 0;  // bitmask of events not yet read by next_expiry()
    bool hard_expired_ = false;
    std::size_t forced_iv_len_ = 0;  // > 0: forced_iv_ holds the next IV (tests only)
    std::array<std::uint8_t, 16> forced_iv_{};
};

}  // namespace cgwd::dataplane
