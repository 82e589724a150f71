// Rib: peers, import (Adj-RIB-In) and the decision process (Loc-RIB, FIB changes).
// Export (Adj-RIB-Out, UPDATE building) is in rib_export.cpp.
#include <algorithm>
#include <utility>

#include "cgwd/bgp/rib.hpp"
#include "rib_internal.hpp"

namespace cgwd::bgp {

namespace detail {

std::size_t as_path_length(const AsPath& path) {
    std::size_t n = 0;
    for (const auto& seg : path) {
        switch (seg.type) {
            case AsPathSegment::Type::Sequence:
                n += seg.asns.size();
                break;
            case AsPathSegment::Type::Set:
                n += 1;
                break;
            case AsPathSegment::Type::ConfedSequence:
            case AsPathSegment::Type::ConfedSet:
                break;
        }
    }
    return n;
}

bool as_path_contains(const AsPath& path, std::uint32_t asn) {
    for (const auto& seg : path) {
        if (std::find(seg.asns.begin(), seg.asns.end(), asn) != seg.asns.end()) return true;
    }
    return false;
}

}  // namespace detail

namespace {

// RFC 4271 section 9.1.2.2 (c): the leftmost AS of the AS_PATH; a route without one (iBGP or
// local origin) counts as coming from the local AS.
std::uint32_t neighbour_as(const Route& r, std::uint32_t local_as) {
    const auto& path = r.attributes->as_path;
    if (path) {
        for (const auto& seg : *path) {
            if (seg.type == AsPathSegment::Type::Sequence && !seg.asns.empty()) {
                return seg.asns.front();
            }
            if (seg.type == AsPathSegment::Type::Set) break;
        }
    }
    return local_as;
}

std::optional<IpAddress> mp_next_hop(const MpReach& mp) {
    IpAddress a;
    if (mp.next_hop.size() == 4) {
        std::copy_n(mp.next_hop.begin(), 4, a.bytes.begin());
        return a;
    }
    if (mp.next_hop.size() == 16 || mp.next_hop.size() == 32) {
        a.afi = Afi::Ipv6;
        std::copy_n(mp.next_hop.begin(), 16, a.bytes.begin());
        return a;
    }
    return std::nullopt;
}

// A hash over the attributes that tell routes apart (interning compares in full).
std::size_t hash_attributes(const PathAttributes& a) {
    std::uint64_t h = 0xcbf29ce484222325u;
    auto add = [&](std::uint64_t v) { h = (h ^ v) * 0x100000001b3u; };
    add(a.origin ? static_cast<std::uint64_t>(*a.origin) + 1 : 0);
    if (a.as_path) {
        for (const auto& seg : *a.as_path) {
            add(static_cast<std::uint64_t>(seg.type) << 32 | seg.asns.size());
            for (std::uint32_t asn : seg.asns) add(asn);
        }
    }
    add(a.next_hop.value_or(0));
    add(a.med ? std::uint64_t{*a.med} | 1ull << 32 : 0);
    add(a.local_pref ? std::uint64_t{*a.local_pref} | 1ull << 32 : 0);
    add(a.originator_id.value_or(0));
    add(a.aggregator ? std::uint64_t{a.aggregator->asn} << 32 | a.aggregator->address : 0);
    add(a.atomic_aggregate);
    for (std::uint32_t c : a.communities) add(c);
    for (std::uint64_t c : a.extended_communities) add(c);
    for (const auto& c : a.large_communities)
        add(std::uint64_t{c.global_admin} << 32 ^ c.local_data1 ^
            std::uint64_t{c.local_data2} << 16);
    add(a.cluster_list.size());
    add(a.unrecognized.size());
    return static_cast<std::size_t>(h);
}

// Keeps the members of `v` for which key(r) equals the best (smallest) key.
template <typename Key>
void keep_min(std::vector<const Route*>& v, Key key) {
    if (v.empty()) return;
    auto best = key(v.front());
    for (const Route* r : v) best = std::min(best, key(r));
    std::erase_if(v, [&](const Route* r) { return key(r) != best; });
}

}  // namespace

Rib::Rib(RibConfig config) : config_(config) {
    if (config_.max_paths == 0) config_.max_paths = 1;
}

PeerId Rib::add_peer(PeerConfig config) {
    const PeerId id = next_id_++;
    peers_[id].config = std::move(config);
    return id;
}

void Rib::remove_peer(PeerId peer) {
    peer_down(peer);
    peers_.erase(peer);
}

const PeerConfig* Rib::peer_config(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? nullptr : &it->second.config;
}

void Rib::set_policies(PeerId peer, std::optional<ImportPolicy> import_policy,
                       std::optional<ExportPolicy> export_policy) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    it->second.config.import_policy = std::move(import_policy);
    it->second.config.export_policy = std::move(export_policy);
    // Re-evaluate everything we advertise to it.
    for (const auto& [prefix, entry] : loc_rib_) {
        if (!entry.best.empty()) it->second.export_dirty.insert(prefix);
    }
    for (const auto& [prefix, attrs] : it->second.adj_out) it->second.export_dirty.insert(prefix);
}

bool Rib::external(const PeerState& p) const {
    return p.config.peer_as != config_.local_as;
}

bool Rib::is_up(PeerId peer) const {
    auto it = peers_.find(peer);
    return it != peers_.end() && it->second.up;
}

void Rib::peer_up(PeerId peer, const SessionEstablished& established) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    settle();
    auto& p = it->second;
    p.up = true;
    p.router_id = established.peer_identifier;
    p.capabilities = established.peer_capabilities;
    p.adj_out.clear();
    p.held_back.clear();
    p.over_limit_reported = false;
    for (const auto& [prefix, entry] : loc_rib_) {
        if (!entry.best.empty()) p.export_dirty.insert(prefix);
    }
}

void Rib::peer_down(PeerId peer) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    auto& p = it->second;
    for (const auto& [prefix, route] : p.adj_in) mark_dirty(prefix);
    p.adj_in.clear();
    p.adj_out.clear();
    p.export_dirty.clear();
    p.held_back.clear();
    p.over_limit_reported = false;
    p.up = false;
}

namespace {
AfiSafi family_of(const Prefix& p) {
    return p.afi == Afi::Ipv4 ? kIpv4Unicast : kIpv6Unicast;
}
bool contains(const std::vector<AfiSafi>& v, AfiSafi af) {
    return std::find(v.begin(), v.end(), af) != v.end();
}
}  // namespace

void Rib::peer_down_graceful(PeerId peer, const std::vector<AfiSafi>& retained) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    auto& p = it->second;
    for (auto r = p.adj_in.begin(); r != p.adj_in.end();) {
        if (contains(retained, family_of(r->first))) {
            r->second.stale = true;
            ++r;
        } else {
            mark_dirty(r->first);
            r = p.adj_in.erase(r);
        }
    }
    p.adj_out.clear();
    p.export_dirty.clear();
    p.held_back.clear();
    p.over_limit_reported = false;
    p.up = false;
}

std::size_t Rib::flush_stale(PeerId peer, const std::vector<AfiSafi>& families) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return 0;
    std::size_t removed = 0;
    auto& adj_in = it->second.adj_in;
    for (auto r = adj_in.begin(); r != adj_in.end();) {
        if (r->second.stale && contains(families, family_of(r->first))) {
            mark_dirty(r->first);
            r = adj_in.erase(r);
            ++removed;
        } else {
            ++r;
        }
    }
    return removed;
}

std::size_t Rib::stale_count(PeerId peer) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return 0;
    return static_cast<std::size_t>(std::count_if(it->second.adj_in.begin(),
                                                  it->second.adj_in.end(),
                                                  [](const auto& e) { return e.second.stale; }));
}

void Rib::mark_dirty(const Prefix& prefix) {
    dirty_.push_back(prefix);
}

std::shared_ptr<const PathAttributes> Rib::intern(PathAttributes&& a) {
    const std::size_t h = hash_attributes(a);
    auto [lo, hi] = attr_pool_.equal_range(h);
    for (auto it = lo; it != hi;) {
        if (auto held = it->second.lock()) {
            if (*held == a) return held;
            ++it;
        } else {
            it = attr_pool_.erase(it);
        }
    }
    // Entries of sets no route holds any more: swept each time the pool doubles.
    if (attr_pool_.size() >= 2 * attr_pool_swept_ + 64) {
        std::erase_if(attr_pool_, [](const auto& e) { return e.second.expired(); });
        attr_pool_swept_ = attr_pool_.size();
    }
    // Not make_shared: the attributes' memory goes with the last route, not with the pool entry.
    std::shared_ptr<const PathAttributes> made(new PathAttributes(std::move(a)));
    attr_pool_.emplace(h, made);
    return made;
}

std::size_t Rib::attribute_sets() const {
    return static_cast<std::size_t>(std::count_if(
        attr_pool_.begin(), attr_pool_.end(), [](const auto& e) { return !e.second.expired(); }));
}

std::shared_ptr<const PathAttributes> Rib::import_attributes(const PeerState& peer,
                                                             const PathAttributes& a) {
    const bool ebgp = external(peer);
    // RFC 8212: no import policy configured on an eBGP session: accept nothing.
    if (ebgp && !peer.config.import_policy) return nullptr;
    // As received, less what only the UPDATE needs (MP_REACH / MP_UNREACH) and with AS4_PATH /
    // AS4_AGGREGATOR merged in (RFC 6793 section 4.2.3).
    PathAttributes r;
    r.origin = a.origin;
    r.as_path = effective_as_path(a);
    // RFC 4271 section 9.1.2: a route carrying our own AS is not feasible.
    if (detail::as_path_contains(*r.as_path, config_.local_as)) return nullptr;
    r.next_hop = a.next_hop;
    r.med = a.med;
    r.atomic_aggregate = a.atomic_aggregate;
    r.aggregator = effective_aggregator(a);
    r.communities = a.communities;
    r.originator_id = a.originator_id;
    r.cluster_list = a.cluster_list;
    r.extended_communities = a.extended_communities;
    r.large_communities = a.large_communities;
    r.unrecognized = a.unrecognized;
    std::optional<std::uint32_t> lp;
    if (peer.config.import_policy) lp = peer.config.import_policy->local_pref;
    if (!lp && !ebgp) lp = a.local_pref;  // eBGP: LOCAL_PREF is ours to compute
    r.local_pref = lp.value_or(config_.default_local_pref);
    return intern(std::move(r));
}

ImportReport Rib::apply_update(PeerId from, const Update& update) {
    ImportReport report;
    auto it = peers_.find(from);
    if (it == peers_.end() || !it->second.up) return report;
    auto& peer = it->second;

    for (const auto& prefix : update.routes_withdrawn()) {
        if (peer.adj_in.erase(prefix) > 0) {
            ++report.withdrawn;
            mark_dirty(prefix);
        }
    }

    // One attribute set for all of the UPDATE's routes (null: none is feasible).
    std::shared_ptr<const PathAttributes> attrs;
    if (!update.treat_as_withdraw() && (!update.nlri.empty() || update.attributes.mp_reach)) {
        attrs = import_attributes(peer, update.attributes);
    }
    const PrefixListPolicy* prefix_list =
        peer.config.import_policy && peer.config.import_policy->prefix_list
            ? &*peer.config.import_policy->prefix_list
            : nullptr;

    auto process = [&](const Prefix& prefix, const std::optional<IpAddress>& nh) -> bool {
        if (!attrs || !nh || (prefix_list && !prefix_list->permits(prefix))) {
            ++report.filtered;
            if (peer.adj_in.erase(prefix) > 0) mark_dirty(prefix);  // implicit withdraw
            return true;
        }
        auto existing = peer.adj_in.find(prefix);
        if (existing == peer.adj_in.end() && peer.config.import_policy &&
            peer.config.import_policy->max_prefix) {
            const auto& mp = *peer.config.import_policy->max_prefix;
            if (peer.adj_in.size() >= mp.limit) {
                switch (mp.action) {
                    case MaxPrefixAction::Warn:
                        if (!peer.over_limit_reported) report.max_prefix_warning = true;
                        peer.over_limit_reported = true;
                        break;
                    case MaxPrefixAction::DropExcess:
                        if (!peer.over_limit_reported) report.max_prefix_warning = true;
                        peer.over_limit_reported = true;
                        report.dropped_excess.push_back(prefix);
                        return true;
                    case MaxPrefixAction::Reset:
                        report.reset = make_max_prefix_notification(
                            prefix.afi == Afi::Ipv4 ? kIpv4Unicast : kIpv6Unicast, mp.limit);
                        return false;
                }
            }
        }
        ++report.accepted;
        mark_dirty(prefix);
        Route route{from, attrs, nh, false};
        if (existing == peer.adj_in.end()) {
            peer.adj_in.emplace_hint(existing, prefix, std::move(route));
        } else {
            existing->second = std::move(route);
        }
        return true;
    };

    if (!update.treat_as_withdraw()) {
        std::optional<IpAddress> nh4;
        if (update.attributes.next_hop) nh4 = IpAddress::v4(*update.attributes.next_hop);
        for (const auto& prefix : update.nlri) {
            if (!process(prefix, nh4)) break;
        }
        if (update.attributes.mp_reach && !report.reset) {
            const auto nh = mp_next_hop(*update.attributes.mp_reach);
            for (const auto& prefix : update.attributes.mp_reach->nlri) {
                if (!process(prefix, nh)) break;
            }
        }
    }

    if (report.reset) {
        peer_down(from);
        return report;
    }
    if (peer.config.import_policy && peer.config.import_policy->max_prefix &&
        peer.adj_in.size() <= peer.config.import_policy->max_prefix->limit &&
        report.dropped_excess.empty()) {
        peer.over_limit_reported = false;
    }
    return report;
}

void Rib::originate(const Prefix& prefix, Origin origin) {
    PathAttributes a;
    a.origin = origin;
    a.as_path = AsPath{};
    a.local_pref = config_.default_local_pref;
    local_[prefix] = Route{kLocalPeer, intern(std::move(a)), std::nullopt, false};
    mark_dirty(prefix);
}

void Rib::withdraw_local(const Prefix& prefix) {
    if (local_.erase(prefix) > 0) mark_dirty(prefix);
}

void Rib::candidates(const Prefix& prefix, std::vector<const Route*>& out) const {
    out.clear();
    if (auto l = local_.find(prefix); l != local_.end()) out.push_back(&l->second);
    for (const auto& [id, peer] : peers_) {
        if (auto r = peer.adj_in.find(prefix); r != peer.adj_in.end()) out.push_back(&r->second);
    }
}

std::uint32_t Rib::router_id_of(const Route& r) const {
    if (r.attributes->originator_id) return *r.attributes->originator_id;  // RFC 4456 section 9
    auto it = peers_.find(r.peer);
    return it == peers_.end() ? config_.router_id : it->second.router_id;
}

BestPaths Rib::decide(const std::vector<const Route*>& all) const {
    BestPaths out;
    for (const Route* r : all) {
        if (r->peer == kLocalPeer) {
            out.paths.push_back(r);
            return out;
        }
    }
    std::vector<const Route*> v = all;
    const auto& cfg = config_;
    // 1. highest LOCAL_PREF
    keep_min(v, [&](const Route* r) {
        return ~r->attributes->local_pref.value_or(cfg.default_local_pref);
    });
    // 2. shortest AS_PATH
    keep_min(v, [](const Route* r) { return detail::as_path_length(*r->attributes->as_path); });
    // 3. lowest ORIGIN
    keep_min(v, [](const Route* r) { return r->attributes->origin.value_or(Origin::Incomplete); });
    // 4. MED: drop a route when another one from the same neighbour AS has a lower MED.
    {
        std::vector<const Route*> kept;
        for (const Route* r : v) {
            const bool beaten = std::any_of(v.begin(), v.end(), [&](const Route* o) {
                const bool comparable =
                    cfg.always_compare_med ||
                    neighbour_as(*o, cfg.local_as) == neighbour_as(*r, cfg.local_as);
                return comparable &&
                       o->attributes->med.value_or(0) < r->attributes->med.value_or(0);
            });
            if (!beaten) kept.push_back(r);
        }
        v = std::move(kept);
    }
    // 5. eBGP over iBGP
    keep_min(v, [&](const Route* r) { return external(peers_.at(r->peer)) ? 0 : 1; });
    // 6./7. lowest router id, then lowest peer address: an order over what is left.
    std::sort(v.begin(), v.end(), [&](const Route* a, const Route* b) {
        const auto ka = std::pair(router_id_of(*a), peers_.at(a->peer).config.address);
        const auto kb = std::pair(router_id_of(*b), peers_.at(b->peer).config.address);
        return ka < kb;
    });
    if (v.empty()) return out;
    const std::uint32_t nas = neighbour_as(*v.front(), cfg.local_as);
    for (const Route* r : v) {
        if (out.paths.size() >= cfg.max_paths) break;
        if (neighbour_as(*r, cfg.local_as) == nas) out.paths.push_back(r);
    }
    return out;
}

bool Rib::export_relevant(PeerId to, const PeerState& peer, const Prefix& prefix,
                          const Route* best) {
    if (best && best->peer != to) return true;
    // export_attributes() gives nothing for it (no route, or only back to where it came from):
    // take_updates() has work only when the prefix is advertised there. Held-back prefixes are
    // looked at by every take_updates() anyway.
    return peer.adj_out.contains(prefix);
}

void Rib::settle() {
    if (dirty_.empty()) return;
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    std::vector<const Route*> cands;
    for (const auto& prefix : dirty_) {
        candidates(prefix, cands);
        const Route* best_route = nullptr;
        // One lookup for the Loc-RIB entry and the prefix's FIB state.
        auto e = loc_rib_.lower_bound(prefix);
        if (e == loc_rib_.end() || e->first != prefix) {
            e = cands.empty() ? loc_rib_.end() : loc_rib_.emplace_hint(e, prefix, LocEntry{});
        }
        if (e != loc_rib_.end()) {
            LocEntry& entry = e->second;
            std::vector<NextHop> hops;
            if (cands.empty()) {
                entry.best.clear();
            } else {
                const auto decided = decide(cands);
                entry.best.assign(decided.paths);
                for (const Route* r : decided.paths) {
                    if (r->peer != kLocalPeer && r->next_hop) {
                        hops.push_back({*r->next_hop, r->peer});
                    }
                }
                if (!decided.paths.empty()) best_route = decided.paths.front();
            }
            std::sort(hops.begin(), hops.end());
            hops.erase(std::unique(hops.begin(), hops.end()), hops.end());
            // Recorded even when equal to the reported state: it may undo an earlier decision
            // of this batch (a flap), and the last decision counts.
            const bool gone = entry.best.empty() && entry.fib.empty() && hops.empty();
            fib_pending_.emplace_back(prefix, std::move(hops));
            if (gone) loc_rib_.erase(e);
        }
        for (auto& [id, peer] : peers_) {
            if (peer.up && export_relevant(id, peer, prefix, best_route)) {
                peer.export_dirty.insert(prefix);
            }
        }
    }
    dirty_.clear();
}

std::vector<FibChange> Rib::take_fib_changes() {
    settle();
    // By prefix, the last decision of each first (stable: decision order kept within a prefix).
    std::stable_sort(fib_pending_.begin(), fib_pending_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<FibChange> out;
    for (std::size_t i = 0; i < fib_pending_.size(); ++i) {
        auto& [prefix, hops] = fib_pending_[i];
        if (i + 1 < fib_pending_.size() && fib_pending_[i + 1].first == prefix) continue;
        auto e = loc_rib_.find(prefix);
        if (e == loc_rib_.end()) continue;  // no route and nothing reported: nothing to remove
        LocEntry& entry = e->second;
        if (entry.fib == hops) continue;  // flapped back within the batch
        const bool had = !entry.fib.empty();
        fib_size_ += static_cast<std::size_t>(!had && !hops.empty());
        fib_size_ -= static_cast<std::size_t>(had && hops.empty());
        entry.fib.assign(hops);
        const bool replaced = had && !hops.empty();
        out.push_back(FibChange{prefix, std::move(hops), replaced});
        if (entry.fib.empty() && entry.best.empty()) loc_rib_.erase(e);
    }
    fib_pending_.clear();
    return out;
}

std::optional<BestPaths> Rib::best(const Prefix& prefix) {
    settle();
    auto it = loc_rib_.find(prefix);
    if (it == loc_rib_.end() || it->second.best.empty()) return std::nullopt;
    return BestPaths{it->second.best.to_vector()};
}

std::vector<std::pair<Prefix, const Route*>> Rib::adj_rib_in(PeerId peer) const {
    std::vector<std::pair<Prefix, const Route*>> out;
    auto it = peers_.find(peer);
    if (it == peers_.end()) return out;
    for (const auto& [prefix, route] : it->second.adj_in) out.emplace_back(prefix, &route);
    return out;
}

std::size_t Rib::adj_rib_in_size(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.adj_in.size();
}

}  // namespace cgwd::bgp
