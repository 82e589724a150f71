// Sans-I/O IKEv2 SA engine, one per tunnel, PSK authentication (RFC 7296).
//
// Inputs: start() (we initiate), received datagrams, timer ticks — each with the current time
// (injected; nothing here reads a clock) — and a crypto::Random for SPIs, nonces, KE and IVs.
// Outputs: datagrams to send to the peer (UDP port 500 payloads), actions for the daemon
// (ChildSaReady / ChildSaDeleted to program the dataplane, IkeSaUp / IkeSaDown, StatusChanged
// with a readable status) and next_deadline(), when on_timer must be called.
//
// Exchanges (each an initiator and a responder task, ike/src/task_*.cpp):
//   IKE_SA_INIT  HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP)
//            <-- HDR, SAr1, KEr, Nr, N(NATD_S), N(NATD_D)           (RFC 7296 1.2, 2.23)
//            <-- HDR, N(INVALID_KE_PAYLOAD, group) -> retry once per group we offer (1.2, 1.3)
//            <-- HDR, N(NO_PROPOSAL_CHOSEN)        -> status + back-off
//   IKE_AUTH     HDR, SK{IDi, N(INITIAL_CONTACT), AUTH, SAi2, TSi, TSr}
//            <-- HDR, SK{IDr, AUTH, SAr2, TSi, TSr}
//     IDs are ID_IPV4_ADDR of the outside addresses, AUTH is the shared-key MIC (2.15), the
//     first CHILD_SA is ESP in tunnel mode with 0.0.0.0/0 selectors (no KE: 1.2).
//   INFORMATIONAL, responder: empty (liveness check) -> empty answer; Delete of the IKE SA or
//     of the CHILD_SA -> answered (with our own ESP SPI for a CHILD_SA), SA gone. Initiator:
//     send_liveness_check() (empty request) and stop() (Delete of the IKE SA).
//   CREATE_CHILD_SA (responder only): answered with N(NO_ADDITIONAL_SAS); rekeying is not
//     implemented yet.
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
// Out of Established: Delete of the IKE SA from the peer, unanswered liveness check, stop().
//
// A side that was start()ed goes to Backoff after a failure and initiates again when the
// back-off expires (`retry_initial`, doubling up to `retry_max`); a pure responder goes to
// Idle. Not implemented: NAT-T port floating to 4500 (NAT is detected and reported only),
// COOKIE, rekeying (IKE and CHILD_SA), DPD scheduling (the caller calls send_liveness_check),
// IKE SA collisions (a request during InitSent/AuthSent, or a new IKE_SA_INIT while
// Established, is dropped), certificates, EAP, fragmentation, IPv6.
#pragma once

#include <chrono>
#include <cstdint>
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

struct SaSettings {
    config::Ipv4Address local;   // our outside address (IDi/IDr, NAT detection)
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

    // The settings of one AWS tunnel (proposals, PSK, lifetimes, replay window).
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
    bool nat_detected = false;  // a NAT is between us (UDP encapsulation would be needed)
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
};
struct IkeSaDown {
    std::string reason;
};
struct StatusChanged {
    SaState state = SaState::idle;
    std::string status;  // e.g. "NO_PROPOSAL_CHOSEN from peer"; never contains secrets
};
using Action = std::variant<ChildSaReady, ChildSaDeleted, IkeSaUp, IkeSaDown, StatusChanged>;

class IkeSa {
  public:
    IkeSa(SaSettings settings, crypto::Random& rng);
    ~IkeSa();
    IkeSa(const IkeSa&) = delete;
    IkeSa& operator=(const IkeSa&) = delete;

    // Initiate (and re-initiate after failures). Ignored unless Idle or Backoff.
    void start(TimePoint now);
    // One UDP payload from the peer (port 500, no non-ESP marker).
    void on_datagram(std::span<const std::uint8_t> datagram, TimePoint now);
    void on_timer(TimePoint now);
    // Established only, no request outstanding: an empty INFORMATIONAL request (liveness
    // check, RFC 7296 section 2.4), retransmitted like any request; no answer -> IkeSaDown.
    // The caller decides when (DPD interval). False if it could not be sent now.
    bool send_liveness_check(TimePoint now);
    // Administrative close: when established, one INFORMATIONAL Delete of the IKE SA is sent
    // (not retransmitted), then ChildSaDeleted + IkeSaDown; no re-initiation afterwards.
    void stop(TimePoint now);
    [[nodiscard]] std::optional<TimePoint> next_deadline() const;

    [[nodiscard]] SaState state() const { return state_; }
    [[nodiscard]] const std::string& status() const { return status_; }

    // Drain the outputs accumulated since the last call.
    [[nodiscard]] std::vector<Bytes> take_datagrams();
    [[nodiscard]] std::vector<Action> take_actions();

  private:
    struct Keys {
        crypto::IkeSaKeys ike;
        crypto::SkCipher out;  // SK_ei/SK_ai as initiator, SK_er/SK_ar as responder
        crypto::SkCipher in;
    };

    // sa.cpp: plumbing
    void set_state(SaState s, std::string status);
    void fail(std::string status, TimePoint now);
    void reset_sa();
    void send_request(Bytes bytes, ExchangeType exchange, TimePoint now);
    void send_response(const Header& request, Bytes bytes);
    void respond_encrypted(const Header& request, const std::vector<Payload>& inner);
    void handle_request(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now);
    void handle_response(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now);
    [[nodiscard]] std::optional<Bytes> seal(const Header& h, const std::vector<Payload>& inner);
    [[nodiscard]] std::optional<std::vector<Payload>> open(std::span<const std::uint8_t> datagram);
    Header header(ExchangeType exchange, bool response, std::uint32_t message_id) const;
    [[nodiscard]] Bytes id_body() const;  // our ID payload body (ID_IPV4_ADDR)
    [[nodiscard]] Bytes natd_hash(std::uint64_t spi_i, std::uint64_t spi_r,
                                  config::Ipv4Address address, std::uint16_t port) const;
    [[nodiscard]] std::vector<Payload> natd_payloads(std::uint64_t spi_i,
                                                     std::uint64_t spi_r) const;
    void check_natd(const Message& m);
    [[nodiscard]] bool derive_keys(const crypto::SecretBytes& shared);
    [[nodiscard]] bool child_sa_ready(const Selection& esp, std::uint32_t spi_out,
                                      const TsPayload& tsi, const TsPayload& tsr);

    // task_ike_init.cpp
    void begin(TimePoint now);
    void init_send_request(std::uint16_t group, TimePoint now);
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
    std::vector<Proposal> sent_ike_proposals_, sent_esp_proposals_;
    std::uint32_t esp_spi_in_ = 0;
    std::uint32_t esp_spi_out_ = 0;
    Selection ike_selection_;
    std::unique_ptr<Keys> keys_;
    bool nat_detected_ = false;

    // Requests we send (window 1).
    std::uint32_t next_request_id_ = 0;
    struct Pending {
        Bytes bytes;
        ExchangeType exchange = ExchangeType::ike_sa_init;
        std::uint32_t message_id = 0;
        std::size_t transmissions = 0;
        TimePoint deadline;
    };
    std::optional<Pending> pending_;

    // Requests we answer (window 1): the next expected message ID and the last response.
    std::uint32_t peer_next_id_ = 0;
    struct Cached {
        std::uint64_t spi_i = 0;
        std::uint64_t spi_r = 0;
        std::uint32_t message_id = 0;
        ExchangeType exchange = ExchangeType::ike_sa_init;
        Bytes bytes;
    };
    std::optional<Cached> cached_response_;

    std::optional<TimePoint> half_open_deadline_;
    std::optional<TimePoint> retry_deadline_;
    Millis retry_delay_{0};

    std::vector<Bytes> datagrams_;
    std::vector<Action> actions_;
};

}  // namespace cgwd::ike
