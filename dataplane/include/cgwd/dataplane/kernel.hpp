// KernelDataplane: the Linux kernel backend of the Dataplane interface, over netlink (libmnl)
// and nftables (libnftables). ESP (RFC 4303) runs in the kernel's XFRM stack; this class only
// programs it.
//
//   SAs       XFRM_MSG_NEWSA / UPDSA / DELSA / GETSA (xfrm_messages.hpp: algorithms, RFC 3948
//             UDP encapsulation, ESN replay state, lifetimes, if_id, optional mark)
//   policies  XFRM_MSG_NEWPOLICY / DELPOLICY with one ESP tunnel-mode template and the if_id
//   tunnels   one XFRM interface per tunnel (RTM_NEWLINK kind "xfrm", IFLA_XFRM_IF_ID, and
//             IFLA_XFRM_LINK = Options::underlying_interface), MTU, inside address, link up
//   routes    KernelRoutes (routes.hpp); a next hop's if_id is that tunnel's XFRM interface,
//             NextHop::interface names any other device
//   MSS       NftMssClamp (nft_mss.hpp) in table `inet cgwd`: per tunnel (set_mss_clamp) and
//             per interface name (set_interface_mss_clamp, Direct Connect VLANs)
//   expiry    a second netlink socket on group XFRMNLGRP_EXPIRE: the daemon polls expiry_fd()
//             from its event loop and calls process_expiry_events() (no threads here); soft
//             and hard XFRM_MSG_EXPIRE of our SAs become ExpiryEvents (RFC 4301 4.4.2.1). The
//             kernel deletes an SA itself at its hard expiry.
//
// Ownership (what cleanup_leftovers() removes after a crash, and nothing else): XFRM SAs and
// policies whose if_id lies in [if_id_min, if_id_max] (and carry Options::mark when one is set),
// XFRM interfaces whose name starts with name_prefix, routes of the route protocol
// (routes.hpp), and the nft table `inet cgwd`. add_sa/add_policy/create_tunnel refuse objects
// outside that space. shutdown() (and the destructor) removes what this instance made.
// Every call is all-or-nothing: a failed step undoes the steps before it (an interface whose
// address could not be set is deleted again).
//
// Not thread-safe: one thread (the daemon's loop) makes every call.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/nft_mss.hpp"
#include "cgwd/dataplane/routes.hpp"
#include "cgwd/dataplane/xfrm_messages.hpp"

namespace cgwd::dataplane {

// The daemon's if_id space by default: 0x63670000 ("cg") .. 0x6367ffff.
inline constexpr std::uint32_t default_if_id_min = 0x63670000;
inline constexpr std::uint32_t default_if_id_max = 0x6367ffff;

class KernelDataplane final : public Dataplane {
  public:
    struct Options {
        std::string underlying_interface;  // the outside interface (IFLA_XFRM_LINK); "" none
        std::uint32_t if_id_min = default_if_id_min;
        std::uint32_t if_id_max = default_if_id_max;
        std::string name_prefix = "cgwd";  // XFRM interface names must start with it ("": any)
        std::optional<xfrm::Mark> mark;    // XFRMA_MARK on our SAs and policies
        KernelRoutes::Options routes;      // table and route protocol
    };

    // Opens the netlink sockets (XFRM, route, expiry group) and the nft context.
    [[nodiscard]] static std::expected<std::unique_ptr<KernelDataplane>, Error> create(
        Options options);
    ~KernelDataplane() override;
    KernelDataplane(const KernelDataplane&) = delete;
    KernelDataplane& operator=(const KernelDataplane&) = delete;

    std::expected<void, Error> add_sa(const SaConfig& sa) override;
    std::expected<void, Error> update_sa(const SaConfig& sa) override;
    std::expected<void, Error> del_sa(const SaKey& key) override;
    std::expected<SaStats, Error> query_sa(const SaKey& key) override;
    std::expected<void, Error> add_policy(const Policy& policy) override;
    std::expected<void, Error> del_policy(const PolicyKey& key) override;
    std::expected<void, Error> create_tunnel(const TunnelInterface& t) override;
    std::expected<void, Error> delete_tunnel(std::uint32_t if_id) override;
    std::expected<void, Error> add_route(const Route& route) override;
    std::expected<void, Error> del_route(const RouteKey& key) override;
    // Batched through KernelRoutes::apply (routes.hpp), ENOBUFS resync included.
    RouteBatchResult apply_routes(std::span<const RouteChange> changes) override;
    std::expected<void, Error> set_mss_clamp(std::uint32_t if_id, std::uint16_t mss) override;
    void set_expiry_handler(ExpiryHandler handler) override { handler_ = std::move(handler); }
    // MSS clamp on any interface by name (a Direct Connect VLAN): NftMssClamp's interface
    // clamps, in the same table; 0 removes it. shutdown() removes it with the table.
    [[nodiscard]] std::expected<void, Error> set_interface_mss_clamp(const std::string& name,
                                                                     std::uint16_t mss) {
        return mss_.set_interface_clamp(name, mss);
    }
    const NftMssClamp& mss_clamp() const { return mss_; }

    // The expiry socket, for the daemon's poll loop (readable: call process_expiry_events()).
    int expiry_fd() const { return expiry_.fd(); }
    // Reads every queued expire notification and calls the handler for each of our SAs.
    // Returns the number of events delivered.
    std::size_t process_expiry_events();

    struct Cleanup {
        std::size_t sas = 0, policies = 0, interfaces = 0, routes = 0;
    };
    // Removes everything in the daemon's ownership space (see the header comment), also what
    // an earlier (crashed) process left; this instance forgets what it made.
    [[nodiscard]] std::expected<Cleanup, Error> cleanup_leftovers();
    // Removes everything this instance made (routes, MSS table, policies, SAs, interfaces).
    // Goes on past failures; returns the first one. Idempotent.
    std::expected<void, Error> shutdown();

    bool owns_if_id(std::uint32_t if_id) const {
        return if_id >= options_.if_id_min && if_id <= options_.if_id_max;
    }
    // The XFRM interface of a tunnel (nullopt: no such tunnel).
    std::optional<std::string> tunnel_name(std::uint32_t if_id) const;

  private:
    KernelDataplane(Options options, nl::NetlinkSocket xfrm, nl::NetlinkSocket rtnl,
                    nl::NetlinkSocket expiry, KernelRoutes routes);
    bool owns_mark(const std::optional<xfrm::Mark>& mark) const;

    struct SaRecord {
        Direction direction;
        std::uint32_t if_id;
    };
    struct TunnelRecord {
        std::string name;
        std::uint32_t ifindex = 0;
    };

    Options options_;
    nl::NetlinkSocket xfrm_;
    nl::NetlinkSocket rtnl_;
    nl::NetlinkSocket expiry_;
    KernelRoutes routes_;
    NftMssClamp mss_;
    std::uint32_t underlying_ifindex_ = 0;
    ExpiryHandler handler_;

    std::map<std::pair<std::uint32_t, std::uint32_t>, SaRecord> sas_;  // (spi, dst) ->
    std::vector<PolicyKey> policies_;
    std::map<std::uint32_t, TunnelRecord> tunnels_;  // if_id ->
    struct RouteKeyLess {
        bool operator()(const RouteKey& a, const RouteKey& b) const {
            return std::tie(a.destination, a.metric, a.table) <
                   std::tie(b.destination, b.metric, b.table);
        }
    };
    std::set<RouteKey, RouteKeyLess> route_keys_;
    // A route's hops for KernelRoutes (tunnel if_id -> its interface).
    [[nodiscard]] std::expected<RouteSpec, Error> route_spec(const Route& route) const;
};

// What the running kernel offers the kernel backend.
struct KernelSupport {
    bool esp_cbc = false;         // accepts an ESP SA with cbc(aes) + hmac(sha256)
    bool esp_gcm = false;         // accepts an ESP SA with rfc4106(gcm(aes))
    bool xfrm_interface = false;  // can create a link of kind "xfrm"
    std::string detail;           // why not (for the log)
    // Everything the kernel backend needs.
    bool complete() const { return esp_cbc && esp_gcm && xfrm_interface; }
};
// Tries throwaway objects (SPIs 0x6367fff0/1 to 192.0.2.255, interface "cgwdprobe<n>"), deletes
// them again. Needs CAP_NET_ADMIN; without it everything reports false.
[[nodiscard]] KernelSupport probe_kernel();
// The daemon's `auto` mode: kernel ESP (CBC and GCM) and XFRM interfaces are all available.
[[nodiscard]] bool kernel_has_esp();

}  // namespace cgwd::dataplane
