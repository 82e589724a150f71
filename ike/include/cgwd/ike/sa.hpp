// Sans-I/O IKEv2 SA engine, one per tunnel, PSK authentication (RFC 7296).
//
// Inputs: start() (we initiate), received datagrams, timer ticks — each with the current time
// (injected; nothing here reads a clock) — and a crypto::Random for SPIs, nonces, IVs and the
// rekey fuzz (the Diffie-Hellman private values come from OpenSSL's own generator, in
// crypto::KeyExchange::generate, not from this Random).
// Outputs: datagrams to send to the peer (IKE messages with their UDP ports, NAT keepalives;
// take_outgoing), actions for the daemon (ChildSaReady / ChildSaDeleted to program the
// dataplane, IkeSaUp / IkeSaDown, StatusChanged with a readable status), next_deadline() (when
// on_timer must be called) and info() for status displays.
//
// Exchanges (each an initiator and a responder task, ike/src/task_*.cpp):
//   IKE_SA_INIT  HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP)
//            <-- HDR, SAr1, KEr, Nr, N(NATD_S), N(NATD_D)           (RFC 7296 1.2, 2.23)
//            <-- HDR, N(INVALID_KE_PAYLOAD, group) -> retry once per group we offer (1.2, 1.3)
//            <-- HDR, N(NO_PROPOSAL_CHOSEN)        -> status + back-off
//            <-- HDR, N(COOKIE)  -> the same request again (same SPIi, message ID 0, Ni, KEi)
//                with N(COOKIE) as the first payload, up to `max_cookie_retries` times (2.6);
//                a later INVALID_KE retry keeps the cookie and Ni (2.6.1). The responder side
//                of 2.6 (stateless cookies under load) is CookieGuard (cookie.hpp), in front
//                of the IkeSa responders.
//   IKE_AUTH     HDR, SK{IDi, N(INITIAL_CONTACT), AUTH, SAi2, TSi, TSr}
//            <-- HDR, SK{IDr, AUTH, SAr2, TSi, TSr}
//     IDs are ID_IPV4_ADDR of the outside addresses, AUTH is the shared-key MIC (2.15), the
//     first CHILD_SA is ESP in tunnel mode with 0.0.0.0/0 selectors (no KE: 1.2).
//   INFORMATIONAL, responder: empty (liveness check) -> empty answer; Delete of the IKE SA or
//     of the CHILD_SA -> answered (with our own ESP SPI for a CHILD_SA), SA gone. Initiator:
//     send_liveness_check() (empty request) and stop() (Delete of the IKE SA).
//   CREATE_CHILD_SA (task_create_child.cpp, both roles), RFC 7296 1.3.2, 1.3.3, 2.8, 2.18:
//     CHILD_SA rekey  HDR, SK{N(REKEY_SA), SA, Ni, [KEi], TSi, TSr} <-- HDR, SK{SA, Nr, [KEr],
//       TSi, TSr}; KE (PFS) when the ESP proposals carry a DH group (INVALID_KE retried once
//       per group). The new CHILD_SA is announced (ChildSaReady) as soon as the exchange
//       completes; the rekey's initiator then deletes the old one (INFORMATIONAL Delete) and
//       ChildSaDeleted follows on each side when that exchange completes (make-before-break).
//     IKE SA rekey  HDR, SK{SA (new 8-octet SPI), Ni, KEi} <-- HDR, SK{SA, Nr, KEr}; keys from
//       the old SK_d (2.18), message IDs restart at 0, the CHILD_SAs move to the new IKE SA
//       (no ChildSaDeleted / IkeSaUp / IkeSaDown), the rekey's initiator deletes the old SA.
//     Simultaneous rekeys of the same SA (2.8.1): both are answered; the SA created by the
//       exchange holding the lowest nonce is deleted by its initiator, the other initiator
//       deletes the old SA. A CHILD_SA rekey during an IKE SA rekey, or of a CHILD_SA being
//       deleted, gets TEMPORARY_FAILURE (2.25; retried after 2 s); a CREATE_CHILD_SA for an
//       additional CHILD_SA gets NO_ADDITIONAL_SAS.
//     Scheduling: every SA is rekeyed rekey_margin + a fuzz in [0, rekey_margin * rekey_fuzz)
//       (from the injected Random) before its lifetime (never before half of it; lifetime 0:
//       never); rekey_child() / rekey_ike() on demand; on_child_expired() for dataplane soft
//       (rekey now) and hard (ChildSaDeleted, Delete to the peer) expiry.
//
// IKE fragmentation (RFC 7383, sa_fragment.cpp): both sides announce
// N(IKEV2_FRAGMENTATION_SUPPORTED) in IKE_SA_INIT (`fragmentation`, default on); only when both
// did, an encrypted message (IKE_AUTH and later) whose IP datagram would exceed `fragment_size`
// goes out as N Encrypted Fragment (SKF) payloads, each its own datagram, encrypted and
// integrity protected on its own; fragment 1's Next Payload names the first inner payload
// (2.5). Retransmissions and cached responses are the whole fragment set; a retransmitted
// fragmented request gets the cached response on its fragment 1 only (2.6.1). Received
// fragments are authenticated one by one before they are kept, per IKE SA and direction
// (requests / responses): duplicates are ignored, a set with more Total Fragments or a newer
// message ID replaces an incomplete one, one with fewer fragments is dropped (2.6), at most
// `max_fragments` fragments and `max_reassembly_size` octets of plaintext; the completed
// message is handled exactly like an unfragmented SK message. Every fragment dropped (not
// negotiated, malformed, not authentic, over a limit) is counted (SaInfo::fragments_dropped).
//
// Message IDs (2.3): window 1 in both directions. Our one outstanding request is retransmitted
// on the `retransmit_timeouts` schedule (default 1, 2, 4, 8, 16 s; then IkeSaDown). Responses
// are never retransmitted on a timer; a request with the previous message ID gets the cached
// response again, byte for byte (2.1). Anything else that does not fit is dropped silently.
//
// States:
//
//                 start()              IKE_SA_INIT response OK
//     +------+ ------------> +----------+ ---------------------> +----------+
//     | Idle |               | InitSent | <-+ INVALID_KE:        | AuthSent |
//     +------+               +----------+ --+ resend with the    +----------+
//       |  ^                   ^    |         peer's group          |     |
//       |  |      retry timer  |    | error notify, timeout,        |     | IKE_AUTH response
//       |  |   +---------+ ----+    | bad answer                    |     | OK: IkeSaUp,
//       |  |   | Backoff | <--------+-------------------------------+     | ChildSaReady
//       |  |   +---------+ <------------------------------------+         v
//       |  |    (a start()ed side: any failure, also     +-------------+
//       |  |     from InitReplied and Established)      | Established |
//       |  |                                             +-------------+
//       |  +---- (a pure responder: the same failures; stop()) --+  ^
//       |                                                           |
//       | IKE_SA_INIT request OK  +-------------+  IKE_AUTH request  |
//       +-----------------------> | InitReplied | ------------------+
//                                 +-------------+  OK: IkeSaUp, ChildSaReady
//
// Failures out of InitReplied: IKE_AUTH fails (bad AUTH, no ESP proposal), half-open timeout.
// Out of Established: Delete of the IKE SA from the peer, unanswered liveness check, an
// unanswered CREATE_CHILD_SA or Delete request, stop().
//
// A side that was start()ed goes to Backoff after a failure and initiates again when the
// back-off expires (`retry_initial`, doubling up to `retry_max`); a pure responder goes to
// Idle.
//
// NAT traversal (RFC 7296 section 2.23, RFC 3948): NAT detection hashes in IKE_SA_INIT; with a
// NAT (or force_encap on either side) the initiator floats to natt_port for IKE_AUTH and all
// later messages, a responder answers on the ports a request came on and floats when IKE_AUTH
// arrives on natt_port, and after any authenticated message the peer's port is followed (NAT
// rebinding). CHILD_SAs of a floated SA carry UDP encapsulation ports. The side behind the NAT
// (or forcing encapsulation) sends a keepalive when nothing went out on natt_port for
// nat_keepalive.
//
// DPD (2.4): a liveness check after dpd_interval without an authenticated message from the
// peer, retransmitted dpd_retries times (defaults: dead 10 + 1 + 2 + 4 + 8 = 25 s after the
// last message), then ChildSaDeleted, IkeSaDown and dpd_action.
//
// Not implemented: additional CHILD_SAs (one per IKE SA), IKE SA collisions during
// IKE_SA_INIT (a request during InitSent/AuthSent is dropped), a second IKE SA in one engine (a
// new IKE_SA_INIT while Established is dropped here; the daemon answers it with a second IkeSa,
// the replacement candidate of daemon/.../tunnel_runner.hpp, which takes over when it comes up
// and, with IkeSaUp::initial_contact, drops the old SA without a Delete: RFC 7296 2.4), updating
// the encapsulation port of installed CHILD_SAs after NAT rebinding, certificates, EAP, IPv6,
// MOBIKE; path MTU discovery for IKE fragments (optional in RFC 7383).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/ike/crypto.hpp"
#include "cgwd/ike/message.hpp"
#include "cgwd/ike/sa_proposals.hpp"

namespace cgwd::ike {

using TimePoint = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

enum class SaState : std::uint8_t {
    idle,
    init_sent,
    auth_sent,
    init_replied,
    established,
    backoff
};
[[nodiscard]] const char* to_string(SaState);

// Debug only (Wireshark key export, keylog.hpp): the keys of an IKE SA as soon as they are
// derived (IKE_SA_INIT and every IKE SA rekey), given to SaSettings::on_ike_keys. `keys` is
// valid during the call only.
struct IkeSaKeysDerived {
    std::uint64_t spi_i = 0;
    std::uint64_t spi_r = 0;
    config::Cipher cipher;
    std::uint16_t integ = config::integ::none;
    const crypto::IkeSaKeys* keys = nullptr;
};

struct SaSettings {
    config::Ipv4Address local;  // our outside address (NAT detection, and the ID by default)
    // The ID we send (ID_IPV4_ADDR) when it is not `local`: behind a NAT, the public address
    // the peer knows us by (AWS's customer gateway address), while `local` is the private one.
    std::optional<config::Ipv4Address> local_id;
    config::Ipv4Address remote;  // the peer's outside address
    std::uint16_t local_port = 500;
    std::uint16_t remote_port = 500;
    config::Secret psk;
    std::vector<config::Proposal> ike_proposals;
    std::vector<config::Proposal> esp_proposals;
    std::uint32_t replay_window = 1024;
    std::uint32_t ike_lifetime_s = 28800;
    std::uint32_t esp_lifetime_s = 3600;
    std::vector<Millis> retransmit_timeouts{Millis{1000}, Millis{2000}, Millis{4000}, Millis{8000},
                                            Millis{16000}};
    Millis half_open_timeout{30000};  // responder: IKE_AUTH must follow IKE_SA_INIT
    Millis retry_initial{10000};      // initiator back-off after a failure, doubling
    Millis retry_max{300000};
    // IKE_SA_INIT answered with N(COOKIE) (RFC 7296 section 2.6): resent with the cookie at
    // most this many times per attempt, then a failure (back-off).
    std::uint32_t max_cookie_retries = 3;

    // NAT traversal (RFC 7296 section 2.23, RFC 3948). force_encap: our NAT_DETECTION_SOURCE_IP
    // is a random value that cannot match, so the peer sees a NAT and both sides float to
    // `natt_port` and use UDP-encapsulated ESP (strongSwan's encap=yes).
    bool force_encap = false;
    std::uint16_t natt_port = 4500;
    Millis nat_keepalive{20000};  // 0: no keepalives (RFC 3948 section 2.3)

    // Dead peer detection (RFC 7296 section 2.4). A liveness check is sent when nothing
    // authenticated came from the peer for `dpd_interval` (0: no DPD); it is retransmitted
    // `dpd_retries` times on the `retransmit_timeouts` schedule (the last entry repeats when
    // the schedule is shorter), then the peer is dead. `dpd_action`: restart (a start()ed side
    // initiates again at once), clear (SA gone, nothing else), none (no DPD at all).
    // `dpd_retransmit` (not 0): liveness checks are retransmitted after this fixed time instead
    // (a tight DPD for a fast tunnel failover, e.g. 1 s + 2 x 300 ms).
    Millis dpd_interval{10000};
    std::uint32_t dpd_retries = 3;
    Millis dpd_retransmit{0};
    config::DpdAction dpd_action = config::DpdAction::restart;

    // Rekeying (RFC 7296 section 2.8): each SA is rekeyed `rekey_margin` plus a random fuzz in
    // [0, rekey_margin * rekey_fuzz) before its lifetime ends (strongSwan's rekey_time/rand_time).
    Millis rekey_margin{270000};
    double rekey_fuzz = 1.0;

    // IKE fragmentation (RFC 7383). `fragmentation`: announce IKEV2_FRAGMENTATION_SUPPORTED
    // and fragment when the peer did too. `fragment_size`: the largest IPv4 datagram we send
    // for an encrypted IKE message, IP (20) + UDP (8) + non-ESP marker (4, on natt_port) + IKE
    // message, as RFC 7383 section 2.5.1 and strongSwan's charon.fragment_size count it. 2.5.1
    // names the minimum MTUs (576 for IPv4, 1280 for IPv6) as the sizes that always pass; we
    // default to 1280 like strongSwan, which practically every IPv4 path carries (lower it for
    // a path that does not). Larger messages are split. Reassembly limits per IKE SA and
    // direction: `max_fragments` (a higher Total Fragments is dropped) and
    // `max_reassembly_size` octets of decrypted plaintext.
    bool fragmentation = true;
    std::size_t fragment_size = 1280;
    std::size_t max_fragments = 64;
    std::size_t max_reassembly_size = 65535;

    // Debug only: called with the keys of every IKE SA derived (unset: never). For writing
    // Wireshark's decryption tables (keylog.hpp); nothing else may see these keys.
    std::function<void(const IkeSaKeysDerived&)> on_ike_keys;

    // The settings of one AWS tunnel (proposals, PSK, lifetimes, replay window, DPD, rekey
    // margin and fuzz).
    static SaSettings from_tunnel(const config::Tunnel& tunnel, config::Ipv4Address local);
};

// --- Actions -------------------------------------------------------------------------------
// A CHILD_SA to install: inbound (peer -> us, `spi_in`, `keys_in`) and outbound (`spi_out`).
struct ChildSaReady {
    std::uint32_t spi_in = 0;
    std::uint32_t spi_out = 0;
    config::Cipher cipher;
    std::uint16_t integ = config::integ::none;
    crypto::EspKeys keys_in;
    crypto::EspKeys keys_out;
    bool esn = false;
    std::uint32_t replay_window = 1024;
    std::uint32_t lifetime_s = 3600;
    config::Ipv4Address local;  // tunnel endpoints
    config::Ipv4Address remote;
    TsPayload ts_local;  // traffic selectors as negotiated (TSi/TSr from our side)
    TsPayload ts_remote;
    bool nat_detected = false;  // a NAT is between us (or force_encap on either side)
    // Both 0: plain ESP (IP protocol 50). Otherwise UDP-encapsulated ESP (RFC 3948) from our
    // port `encap_local_port` to the peer's `encap_remote_port`: set when the IKE SA floated.
    std::uint16_t encap_local_port = 0;
    std::uint16_t encap_remote_port = 0;
    // We initiated the exchange that created this SA. When it rekeys an SA and we were the
    // responder, RFC 7296 section 2.8 says to keep sending on the old SA until the initiator
    // deletes it (or traffic arrives on the new one): install the inbound half at once and
    // the outbound half when the old SA goes.
    bool exchange_initiator = false;
};
struct ChildSaDeleted {
    std::uint32_t spi_in = 0;
    std::uint32_t spi_out = 0;
};
struct IkeSaUp {
    std::uint64_t spi_i = 0;
    std::uint64_t spi_r = 0;
    bool initiator = false;
    ChosenTransforms transforms;
    bool nat_detected = false;
    // Responder: the peer's IKE_AUTH request carried N(INITIAL_CONTACT) (RFC 7296 section 2.4:
    // it has no other IKE SA with us, so ours from before it restarted are stale and can go
    // without a Delete). Always false on the initiator side (a response never carries it).
    bool initial_contact = false;
};
struct IkeSaDown {
    std::string reason;
};
struct StatusChanged {
    SaState state = SaState::idle;
    std::string status;  // e.g. "NO_PROPOSAL_CHOSEN from peer"; never contains secrets
};
using Action = std::variant<ChildSaReady, ChildSaDeleted, IkeSaUp, IkeSaDown, StatusChanged>;

// One datagram to send. `bytes` is the IKE message without the non-ESP marker. Contract for the
// socket adapter: if local_port == natt_port and !keepalive, prepend the 4 zero bytes of the
// non-ESP marker (RFC 3948 section 2.2); a keepalive is the single byte 0xFF (RFC 3948 section
// 2.3), sent as-is from natt_port.
struct OutDatagram {
    Bytes bytes;
    std::uint16_t local_port = 500;
    std::uint16_t remote_port = 500;
    bool keepalive = false;
};

// A readable snapshot for `cgwctl status`. Never holds key material.
struct ChildSaInfo {
    std::uint32_t spi_in = 0;
    std::uint32_t spi_out = 0;
    std::string transforms;  // e.g. "AES-256-GCM-16" or "AES-128-CBC/HMAC-SHA1-96/MODP-2048"
    std::optional<TimePoint> established_at;
    std::optional<TimePoint> next_rekey;
};
struct SaInfo {
    SaState state = SaState::idle;
    std::string status;
    bool initiator = false;  // original initiator of the current IKE SA
    std::uint64_t spi_i = 0;
    std::uint64_t spi_r = 0;
    bool nat_detected = false;
    bool floated = false;  // IKE moved to natt_port
    std::uint16_t local_port = 500;
    std::uint16_t remote_port = 500;
    std::string ike_transforms;  // e.g. "AES-256-GCM-16/PRF-HMAC-SHA2-384/ECP-384"
    std::optional<TimePoint> established_at;
    std::optional<TimePoint> next_ike_rekey;
    std::optional<ChildSaInfo> child;  // the newest installed CHILD_SA
    std::uint32_t ike_rekeys = 0;
    std::uint32_t child_rekeys = 0;
    std::size_t retired_ike_sas = 0;  // old IKE SAs kept for their Delete exchange (at most 4)
    std::optional<TimePoint> last_dpd_sent;
    // IKE fragmentation (RFC 7383): negotiated for the current IKE SA; counters since the
    // engine was created: fragments built (retransmissions not counted), fragments accepted
    // (authenticated and kept), fragments dropped for any reason.
    bool fragmentation = false;
    std::uint64_t fragments_sent = 0;
    std::uint64_t fragments_received = 0;
    std::uint64_t fragments_dropped = 0;
};

class IkeSa {
  public:
    IkeSa(SaSettings settings, crypto::Random& rng);
    ~IkeSa();
    IkeSa(const IkeSa&) = delete;
    IkeSa& operator=(const IkeSa&) = delete;

    // Initiate (and re-initiate after failures). Ignored unless Idle or Backoff.
    void start(TimePoint now);
    // For an SA that came up as responder and that the daemon keeps for a tunnel it initiates
    // (a replacement IKE SA from a restarted peer): from now on it behaves as if start()ed, so
    // a failure leads to Backoff and a new initiation (dpd_action restart: at once), not Idle.
    // Nothing changes for the current SA; stop() clears it again.
    void adopt_initiator_role() { initiator_role_ = true; }
    // One IKE message from the peer, received on our `local_port` from the peer's
    // `remote_port`. `ike` never includes the non-ESP marker (the adapter strips it).
    void on_datagram(std::span<const std::uint8_t> ike, TimePoint now,
                     std::uint16_t local_port = 500, std::uint16_t remote_port = 500);
    void on_timer(TimePoint now);
    // Established only, no request outstanding: an empty INFORMATIONAL request (liveness
    // check, RFC 7296 section 2.4), retransmitted `dpd_retries` times; no answer -> the peer
    // is dead (ChildSaDeleted, IkeSaDown, then `dpd_action`). The engine sends these itself
    // every `dpd_interval` of silence. False if it could not be sent now.
    bool send_liveness_check(TimePoint now);
    // The dataplane saw authenticated ESP from the peer: it is alive, so the liveness check
    // waits another `dpd_interval` (RFC 7296 section 2.4 asks for one only when nothing
    // cryptographically protected came, IKE or ESP). Established only.
    void on_peer_traffic(TimePoint now);
    // Rekey now (cgwctl rekey): a CREATE_CHILD_SA for the CHILD_SA / the IKE SA. False if not
    // established or another exchange is outstanding.
    bool rekey_child(TimePoint now);
    bool rekey_ike(TimePoint now);
    // A dataplane lifetime event for the CHILD_SA with inbound SPI `spi_in`: soft -> rekey it
    // now, hard -> delete it (INFORMATIONAL Delete, ChildSaDeleted).
    void on_child_expired(std::uint32_t spi_in, bool hard, TimePoint now);
    // Administrative close: when established, one INFORMATIONAL Delete of the IKE SA is sent
    // (not retransmitted), then ChildSaDeleted + IkeSaDown; no re-initiation afterwards.
    void stop(TimePoint now);
    [[nodiscard]] std::optional<TimePoint> next_deadline() const;
    // The DPD interval in force (0: no DPD). The adapter should report ESP traffic
    // (on_peer_traffic) a few times per interval so that silence is measured closely.
    [[nodiscard]] Millis dpd_interval() const {
        return dpd_enabled() ? settings_.dpd_interval : Millis{0};
    }

    [[nodiscard]] SaState state() const { return state_; }
    [[nodiscard]] const std::string& status() const { return status_; }

    [[nodiscard]] SaInfo info() const;

    // Drain the outputs accumulated since the last call.
    [[nodiscard]] std::vector<OutDatagram> take_outgoing();
    [[nodiscard]] std::vector<Action> take_actions();
    // take_outgoing() without ports and without keepalives (for tests on one port).
    [[nodiscard]] std::vector<Bytes> take_datagrams();

  private:
    // One encrypted message as sent: one datagram, or its SKF fragments (RFC 7383).
    using Datagrams = std::vector<Bytes>;
    // Fragments of one message being reassembled (RFC 7383 section 2.6), decrypted.
    struct Reassembly {
        std::uint32_t message_id = 0;
        ExchangeType exchange = ExchangeType::ike_auth;
        std::uint16_t total = 0;  // 0: empty
        PayloadType first_inner = PayloadType::none;
        std::vector<std::optional<Bytes>> parts;  // by Fragment Number - 1
        std::size_t received = 0;
        std::size_t size = 0;  // plaintext octets kept
    };
    struct Keys {
        crypto::IkeSaKeys ike;
        crypto::SkCipher out;  // SK_ei/SK_ai as initiator, SK_er/SK_ar as responder
        crypto::SkCipher in;
        Reassembly requests{};  // fragments of the peer's request / of its response
        Reassembly responses{};
    };
    struct Pending {
        Datagrams datagrams;
        ExchangeType exchange = ExchangeType::ike_sa_init;
        std::uint32_t message_id = 0;
        std::size_t transmissions = 0;
        TimePoint deadline;
        std::size_t max_transmissions = 0;
        bool liveness = false;  // a liveness check: its failure means the peer is dead
    };
    struct Cached {
        std::uint64_t spi_i = 0;
        std::uint64_t spi_r = 0;
        std::uint32_t message_id = 0;
        ExchangeType exchange = ExchangeType::ike_sa_init;
        Datagrams datagrams;
    };
    // An IKE SA that is not the current one: replaced by a rekey (waiting for its Delete
    // exchange), or the redundant one of a rekey collision; or a rekeyed SA not installed yet.
    struct IkeCtx {
        bool initiator = false;
        std::uint64_t spi_i = 0;
        std::uint64_t spi_r = 0;
        Bytes ni, nr;
        Selection selection;
        std::unique_ptr<Keys> keys;
        std::uint32_t next_request_id = 0;
        std::optional<Pending> pending;
        std::uint32_t peer_next_id = 0;
        std::optional<Cached> cached;
        TimePoint drop_at{};  // forgotten then even without a Delete exchange
    };
    // One CHILD_SA (normally one; two or three while rekeying).
    struct Child {
        std::uint32_t spi_in = 0;
        std::uint32_t spi_out = 0;
        ChosenTransforms transforms;
        TsPayload ts_i, ts_r;  // as negotiated, from our side: ts_i ours, ts_r the peer's
        TimePoint established_at{};
        TimePoint rekey_at{};
        bool replaced = false;  // rekeyed: the new one is installed, this one is being deleted
    };
    // What our outstanding CREATE_CHILD_SA / INFORMATIONAL Delete is about.
    enum class Task : std::uint8_t { rekey_child, rekey_ike, delete_child, delete_ike };
    struct Exchange {
        Task task = Task::rekey_child;
        std::uint32_t child_spi_in = 0;  // rekey_child / delete_child: the CHILD_SA concerned
        std::uint32_t new_spi_in = 0;    // rekey_child: our inbound SPI of the new CHILD_SA
        std::uint64_t new_ike_spi = 0;   // rekey_ike: our SPI of the new IKE SA
        Bytes nonce;
        std::optional<crypto::KeyExchange> ke;
        std::vector<Proposal> sent;
        std::vector<std::uint16_t> tried_groups;
    };
    // A peer's rekey answered while our rekey of the same SA was outstanding (RFC 7296
    // section 2.8.1): its nonces decide which of the two new SAs is redundant.
    struct Collision {
        std::uint32_t old_spi_in = 0;  // CHILD_SA rekey: the SA both rekeyed
        std::uint32_t new_spi_in = 0;  // CHILD_SA rekey: the SA the peer's exchange created
        Bytes ni, nr;                  // nonces of the peer's exchange
    };

    // sa.cpp: plumbing
    void set_state(SaState s, std::string status);
    void fail(std::string status, TimePoint now);
    void reset_sa();
    [[nodiscard]] Millis retransmit_timeout(bool liveness, std::size_t n) const;
    void send_request(Datagrams datagrams, ExchangeType exchange, TimePoint now,
                      bool liveness = false);
    void send_response(const Header& request, Datagrams datagrams);
    // Queue an IKE message on the current ports / on the ports of the datagram being handled.
    void emit(Bytes bytes);
    void emit_reply(Bytes bytes);
    void emit(const Datagrams& datagrams);
    void emit_reply(const Datagrams& datagrams);
    void follow_ports();  // after an authenticated message: float / NAT rebinding (2.23)
    void peer_dead(std::string reason, TimePoint now);
    [[nodiscard]] bool floated() const { return local_port_ == settings_.natt_port; }
    [[nodiscard]] bool dpd_enabled() const;
    [[nodiscard]] bool keepalive_enabled() const;
    [[nodiscard]] std::optional<TimePoint> dpd_deadline() const;
    void respond_encrypted(const Header& request, const std::vector<Payload>& inner);
    void handle_request(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now);
    void handle_response(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now);
    [[nodiscard]] std::optional<Datagrams> seal(const Header& h, const std::vector<Payload>& inner);
    [[nodiscard]] std::optional<std::vector<Payload>> open(std::span<const std::uint8_t> datagram);
    // sa_fragment.cpp: SK protection with RFC 7383 fragmentation. open() returns the inner
    // payloads of a complete, authentic message; nullopt for anything else, including a
    // fragment kept for reassembly.
    [[nodiscard]] std::optional<Datagrams> seal(Keys& keys, const Header& h,
                                                const std::vector<Payload>& inner);
    [[nodiscard]] std::optional<std::vector<Payload>> open(Keys& keys,
                                                           std::span<const std::uint8_t> datagram);
    [[nodiscard]] std::optional<Datagrams> seal_fragments(Keys& keys, const Header& h,
                                                          PayloadType first,
                                                          std::span<const std::uint8_t> plaintext);
    [[nodiscard]] std::optional<std::vector<Payload>> reassemble(
        Keys& keys, const Header& h, const SkfPayload& skf, std::size_t body_offset,
        std::span<const std::uint8_t> datagram);
    [[nodiscard]] std::size_t fragment_budget() const;  // IKE octets per datagram
    // Fragment Number of an SKF message (without decrypting), 0 if it is not one.
    [[nodiscard]] static std::uint16_t fragment_number(std::span<const std::uint8_t> datagram);
    Header header(ExchangeType exchange, bool response, std::uint32_t message_id) const;
    [[nodiscard]] Bytes id_body() const;  // our ID payload body (ID_IPV4_ADDR)
    [[nodiscard]] Bytes natd_hash(std::uint64_t spi_i, std::uint64_t spi_r,
                                  config::Ipv4Address address, std::uint16_t port) const;
    [[nodiscard]] std::vector<Payload> natd_payloads(std::uint64_t spi_i, std::uint64_t spi_r);
    void check_natd(const Message& m);
    [[nodiscard]] bool derive_keys(const crypto::SecretBytes& shared);
    // Debug key export (SaSettings::on_ike_keys), if set.
    void export_ike_keys(std::uint64_t spi_i, std::uint64_t spi_r, const ChosenTransforms& t,
                         const crypto::IkeSaKeys& keys) const;
    [[nodiscard]] bool child_sa_ready(const Selection& esp, std::uint32_t spi_out,
                                      const TsPayload& tsi, const TsPayload& tsr);
    // Derives the keys and emits ChildSaReady. `ni`/`nr`: the nonces of the exchange that
    // created it, whose initiator `exchange_initiator` says; `pfs`: g^ir of its KE, or empty.
    [[nodiscard]] bool install_child(const ChosenTransforms& t, std::uint32_t spi_in,
                                     std::uint32_t spi_out, const Bytes& ni, const Bytes& nr,
                                     crypto::ByteView pfs, bool exchange_initiator,
                                     const TsPayload& tsi, const TsPayload& tsr);
    void remove_child(std::uint32_t spi_in);  // ChildSaDeleted + forget it
    // More than kMaxReplacedChildren rekeyed CHILD_SAs waiting for the peer's Delete: the
    // oldest go, with our Delete.
    void drop_excess_replaced();
    static constexpr std::size_t kMaxReplacedChildren = 2;
    Child* find_child_in(std::uint32_t spi_in);
    Child* find_child_out(std::uint32_t spi_out);

    // task_ike_init.cpp
    void begin(TimePoint now);
    void init_send_request(std::uint16_t group, TimePoint now);
    void init_resend_with_cookie(const NotifyPayload& cookie, TimePoint now);
    void init_handle_response(const Message& m, std::span<const std::uint8_t> datagram,
                              TimePoint now);
    void init_handle_request(const Message& m, std::span<const std::uint8_t> datagram,
                             TimePoint now);
    // task_ike_auth.cpp
    void auth_send_request(TimePoint now);
    void auth_handle_response(const std::vector<Payload>& inner, TimePoint now);
    void auth_handle_request(const Header& h, const std::vector<Payload>& inner, TimePoint now);
    // task_informational.cpp
    void info_handle_request(const Header& h, const std::vector<Payload>& inner, TimePoint now);
    void delete_child_send(std::uint32_t spi_in, TimePoint now);
    void delete_handle_response(const Exchange& x, TimePoint now);
    // task_create_child.cpp
    TimePoint rekey_time(TimePoint established, std::uint32_t lifetime_s);
    void run_due(TimePoint now);  // scheduled rekeys and Deletes, when no request is pending
    bool child_rekey_send(std::uint32_t spi_in, std::uint16_t group, TimePoint now,
                          std::vector<std::uint16_t> tried = {});
    bool ike_rekey_send(std::uint16_t group, TimePoint now, std::vector<std::uint16_t> tried = {});
    void create_child_handle_response(Exchange x, const std::vector<Payload>& inner, TimePoint now);
    void create_child_handle_request(const Header& h, const std::vector<Payload>& inner,
                                     TimePoint now);
    void child_rekey_response(Exchange& x, const std::vector<Payload>& inner, TimePoint now);
    void ike_rekey_response(Exchange& x, const std::vector<Payload>& inner, TimePoint now);
    void child_rekey_request(const Header& h, const std::vector<Payload>& inner,
                             const NotifyPayload& rekey, TimePoint now);
    void ike_rekey_request(const Header& h, const std::vector<Payload>& inner, TimePoint now);
    [[nodiscard]] static std::unique_ptr<Keys> make_keys(const ChosenTransforms& t,
                                                         crypto::IkeSaKeys keys, bool initiator);
    std::unique_ptr<IkeCtx> take_current();
    void install_ike(std::unique_ptr<IkeCtx> ctx);
    void retire(std::unique_ptr<IkeCtx> ctx, bool we_delete, TimePoint now);
    IkeCtx* find_retired(std::uint64_t spi_i, std::uint64_t spi_r);
    void retired_handle(IkeCtx& ctx, const Header& h, std::span<const std::uint8_t> datagram,
                        TimePoint now);
    void retired_timers(TimePoint now);

    SaSettings settings_;
    crypto::Random& rng_;
    SaState state_ = SaState::idle;
    std::string status_ = "idle";
    bool initiator_role_ = false;  // start() was called: re-initiate after failures

    // Current IKE SA.
    bool initiator_ = false;  // original initiator of the current IKE SA
    std::uint64_t spi_i_ = 0;
    std::uint64_t spi_r_ = 0;
    Bytes ni_, nr_;
    Bytes init_request_, init_response_;  // RealMessage1/2 for AUTH (2.15)
    std::optional<crypto::KeyExchange> ke_;
    std::vector<std::uint16_t> tried_groups_;
    Bytes cookie_;  // the responder's N(COOKIE) data, sent first in our IKE_SA_INIT (2.6)
    std::uint32_t cookie_retries_ = 0;
    std::vector<Proposal> sent_ike_proposals_, sent_esp_proposals_;
    std::uint32_t esp_spi_in_ = 0;
    std::uint32_t esp_spi_out_ = 0;
    Selection ike_selection_;
    std::unique_ptr<Keys> keys_;
    bool nat_detected_ = false;
    bool fragmentation_ = false;  // RFC 7383: both sides announced support in IKE_SA_INIT

    // Requests we send (window 1).
    std::uint32_t next_request_id_ = 0;
    std::optional<Pending> pending_;

    // Requests we answer (window 1): the next expected message ID and the last response.
    std::uint32_t peer_next_id_ = 0;
    std::optional<Cached> cached_response_;

    // Rekeying (task_create_child.cpp).
    std::vector<Child> children_;
    std::optional<Exchange> exchange_;
    std::optional<Collision> child_collision_;
    std::unique_ptr<IkeCtx> ike_candidate_;  // the peer's IKE rekey answered during ours
    std::optional<Collision> ike_collision_;
    // Old IKE SAs kept up to 60 s for their Delete exchange; at most kMaxRetired (a peer that
    // rekeys the IKE SA over and over and never deletes would otherwise add one per rekey).
    std::vector<std::unique_ptr<IkeCtx>> retired_;
    static constexpr std::size_t kMaxRetired = 4;
    std::optional<TimePoint> ike_rekey_at_;
    std::vector<std::uint32_t> delete_queue_;  // inbound SPIs to announce in a Delete

    std::optional<TimePoint> half_open_deadline_;
    std::optional<TimePoint> retry_deadline_;
    Millis retry_delay_{0};

    // NAT traversal: the ports the IKE SA uses now, those of the datagram being handled, and
    // what NAT detection found.
    std::uint16_t local_port_ = 500;
    std::uint16_t remote_port_ = 500;
    std::uint16_t rx_local_port_ = 500;
    std::uint16_t rx_remote_port_ = 500;
    bool natt_peer_ = false;   // the peer sent NAT detection payloads
    bool nat_local_ = false;   // we are behind a NAT: the peer's NATD_D did not match us
    bool nat_remote_ = false;  // the peer is behind a NAT: its NATD_S did not match it
    std::optional<TimePoint> last_sent_natt_;  // for the keepalive cadence

    // Liveness and status.
    TimePoint now_{};
    std::optional<TimePoint> last_received_;  // last authenticated message from the peer
    std::optional<TimePoint> last_dpd_sent_;
    std::optional<TimePoint> established_at_;
    std::optional<TimePoint> child_established_at_;
    std::uint32_t ike_rekeys_ = 0;
    std::uint32_t child_rekeys_ = 0;
    std::uint64_t fragments_sent_ = 0;
    std::uint64_t fragments_received_ = 0;
    std::uint64_t fragments_dropped_ = 0;

    std::vector<OutDatagram> outgoing_;
    std::vector<Action> actions_;
};

}  // namespace cgwd::ike
