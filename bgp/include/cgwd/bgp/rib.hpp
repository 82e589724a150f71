// BGP routing information bases: Adj-RIB-In per peer, Loc-RIB with best-path and ECMP multipath
// selection, Adj-RIB-Out per peer, and the stream of FIB changes for the kernel sync.
//
// RFC 4271 section 9.1 (decision process), 9.1.2 (AS loop: a route carrying the local AS is not
// feasible), 9.1.2.2 tie-breaking, in order:
//   1. highest LOCAL_PREF (eBGP routes get the import policy's value, default 100)
//   2. shortest AS_PATH (AS_SET counts one, confederation segments zero)
//   3. lowest ORIGIN (IGP < EGP < INCOMPLETE)
//   4. lowest MULTI_EXIT_DISC, compared only among routes from the same neighbour AS unless
//      `always_compare_med`; a missing MED is 0 (RFC 4271 section 9.1.2.2 (c))
//   5. eBGP over iBGP
//   6. lowest BGP identifier (ORIGINATOR_ID when present, RFC 4456 section 9)
//   7. lowest peer address
// Locally originated routes (originate()) always win and are not installed in the FIB.
// Multipath: the routes left after step 5 that share the best route's neighbour AS form the
// ECMP set, best first, capped at `max_paths`; their distinct next hops go to the FIB.
// RFC 4271 section 5.1.4: a received MED is not passed on to another AS. RFC 1997 NO_EXPORT /
// NO_ADVERTISE are honoured. RFC 8212 default deny for eBGP peers without a policy.
//
// Batching: apply_update / peer_down / originate only mark prefixes dirty. take_fib_changes()
// runs the decision for the dirty prefixes and returns the net change per prefix since the last
// call (a flap within one batch yields nothing). take_updates(peer) returns the UPDATEs that bring
// the peer's Adj-RIB-Out in line with the Loc-RIB, grouped by identical attributes and split to
// fit 4096 octets.
//
// Graceful restart, helper side (RFC 4724 section 4.2): peer_down_graceful keeps the peer's routes
// of the retained families as stale (still candidates, still forwarded) and withdraws the rest;
// a re-announcement clears the stale mark; flush_stale removes what is still stale (End-of-RIB,
// restart or stale timer expiry -- the Session says when).
//
// Memory: routes with identical (post-import) attributes share one interned, reference-counted
// PathAttributes; it is freed when the last route holding it goes. The Adj-RIBs-In and the
// Loc-RIB are one map: a prefix's entry holds its route from every peer (see Entry), so a
// prefix learned from one peer costs one 80-byte node (rib_storage.hpp).
//
// Adj-RIB-In holds the routes accepted by the import policy (post-policy); a policy change takes
// effect on the routes the peer sends next (send a ROUTE-REFRESH after changing it). Prefixes
// dropped by max-prefix drop-excess are not promoted later when room frees up.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/rib_storage.hpp"
#include "cgwd/bgp/session.hpp"
#include "cgwd/bgp/update.hpp"

namespace cgwd::bgp {

using PeerId = std::uint32_t;
inline constexpr PeerId kLocalPeer = 0;  // locally originated routes

struct RibConfig {
    std::uint32_t local_as = 0;
    std::uint32_t router_id = 0;
    std::size_t max_paths = 1;  // ECMP cap; 1 disables multipath
    bool always_compare_med = false;
    std::uint32_t default_local_pref = 100;
};

struct PeerConfig {
    std::uint32_t peer_as = 0;
    IpAddress address;                          // the peer's address (tie-breaker 7)
    IpAddress local_address;                    // our IPv4 address on the session: NEXT_HOP to it
    std::optional<IpAddress> local_address_v6;  // IPv6 next hop; none: IPv6 not exported
    std::optional<ImportPolicy> import_policy;  // nullopt: not configured (RFC 8212)
    std::optional<ExportPolicy> export_policy;  // nullopt: not configured (RFC 8212)
};

struct NextHop {
    IpAddress address;
    PeerId peer = kLocalPeer;  // the session (and so the tunnel) it was learned on
    friend auto operator<=>(const NextHop&, const NextHop&) = default;
};

// One FIB change: the prefix now forwards to `next_hops` (ECMP when several); empty = remove.
struct FibChange {
    Prefix prefix;
    std::vector<NextHop> next_hops;
    bool replaced = false;  // it forwarded elsewhere before (a failover or a change of path)
    friend bool operator==(const FibChange&, const FibChange&) = default;
};

// What happened to one received UPDATE.
struct ImportReport {
    std::size_t accepted = 0;  // announced prefixes stored in the Adj-RIB-In
    std::size_t filtered = 0;  // refused by policy, RFC 8212, or an AS loop
    std::size_t withdrawn = 0;
    bool max_prefix_warning = false;     // the limit was crossed (reported once per crossing)
    std::vector<Prefix> dropped_excess;  // MaxPrefixAction::DropExcess
    std::optional<Notification> reset;   // MaxPrefixAction::Reset: send this, close the session
};

struct ExportBatch {
    std::vector<Update> updates;
    std::vector<Prefix> newly_held_back;  // max_prefix_out reached
};

// A route as stored in an Adj-RIB-In (after import policy) or originated locally. Its prefix is
// the key it is stored under, and its next hop is in its attributes: 16 bytes a route. It refers
// to its attributes in its Rib's pool: a copy must not outlive the Rib.
struct Route {
    PeerId peer = kLocalPeer;
    bool stale = false;  // kept across the peer's graceful restart, not re-announced yet
    bool mp = false;     // announced in MP_REACH_NLRI: the next hop is that attribute's
    // Interned: shared by every route with identical attributes. AS_PATH is the effective
    // (AS4-merged) path; LOCAL_PREF set; MP_REACH_NLRI only with its next hop; never null.
    detail::AttributesRef attributes;

    // NEXT_HOP, or MP_REACH_NLRI's next hop (its global address) for `mp`; none for a local route.
    [[nodiscard]] std::optional<IpAddress> next_hop() const;
};

// MP_REACH_NLRI's next hop: 4 octets IPv4, 16 or 32 (global + link-local) IPv6, taking the
// global address; none for another length.
[[nodiscard]] std::optional<IpAddress> mp_reach_next_hop(const MpReach& mp);

// One Loc-RIB entry.
struct BestPaths {
    std::vector<const Route*> paths;  // best first; more than one only with multipath
};

class Rib {
  public:
    explicit Rib(RibConfig config);

    // Peers are numbered from 1 by add_peer; the id stays valid until remove_peer.
    PeerId add_peer(PeerConfig config);
    void remove_peer(PeerId peer);
    [[nodiscard]] const PeerConfig* peer_config(PeerId peer) const;
    void set_policies(PeerId peer, std::optional<ImportPolicy> import_policy,
                      std::optional<ExportPolicy> export_policy);

    // Session came up: remembers the peer's identifier and families; all of the Loc-RIB becomes
    // pending for its Adj-RIB-Out.
    void peer_up(PeerId peer, const SessionEstablished& established);
    // Session went down: everything learned from the peer is withdrawn; Adj-RIB-Out cleared.
    void peer_down(PeerId peer);
    // Session went down with graceful restart in effect (SessionDown::stale_families): routes of
    // `retained` families stay as stale, the others are withdrawn; Adj-RIB-Out cleared.
    void peer_down_graceful(PeerId peer, const std::vector<AfiSafi>& retained);
    // Removes the peer's stale routes of `families` (StaleRoutesExpired); returns how many.
    std::size_t flush_stale(PeerId peer, const std::vector<AfiSafi>& families);
    [[nodiscard]] std::size_t stale_count(PeerId peer) const;
    [[nodiscard]] bool is_up(PeerId peer) const;

    [[nodiscard]] ImportReport apply_update(PeerId peer, const Update& update);

    // Locally originated routes (advertised per export policy, never in the FIB).
    void originate(const Prefix& prefix, Origin origin = Origin::Igp);
    void withdraw_local(const Prefix& prefix);

    [[nodiscard]] std::vector<FibChange> take_fib_changes();
    // The FIB as last reported by take_fib_changes (what the owner has installed), so that the
    // owner keeps no copy of its own: f(prefix, next hops) for every prefix with next hops, in
    // prefix order; and their number.
    template <typename F>
    void for_each_fib(F&& f) const {
        for (const auto& [prefix, entry] : loc_rib_)
            if (entry.fib != 0) f(prefix, fib_sets_.get(entry.fib));
    }
    [[nodiscard]] std::size_t fib_size() const { return fib_size_; }
    [[nodiscard]] ExportBatch take_updates(PeerId peer);

    // Inspection (settles pending decisions first).
    [[nodiscard]] std::optional<BestPaths> best(const Prefix& prefix);
    [[nodiscard]] std::vector<std::pair<Prefix, const Route*>> adj_rib_in(PeerId peer) const;
    [[nodiscard]] std::size_t adj_rib_in_size(PeerId peer) const;
    [[nodiscard]] std::size_t adj_rib_out_size(PeerId peer) const;
    [[nodiscard]] std::set<Prefix> held_back(PeerId peer) const;
    // Distinct attribute sets held by routes now (interning; see the header comment).
    [[nodiscard]] std::size_t attribute_sets() const;

  private:
    struct PeerState {
        PeerConfig config;
        bool up = false;
        std::uint32_t router_id = 0;
        Capabilities capabilities;
        std::size_t routes = 0;  // its Adj-RIB-In: routes in the Loc-RIB entries from this peer
        std::size_t stale = 0;   // of them, stale
        bool over_limit_reported = false;
        std::map<Prefix, PathAttributes> adj_out;  // as sent
        std::set<Prefix> export_dirty;
        std::set<Prefix> held_back;
    };

    // One prefix: every route for it (the local one, one per peer: the Adj-RIBs-In and the
    // Loc-RIB in one place), the best paths first, and its FIB state. One route is held in place,
    // more in a heap vector: 24 bytes, 80 with its map node (from the pool, no malloc header).
    // Kept while it has a route or forwards.
    struct Entry {
        Entry() noexcept {}  // NOLINT: the union's member is constructed on demand
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        ~Entry();

        [[nodiscard]] std::span<Route> routes() noexcept;
        [[nodiscard]] std::span<const Route> routes() const noexcept;
        [[nodiscard]] Route* find(PeerId peer) noexcept;
        // Puts `r` in place of the route from the same peer, or adds it. Returns the replaced
        // route's stale mark (nullopt: it was added).
        std::optional<bool> put(Route r);
        // Removes the route from `peer`; returns its stale mark (nullopt: there was none).
        std::optional<bool> erase(PeerId peer);
        // Moves `best` (routes of this entry) to the front in that order; nbest = their number.
        void set_best(std::span<const Route* const> best);
        [[nodiscard]] bool unused() const noexcept { return kind_ == 0 && fib == 0; }

      private:
        union {
            Route one_;                 // kind_ 1
            std::vector<Route>* many_;  // kind_ 2 (two or more routes)
        };
        std::uint8_t kind_ = 0;  // 0: no route

      public:
        std::uint8_t nbest = 0;  // routes()[0, nbest) are the best paths (ECMP set)
        std::uint32_t fib = 0;   // next hops as last reported by take_fib_changes (fib_sets_ id)
    };
    static_assert(sizeof(Entry) == 24, "an Entry is a route in place and three small fields");
    using LocRib =
        std::map<Prefix, Entry, std::less<>, detail::PoolAllocator<std::pair<const Prefix, Entry>>>;

    [[nodiscard]] bool external(const PeerState& p) const;
    void mark_dirty(const Prefix& prefix);
    // loc_rib_.lower_bound(prefix), without a search when `hint` is that entry already (one
    // visits prefixes in order: NLRI, sorted dirty prefixes).
    [[nodiscard]] LocRib::iterator seek(LocRib::iterator hint, const Prefix& prefix);
    void settle();
    [[nodiscard]] BestPaths decide(const std::vector<const Route*>& candidates) const;
    [[nodiscard]] std::optional<PathAttributes> export_attributes(PeerId to, const PeerState& peer,
                                                                  const Prefix& prefix,
                                                                  const Route& route) const;
    // The attributes a route from `peer` is stored with, or an empty reference when none of the
    // UPDATE's routes is feasible (RFC 8212, AS loop); the prefix list is checked per prefix.
    [[nodiscard]] detail::AttributesRef import_attributes(const PeerState& peer,
                                                          const PathAttributes& a);
    [[nodiscard]] detail::AttributesRef intern(PathAttributes&& a);
    // Would a change of `prefix` (now best via `best`, or gone when null) need looking at in
    // take_updates(to)? Not when the route came from that peer and nothing is advertised there.
    [[nodiscard]] static bool export_relevant(PeerId to, const PeerState& peer,
                                              const Prefix& prefix, const Route* best);
    // Removes the peer's route from an entry, keeping the peer's counts; true when it was there.
    bool erase_route(Entry& entry, PeerState& peer, PeerId id);
    [[nodiscard]] std::uint32_t router_id_of(const Route& r) const;

    RibConfig config_;
    PeerId next_id_ = 1;
    std::map<PeerId, PeerState> peers_;
    std::vector<Prefix> dirty_;  // unsorted, may repeat; settle() sorts it
    // Interned attribute sets (behind a pointer, since routes point into it; before loc_rib_,
    // so that it goes after the routes).
    std::unique_ptr<detail::AttributePool> attr_pool_ = std::make_unique<detail::AttributePool>();
    // The Loc-RIB's nodes (behind a pointer: the map's allocator refers to it, and a Rib may move).
    std::unique_ptr<detail::NodePool> node_pool_ = std::make_unique<detail::NodePool>();
    LocRib loc_rib_{LocRib::allocator_type(node_pool_.get())};
    detail::InternedSets<NextHop> fib_sets_;
    // FIB next hops (fib_sets_ ids, each counted) decided since the last take_fib_changes, in
    // decision order (a prefix may repeat: the last decision counts; take_fib_changes drops
    // those equal to the entry's fib).
    std::vector<std::pair<Prefix, std::uint32_t>> fib_pending_;
    std::size_t fib_size_ = 0;  // Loc-RIB entries whose `fib` is not empty
};

}  // namespace cgwd::bgp
