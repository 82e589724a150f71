// One AWS tunnel at run time: its route-based tunnel interface (XFRM interface or TUN) with
// the inside address, MTU and MSS clamp; its IKE SA (ike::IkeSa, sans-I/O) driven on the Asio
// loop by received datagrams and one timer; and the CHILD_SAs that IKE SA negotiates,
// installed into the dataplane (inbound and outbound ESP SA, bound to the interface by if_id)
// and removed again when IKE deletes them. New CHILD_SAs are installed before old ones are
// removed (the engine emits them in that order), so rekeying is make-before-break.
//
// A peer that restarted (RFC 7296 section 2.4) initiates a new IKE SA while ours is still
// established. Such an IKE_SA_INIT request (new SPIi, SPIr zero) is answered by a second engine,
// the replacement candidate (at most one per tunnel; a newer IKE_SA_INIT replaces an unfinished
// one), and datagrams go to the engine whose IKE SA their header's SPIs name. When the
// candidate's IKE SA comes up, its CHILD_SA is installed first, then the candidate becomes the
// tunnel's IKE SA and the old one goes (make-before-break):
//   - with N(INITIAL_CONTACT) in the peer's IKE_AUTH, the peer has no SA of the old IKE SA any
//     more: the old CHILD_SAs leave the dataplane and the old IKE SA is forgotten, no Delete
//     (it would only be retransmitted into the void);
//   - without it (a peer re-authenticating make-before-break, or a second IKE SA it wants),
//     the old IKE SA is deleted with one INFORMATIONAL Delete sent on it. One IKE SA per tunnel
//     is what AWS runs and what the status and the route-based interface (one set of CHILD_SAs
//     bound to the if_id) assume; the newest SA is the one the peer chose last.
// A candidate that fails (bad AUTH, no proposal, half-open timeout) is dropped; the old SA is
// left alone.
//
// Nothing here logs key material: SAs are logged by SPI and algorithm only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/daemon/ike_sockets.hpp"
#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/ike/sa.hpp"

namespace cgwd::daemon {

struct TunnelPlan {
    std::string key;     // "<connection id>/<tunnel number>"
    std::string ifname;  // tunnel interface name
    std::uint32_t if_id = 0;
    config::Tunnel tunnel;
    config::Ipv4Address local_outside;  // the address IKE and ESP use on this box
    config::Ipv4Address local_id;       // the IKE ID: AWS's customer gateway address (NAT: public)
    bool force_encap = false;           // ESP in UDP even without a NAT (tests; RFC 7296 2.23)
    std::uint16_t natt_port = 4500;
    // Debug only ([debug] wireshark_keys): directory for Wireshark's key tables; empty: off.
    std::string wireshark_keys;
};

class TunnelRunner {
  public:
    // Called on the loop whenever the IKE SA comes up (true) or goes down (false).
    using UpHandler = std::function<void(bool up)>;

    TunnelRunner(boost::asio::io_context& io, TunnelPlan plan, dataplane::Dataplane& dp,
                 IkeSockets& sockets, ike::crypto::Random& rng, UpHandler on_up);
    ~TunnelRunner();
    TunnelRunner(const TunnelRunner&) = delete;
    TunnelRunner& operator=(const TunnelRunner&) = delete;

    // Creates the tunnel interface and its MSS clamp, then initiates IKE (AWS start-up action
    // "add") or waits for AWS to initiate ("start"). False (with status) when the interface
    // could not be made.
    bool start();
    // Deletes the IKE SA at the peer (one INFORMATIONAL Delete), removes every SA it installed
    // and the tunnel interface.
    void stop();

    void on_datagram(std::span<const std::uint8_t> ike, std::uint16_t from_port,
                     std::uint16_t local_port);
    void on_expiry(const dataplane::ExpiryEvent& e);
    bool rekey();  // `cgwctl rekey`: CHILD_SA rekey now
    void reset();  // `cgwctl reset`: tear down and initiate again

    // State changes worth an operator's attention (cgwctl events), one line each.
    void set_event_sink(std::function<void(const std::string&)> sink) { event_ = std::move(sink); }

    const TunnelPlan& plan() const { return plan_; }
    bool up() const { return ike_up_; }
    // IKE_SA_INIT answered as responder, IKE_AUTH not yet done (admission control counts it).
    // A replacement candidate waiting for IKE_AUTH counts too.
    bool half_open() const {
        return sa_->state() == ike::SaState::init_replied ||
               (candidate_ && candidate_->state() == ike::SaState::init_replied);
    }
    bool owns_spi(std::uint32_t spi_in) const { return children_.count(spi_in) != 0; }
    // The "tunnel" object of the status document (without the static config fields).
    nlohmann::json status() const;

  private:
    // Inbound ESP packets counted by the dataplane since the last look: new ones tell the
    // engine the peer is alive (no liveness check while ESP flows).
    void note_peer_traffic();
    std::uint64_t inbound_packets_ = 0;

    struct Child {
        dataplane::SaKey in;
        dataplane::SaKey out;
        std::string algorithms;
        std::chrono::steady_clock::time_point installed;
        // Responder of a rekey: the outbound half waits for the old SA's deletion.
        std::optional<dataplane::SaConfig> pending_out;
    };

    std::unique_ptr<ike::IkeSa> make_sa();  // the IKE SA for this plan
    std::vector<dataplane::Policy> policies() const;
    void pump();
    void apply(ike::Action& action);
    void apply_up(const ike::IkeSaUp& u);
    // The owner hears "up" once the IKE SA is up AND a CHILD_SA is installed (a BGP SYN sent
    // earlier would meet no SA and wait for TCP's 1 s retransmission), "down" when it goes.
    void report_up();
    void report_down();
    // `first_of_sa`: the first CHILD_SA of a new IKE SA (both halves at once even while the
    // old IKE SA's CHILD_SAs are still installed). False when it could not be installed.
    bool install(const ike::ChildSaReady& c, bool first_of_sa = false);
    void remove(std::uint32_t spi_in);
    void install_pending_outbound();
    void arm_timer();
    // The replacement candidate (see the top): which engine a datagram belongs to, driving
    // the candidate's outputs, and making it the tunnel's IKE SA.
    ike::IkeSa& route(std::span<const std::uint8_t> ike);
    void pump_candidate();
    void promote(const ike::IkeSaUp& up);
    void drop_candidate(const std::string& why);

    TunnelPlan plan_;
    dataplane::Dataplane& dp_;
    IkeSockets& sockets_;
    ike::crypto::Random& rng_;
    UpHandler on_up_;
    std::function<void(const std::string&)> event_;
    std::unique_ptr<ike::IkeSa> sa_;
    std::unique_ptr<ike::IkeSa> candidate_;       // a new IKE SA from the peer, not up yet
    std::uint64_t candidate_spi_i_ = 0;           // its SPIi (the peer's)
    std::set<std::uint32_t> candidate_children_;  // inbound SPIs it installed (until promoted)
    std::uint64_t ike_replacements_ = 0;
    boost::asio::steady_timer timer_;
    bool interface_made_ = false;
    std::vector<dataplane::PolicyKey> policies_made_;
    bool ike_up_ = false;
    bool up_reported_ = false;  // on_up_(true) said, on_up_(false) not yet
    bool nat_detected_ = false;
    std::string detail_ = "not started";
    std::map<std::uint32_t, Child> children_;  // by inbound SPI
    std::uint64_t child_installs_ = 0;
    std::optional<std::chrono::steady_clock::time_point> last_rekey_;  // of a CHILD_SA
    std::uint64_t dataplane_errors_ = 0;
    std::string last_error_;
};

}  // namespace cgwd::daemon
