// The daemon's routing: one RIB (bgp::Rib) shared by every peer; one BGP session (bgp::Session,
// sans-I/O) per tunnel of a BGP-routed VPN connection, over the tunnel's inside addresses (us
// .2, AWS .1, TCP port 179), running while the tunnel's IKE SA is up; and the FIB: the RIB's
// best paths (ECMP across tunnels when the paths are equal) installed as routes through the
// tunnel interfaces into the configured table, with the configured metric.
//
// Policy (RFC 8212 needs one for every eBGP peer): import what AWS sends with the VPN
// entry's local preference, up to max_prefixes_in (then warn, drop the excess, or reset the
// session with RFC 4486's Cease and restart it later, as configured); export exactly the [bgp]
// advertise prefixes, at most the VPN's limit (AWS accepts 100 routes from a VGW customer gateway,
// 1000 toward a TGW). Prefixes held back by the limit are logged with the reason.
//
// Sessions connect actively and also accept AWS's connection on the inside address: whichever
// TCP connection comes first is used (AWS opens the session from its side too).
//
// Direct Connect peers are sessions of the same kind over the virtual interface, each IPv4 or
// IPv6 (AWS gives a virtual interface one of each): an IPv6 session carries IPv6 unicast only,
// is sent the IPv6 advertise prefixes with our address as the MP_REACH_NLRI next hop, and its
// routes are installed as IPv6 routes via the peer's address.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/bgp/rib.hpp"
#include "cgwd/bgp/session.hpp"
#include "cgwd/config/daemon_config.hpp"
#include "cgwd/dataplane/dataplane.hpp"

namespace cgwd::daemon {

struct BgpPeerPlan {
    std::string key;  // the tunnel key "<connection id>/<n>", or "dx:<name>"
    bool direct_connect = false;
    std::uint32_t local_as = 0;
    std::uint32_t peer_as = 0;
    // Our address and AWS's: a tunnel's inside addresses, or a Direct Connect peer's, IPv4 or
    // IPv6 (both of one family). An IPv6 session carries IPv6 unicast only, an IPv4 one IPv4.
    config::IpAddress local_address;
    config::IpAddress peer_address;
    std::uint16_t hold_time = 30;
    std::uint32_t local_preference = 100;
    std::uint32_t max_prefixes_out = 100;
    config::MaxPrefixesIn max_prefixes_in{1000};  // the limit resolved (not 0)
    std::uint32_t if_id = 0;                 // the tunnel routes learned from this peer leave by
    std::string interface;                   // or the interface (Direct Connect), when if_id is 0
    std::optional<config::Secret> md5;       // TCP-MD5 key (RFC 2385); Direct Connect requires it
    std::vector<std::uint32_t> communities;  // added to what we advertise (e.g. 7224:7300)
    std::uint16_t port = 179;
    // RFC 4724 graceful restart, helper mode: advertise the capability with this restart time;
    // when AWS restarts silently its routes stay installed (stale) until its End-of-RIB or its
    // restart time. 0: not advertised, routes withdrawn as soon as the session drops.
    std::uint16_t graceful_restart_time = 0;
    bool gtsm = false;          // RFC 5082 on our sockets (bgp::set_gtsm, trust radius 1)
    config::PeerPolicy policy;  // AS_PATH prepend and MED out, accepted prefixes in
};

class BgpPeerRunner;

class Routing {
  public:
    Routing(boost::asio::io_context& io, const config::DaemonConfig& cfg, dataplane::Dataplane& dp);
    ~Routing();

    void add_peer(const BgpPeerPlan& plan);
    // Ends the session (CEASE with `why`), withdraws its routes from the FIB, forgets the peer.
    void remove_peer(const std::string& key, const std::string& why);
    // The tunnel (or link) under the peer came up (start the session) or went down (session
    // down, routes withdrawn at once). Also BFD: down -> the session goes down at once.
    void tunnel_up(const std::string& key, bool up);
    // Sends CEASE / Administrative Shutdown with `why` to every peer and removes every route.
    void shutdown(const std::string& why);
    // [bgp] advertise changed (a reload): the configuration now holds the new list, of which
    // `added` are new and `withdrawn` were dropped. The dropped are withdrawn and the new
    // announced to every peer whose session is up, of its family, with no session reset.
    void advertise_changed(const std::vector<config::IpPrefix>& added,
                           const std::vector<config::IpPrefix>& withdrawn);

    // BGP sessions up/down and route changes, one line each, for cgwctl events.
    using EventSink = std::function<void(const std::string& subject, const std::string& text)>;
    void set_event_sink(EventSink sink) { event_ = std::move(sink); }
    void event(const std::string& subject, const std::string& text) const {
        if (event_) event_(subject, text);
    }
    // Installed routes whose next hops changed (a failover from one path to another).
    std::uint64_t route_changes() const { return route_changes_; }
    // Route installs/removals the kernel refused, and kernel resyncs after lost ACKs (ENOBUFS).
    std::uint64_t fib_errors() const { return fib_errors_; }
    std::uint64_t fib_resyncs() const { return fib_resyncs_; }
    std::size_t fib_size() const;  // BGP routes installed

    nlohmann::json peer_status(const std::string& key) const;  // null when no such peer
    nlohmann::json routes_status() const;

    // Called by the peers.
    void on_established(BgpPeerRunner& peer, const bgp::SessionEstablished& e);
    void on_routes(BgpPeerRunner& peer, const bgp::Update& u);
    // `stale`: graceful restart, keep those families' routes (and their kernel routes) as stale.
    void on_down(BgpPeerRunner& peer, const std::vector<bgp::AfiSafi>& stale);
    void on_stale_expired(BgpPeerRunner& peer, const bgp::StaleRoutesExpired& e);

  private:
    template <typename F>
    void for_each_installed(F&& f) const;  // f(prefix, next hops) of every route installed
    void flush_fib();
    void flush_exports();
    bgp::PrefixListPolicy advertise_list(bool v6) const;

    boost::asio::io_context& io_;
    const config::DaemonConfig& cfg_;
    dataplane::Dataplane& dp_;
    bgp::Rib rib_;
    std::map<std::string, std::unique_ptr<BgpPeerRunner>> peers_;
    struct Via {
        std::uint32_t if_id = 0;
        std::string interface;
        bool direct_connect = false;
        std::string key;
    };
    std::map<bgp::PeerId, Via> via_;
    std::uint64_t fib_errors_ = 0;
    bool stopping_ = false;          // shutdown(): RIB changes are no longer applied
    std::uint64_t fib_resyncs_ = 0;  // route batches whose acknowledgements were lost (ENOBUFS)
    std::uint64_t route_changes_ = 0;
    EventSink event_;
};

}  // namespace cgwd::daemon
