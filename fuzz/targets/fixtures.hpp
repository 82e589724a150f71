// Fixed settings and input layouts shared by the fuzz targets (fuzz/targets/*.cpp) and the seed
// generator (fuzz/make_seeds.cpp), so generated seeds match what the targets expect: the ESP
// keys, the IKE SA settings and PSK, the BFD sessions, and the opcodes of the stateful targets'
// input scripts. Nothing here is secret: these keys exist only for fuzzing.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cgwd/bgp/bfd_session.hpp"
#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/ike/sa.hpp"

namespace cgwd::fuzz {

// The next record of an input made of packets (esp_decap, offload): a 2-byte big-endian length
// and that many bytes, or, when the prefix does not fit in what is left, everything left.
// Advances `off` past the record.
inline std::span<const std::uint8_t> next_record(const std::uint8_t* data, std::size_t size,
                                                 std::size_t& off) {
    std::size_t len = size - off;
    if (len >= 2) {
        const std::size_t prefixed = (std::size_t{data[off]} << 8) | data[off + 1];
        if (prefixed <= len - 2) {
            off += 2;
            len = prefixed;
        }
    }
    std::span<const std::uint8_t> record(data + off, len);
    off += len;
    return record;
}

// --- esp_decap --------------------------------------------------------------------------------
inline constexpr std::uint32_t esp_fuzz_spi = 0x00001234;

// AES-GCM-16-128 or AES-CBC-128 + HMAC-SHA2-256-128, with or without ESN.
inline dataplane::SaConfig esp_fuzz_config(
    bool gcm, bool esn, dataplane::Direction direction = dataplane::Direction::outbound) {
    static const std::array<std::uint8_t, 20> enc{1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    static const std::array<std::uint8_t, 32> integ{0x0b};
    dataplane::SaConfig sa;
    sa.direction = direction;
    sa.spi = esp_fuzz_spi;
    sa.esn = esn;
    sa.replay_window = 128;
    if (gcm) {
        sa.cipher = {config::encr::aes_gcm_16, 128};
        sa.enc_key = dataplane::KeyBytes(enc);
    } else {
        sa.cipher = {config::encr::aes_cbc, 128};
        sa.integ = config::integ::hmac_sha2_256_128;
        sa.enc_key = dataplane::KeyBytes(std::span(enc).first(16));
        sa.integ_key = dataplane::KeyBytes(integ);
    }
    return sa;
}
inline dataplane::SaConfig esp_fuzz_inbound(bool gcm, bool esn) {
    return esp_fuzz_config(gcm, esn, dataplane::Direction::inbound);
}

// --- ike_responder ----------------------------------------------------------------------------
// xorshift64*: the engines' deterministic randomness (SPIs, nonces, IVs, rekey fuzz; the key
// exchange values come from OpenSSL's own generator).
class FuzzRandom final : public ike::crypto::Random {
  public:
    explicit FuzzRandom(std::uint64_t seed) : state_(seed ? seed : 1) {}
    bool fill(std::span<std::uint8_t> out) override {
        for (auto& b : out) {
            state_ ^= state_ >> 12;
            state_ ^= state_ << 25;
            state_ ^= state_ >> 27;
            b = static_cast<std::uint8_t>((state_ * 0x2545F4914F6CDD1DULL) >> 56);
        }
        return true;
    }

  private:
    std::uint64_t state_;
};

inline constexpr std::uint64_t ike_seed_initiator = 1;
inline constexpr std::uint64_t ike_seed_responder = 2;
inline constexpr config::Ipv4Address ike_cgw{0xC0000201};  // 192.0.2.1, the customer gateway
inline constexpr config::Ipv4Address ike_aws{0xCB007105};  // 203.0.113.5, the responder
// The fake clock starts here (not at the epoch, so "an hour ago" exists).
inline ike::TimePoint ike_fuzz_epoch() {
    return ike::TimePoint{} + std::chrono::hours(1);
}

// Responder: offers X25519 + AES-GCM (PFS on rekeys) first and an AWS default family
// (AES-128-CBC/SHA1/MODP-1024) second. Initiator: the first one only (X25519 is the cheapest
// key exchange, so a handshake per input stays fast). Short lifetimes (CHILD_SA rekeyed after
// 210-240 s, IKE SA after 510-540 s) and a DPD interval of 120 s, so a script of 30-second
// steps reaches the scheduled rekeys.
inline ike::SaSettings ike_fuzz_settings(bool responder) {
    using config::Proposal;
    const Proposal ike_fast{
        {{config::encr::aes_gcm_16, 128}}, {}, {config::prf::hmac_sha2_256}, {31}, {}};
    const Proposal esp_fast{{{config::encr::aes_gcm_16, 128}}, {}, {}, {31}, {}};
    const Proposal ike_default{{{config::encr::aes_cbc, 128}},
                               {config::integ::hmac_sha1_96},
                               {config::prf::hmac_sha1},
                               {2},
                               {}};
    const Proposal esp_default{
        {{config::encr::aes_cbc, 128}}, {config::integ::hmac_sha1_96}, {}, {}, {}};
    ike::SaSettings s;
    s.local = responder ? ike_aws : ike_cgw;
    s.remote = responder ? ike_cgw : ike_aws;
    s.psk = config::Secret("fuzzing-only-psk");
    s.ike_proposals = {ike_fast};
    s.esp_proposals = {esp_fast};
    if (responder) {
        s.ike_proposals.push_back(ike_default);
        s.esp_proposals.push_back(esp_default);
    }
    s.ike_lifetime_s = 600;
    s.esp_lifetime_s = 300;
    s.rekey_margin = std::chrono::seconds(60);
    s.rekey_fuzz = 0.5;
    s.dpd_interval = std::chrono::seconds(120);
    return s;
}

// The responder target's input is a script of records, each an opcode byte (taken modulo
// ike_op_count) and its operands. "In flight" are the datagrams each engine sent and nobody
// delivered or dropped yet, oldest first.
enum class IkeOp : std::uint8_t {
    raw = 0,           // flags, length (2 bytes), bytes: a datagram to the responder; flags bit 0:
                       // on local port 4500, bit 1: from remote port 4500, bit 2: from port 40000
    to_responder = 1,  // deliver the initiator's oldest in-flight datagram
    mutated = 2,       // offset (2 bytes), xor: the same with one byte changed
    to_initiator = 3,  // deliver the responder's oldest in-flight datagram
    drop_to_responder = 4,
    drop_to_initiator = 5,
    advance = 6,  // amount (2 bytes), unit (bit 0: seconds, else milliseconds): run the clock,
                  // firing both engines' timers at each deadline on the way
    command = 7,  // which (IkeCommand)
    replay = 8,   // index: an earlier initiator datagram again (from the responder's history)
    rebind = 9,   // deliver the initiator's oldest datagram from another source port (a NAT)
    pump = 10,    // deliver everything in flight both ways until both engines are quiet
};
inline constexpr std::uint8_t ike_op_count = 11;

enum class IkeCommand : std::uint8_t {
    start = 0,  // the initiator initiates
    initiator_rekey_child,
    initiator_rekey_ike,
    initiator_liveness,
    initiator_stop,
    responder_rekey_child,
    responder_rekey_ike,
    responder_liveness,
    responder_stop,
    responder_child_soft_expired,  // the dataplane reports a CHILD_SA's (highest inbound SPI)
    responder_child_hard_expired,  // soft / hard expiry
};
inline constexpr std::uint8_t ike_command_count = 11;

// What a script leaves the responder with (the seed generator checks its seeds with it).
struct IkeScriptResult {
    ike::SaState state = ike::SaState::idle;
    std::size_t child_sas = 0;  // installed now, per its ChildSaReady / ChildSaDeleted
    std::size_t sent = 0;       // IKE messages it sent
};
IkeScriptResult run_ike_script(const std::uint8_t* data, std::size_t size);

// --- bfd --------------------------------------------------------------------------------------
inline constexpr std::uint32_t bfd_disc_local = 0x11111111;  // the session under test
inline constexpr std::uint32_t bfd_disc_peer = 0x22222222;   // its honest peer
inline bgp::BfdConfig bfd_fuzz_config(bool local) {
    return bgp::BfdConfig{local ? bfd_disc_local : bfd_disc_peer, bgp::Micros{300'000},
                          bgp::Micros{300'000}, 3};
}

enum class BfdOp : std::uint8_t {
    raw = 0,        // length (1 byte), bytes: a datagram to the session under test
    from_peer = 1,  // deliver the peer's oldest in-flight packet
    to_peer = 2,    // deliver the local session's oldest in-flight packet to the peer
    drop_from_peer = 3,
    drop_to_peer = 4,
    advance = 5,  // milliseconds (2 bytes): run the clock, firing timers on the way
    command = 6,  // which (bit 7: on the peer); set_parameters: tx, rx, detect mult bytes
    mutated = 7,  // offset, xor: the peer's oldest packet with one byte changed
    pump = 8,     // deliver everything in flight both ways until both are quiet
};
inline constexpr std::uint8_t bfd_op_count = 9;
// The state a script leaves the session under test in (for the seed generator).
bgp::BfdState run_bfd_script(const std::uint8_t* data, std::size_t size);
// command `which` (bit 7 cleared) modulo 3: 0 admin_down, 1 admin_up, 2 set_parameters (tx and rx:
// (byte + 1) x 10 ms, detect mult: byte, at least 1).

// --- rib --------------------------------------------------------------------------------------
// The rib target's input: byte 0 configures the Rib (bits 0-1: max_paths - 1; bit 2:
// always_compare_med; bits 3-4: slot 3's import policy: none (RFC 8212), max-prefix 4 Warn,
// 3 DropExcess, 5 Reset), then records, each an opcode byte (taken modulo rib_op_count) and its
// operands. A slot is one of rib_slots fixed peers (rib.cpp in fuzz/targets has their
// configurations); a prefix index picks one of rib_prefixes (the first rib_v4_prefixes IPv4,
// the rest IPv6), taken modulo the count that fits where it is used.
enum class RibOp : std::uint8_t {
    // slot, a0, a1, a2 (attributes, see rib.cpp), counts (bits 0-2: IPv4 NLRI, bits 3-4: IPv6
    // MP_REACH NLRI, bit 5: a withdrawn-counts byte follows (same layout), bit 6:
    // treat-as-withdraw, bit 7: MP_REACH_NLRI even without IPv6 NLRI), [withdrawn counts], the
    // prefix indices: NLRI, MP_REACH NLRI, Withdrawn Routes, MP_UNREACH_NLRI
    announce = 0,
    withdraw = 1,        // slot, counts (bits 0-2: IPv4, bits 3-4: IPv6), prefix indices
    peer_up = 2,         // slot, capabilities (bits 0-1: none, IPv4 + IPv6, IPv6, IPv4)
    peer_down = 3,       // slot
    graceful_down = 4,   // slot, retained families (bit 0: IPv4, bit 1: IPv6)
    flush_stale = 5,     // slot, families (same)
    originate = 6,       // prefix index, origin
    withdraw_local = 7,  // prefix index
    take_fib = 8,        // take_fib_changes, then the FIB against the model's decisions
    take_updates = 9,    // slot
    best = 10,           // prefix index
    remove_peer = 11,    // slot
    add_peer = 12,       // slot (again, after remove_peer; a new PeerId)
    set_policies = 13,   // slot, variant (0: as configured, 1: no import policy, 2: no export
                         // policy, 3: export only 10.0.0.0/8 le 24, at most 2 prefixes)
};
inline constexpr std::uint8_t rib_op_count = 14;
inline constexpr std::size_t rib_slots = 4;
inline constexpr std::size_t rib_v4_prefixes = 24;
inline constexpr std::size_t rib_v6_prefixes = 8;
inline constexpr std::size_t rib_prefixes = rib_v4_prefixes + rib_v6_prefixes;

// What a script leaves the Rib with before the target's final teardown (for the seed
// generator).
struct RibScriptResult {
    std::array<bool, rib_slots> up{};
    std::array<std::size_t, rib_slots> routes{};  // adj_rib_in_size
    std::array<std::size_t, rib_slots> stale{};
    std::size_t fib_size = 0;
    std::size_t widest_fib_change = 0;  // most next hops in one FibChange
    std::size_t last_fib_changes = 0;   // FibChanges of the last take_fib
    std::size_t resets = 0;             // max-prefix Reset
    std::size_t dropped_excess = 0;     // prefixes dropped by DropExcess
    std::size_t flushed = 0;            // routes flush_stale removed
    std::size_t ipv6_in_fib = 0;        // IPv6 prefixes in the FIB
    std::size_t removed_peers = 0;      // remove_peer of a present slot
    std::size_t updates_sent = 0;       // UPDATEs take_updates returned
};
RibScriptResult run_rib_script(const std::uint8_t* data, std::size_t size);

}  // namespace cgwd::fuzz
