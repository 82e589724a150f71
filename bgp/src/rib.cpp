// Rib: peers, import (Adj-RIB-In) and the decision process (Loc-RIB, FIB changes).
// Export (Adj-RIB-Out, UPDATE building) is in rib_export.cpp.
#include <algorithm>
#include <utility>

#include "cgwd/bgp/rib.hpp"

namespace cgwd::bgp {

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
    if (a.mp_reach) {
        for (std::uint8_t b : a.mp_reach->next_hop) add(b);
    }
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

std::optional<IpAddress> mp_reach_next_hop(const MpReach& mp) {
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

std::optional<IpAddress> Route::next_hop() const {
    if (mp) return attributes->mp_reach ? mp_reach_next_hop(*attributes->mp_reach) : std::nullopt;
    if (attributes->next_hop) return IpAddress::v4(*attributes->next_hop);
    return std::nullopt;
}

// Rib::Entry: no route (kind_ 0), one in place (1), or two or more in a heap vector (2).
static_assert(sizeof(Route) == 16);

Rib::Entry::~Entry() {
    if (kind_ == 1) one_.~Route();
    if (kind_ == 2) delete many_;
}

std::span<Route> Rib::Entry::routes() noexcept {
    if (kind_ == 1) return {&one_, 1};
    if (kind_ == 2) return *many_;
    return {};
}

std::span<const Route> Rib::Entry::routes() const noexcept {
    if (kind_ == 1) return {&one_, 1};
    if (kind_ == 2) return *many_;
    return {};
}

Route* Rib::Entry::find(PeerId peer) noexcept {
    for (Route& r : routes()) {
        if (r.peer == peer) return &r;
    }
    return nullptr;
}

std::optional<bool> Rib::Entry::put(Route r) {
    if (Route* old = find(r.peer)) {
        const bool was_stale = old->stale;
        *old = std::move(r);
        return was_stale;
    }
    if (kind_ == 0) {
        new (&one_) Route(std::move(r));
        kind_ = 1;
    } else if (kind_ == 1) {
        auto* v = new std::vector<Route>;
        v->reserve(2);
        v->push_back(std::move(one_));
        v->push_back(std::move(r));
        one_.~Route();
        many_ = v;
        kind_ = 2;
    } else {
        many_->push_back(std::move(r));
    }
    // A new route is not among the best until the next decision.
    return std::nullopt;
}

std::optional<bool> Rib::Entry::erase(PeerId peer) {
    if (kind_ == 1 && one_.peer == peer) {
        const bool was_stale = one_.stale;
        one_.~Route();
        kind_ = 0;
        nbest = 0;
        return was_stale;
    }
    if (kind_ != 2) return std::nullopt;
    auto it =
        std::find_if(many_->begin(), many_->end(), [&](const Route& r) { return r.peer == peer; });
    if (it == many_->end()) return std::nullopt;
    const bool was_stale = it->stale;
    // The best paths stay in front; the entry is decided again before anyone reads them.
    if (static_cast<std::size_t>(it - many_->begin()) < nbest) --nbest;
    many_->erase(it);
    if (many_->size() == 1) {
        std::vector<Route>* v = many_;
        new (&one_) Route(std::move(v->front()));
        delete v;
        kind_ = 1;
    }
    return was_stale;
}

void Rib::Entry::set_best(std::span<const Route* const> best) {
    nbest = static_cast<std::uint8_t>(std::min<std::size_t>(best.size(), UINT8_MAX));
    if (kind_ != 2) return;
    std::vector<Route> ordered;
    ordered.reserve(many_->size());
    for (const Route* b : best) ordered.push_back(*b);
    for (const Route& r : *many_) {
        if (std::find(best.begin(), best.end(), &r) == best.end()) ordered.push_back(r);
    }
    *many_ = std::move(ordered);
}

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
        if (entry.nbest > 0) it->second.export_dirty.insert(prefix);
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
    // Routes kept from before a graceful restart were decided with the old BGP identifier
    // (tie-breaker 6): a new one decides them again.
    const bool new_identifier = p.routes > 0 && p.router_id != established.peer_identifier;
    p.up = true;
    p.router_id = established.peer_identifier;
    p.capabilities = established.peer_capabilities;
    p.adj_out.clear();
    p.held_back.clear();
    p.over_limit_reported = false;
    for (auto& [prefix, entry] : loc_rib_) {
        if (entry.nbest > 0) p.export_dirty.insert(prefix);
        if (new_identifier && entry.find(peer) != nullptr) mark_dirty(prefix);
    }
}

bool Rib::erase_route(Entry& entry, PeerState& peer, PeerId id) {
    const auto was = entry.erase(id);
    if (!was) return false;
    --peer.routes;
    peer.stale -= static_cast<std::size_t>(*was);
    return true;
}

void Rib::peer_down(PeerId peer) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    auto& p = it->second;
    // Its routes are spread over the Loc-RIB entries: one pass over all of them.
    for (auto e = loc_rib_.begin(); p.routes > 0 && e != loc_rib_.end(); ++e) {
        if (erase_route(e->second, p, peer)) mark_dirty(e->first);
    }
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
    for (auto e = loc_rib_.begin(); p.routes > 0 && e != loc_rib_.end(); ++e) {
        if (contains(retained, family_of(e->first))) {
            if (Route* r = e->second.find(peer); r && !r->stale) {
                r->stale = true;
                ++p.stale;
            }
        } else if (erase_route(e->second, p, peer)) {
            mark_dirty(e->first);
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
    auto& p = it->second;
    std::size_t removed = 0;
    for (auto e = loc_rib_.begin(); p.stale > 0 && e != loc_rib_.end(); ++e) {
        const Route* r = e->second.find(peer);
        if (r && r->stale && contains(families, family_of(e->first))) {
            erase_route(e->second, p, peer);
            mark_dirty(e->first);
            ++removed;
        }
    }
    return removed;
}

std::size_t Rib::stale_count(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.stale;
}

void Rib::mark_dirty(const Prefix& prefix) {
    dirty_.push_back(prefix);
}

Rib::LocRib::iterator Rib::seek(LocRib::iterator hint, const Prefix& prefix) {
    // The hint is the first entry not below `prefix` when the previous one is below it.
    if (hint != loc_rib_.end() && !(hint->first < prefix) &&
        (hint == loc_rib_.begin() || std::prev(hint)->first < prefix)) {
        return hint;
    }
    if (hint == loc_rib_.end() && (loc_rib_.empty() || std::prev(hint)->first < prefix)) {
        return hint;
    }
    return loc_rib_.lower_bound(prefix);
}

detail::AttributesRef Rib::intern(PathAttributes&& a) {
    const std::size_t h = hash_attributes(a);
    return attr_pool_->intern(h, std::move(a));
}

std::size_t Rib::attribute_sets() const {
    return attr_pool_->size();
}

detail::AttributesRef Rib::import_attributes(const PeerState& peer, const PathAttributes& a) {
    const bool ebgp = external(peer);
    // RFC 8212: no import policy configured on an eBGP session: accept nothing.
    if (ebgp && !peer.config.import_policy) return {};
    // As received, less what only the UPDATE needs (MP_REACH / MP_UNREACH) and with AS4_PATH /
    // AS4_AGGREGATOR merged in (RFC 6793 section 4.2.3).
    PathAttributes r;
    r.origin = a.origin;
    r.as_path = effective_as_path(a);
    // RFC 4271 section 9.1.2: a route carrying our own AS is not feasible.
    if (as_path_contains(*r.as_path, config_.local_as)) return {};
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
    if (a.mp_reach) r.mp_reach = MpReach{a.mp_reach->af, a.mp_reach->next_hop, {}};  // next hop
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

    // Removes the peer's route for a prefix; true when it had one.
    auto remove = [&](const Prefix& prefix) {
        auto e = loc_rib_.find(prefix);
        if (e == loc_rib_.end() || !erase_route(e->second, peer, from)) return false;
        mark_dirty(prefix);
        return true;
    };
    for (const auto& prefix : update.routes_withdrawn()) {
        if (remove(prefix)) ++report.withdrawn;
    }

    // One attribute set for all of the UPDATE's routes (empty: none is feasible).
    detail::AttributesRef attrs;
    if (!update.treat_as_withdraw() && (!update.nlri.empty() || update.attributes.mp_reach)) {
        attrs = import_attributes(peer, update.attributes);
    }
    const PrefixListPolicy* prefix_list =
        peer.config.import_policy && peer.config.import_policy->prefix_list
            ? &*peer.config.import_policy->prefix_list
            : nullptr;

    auto hint = loc_rib_.begin();  // NLRI usually come in order: each after the last
    auto process = [&](const Prefix& prefix, const std::optional<IpAddress>& nh,
                       bool via_mp) -> bool {
        if (!attrs || !nh || (prefix_list && !prefix_list->permits(prefix))) {
            ++report.filtered;
            remove(prefix);  // implicit withdraw
            return true;
        }
        auto e = seek(hint, prefix);
        hint = e;
        const bool have_entry = e != loc_rib_.end() && e->first == prefix;
        const bool existing = have_entry && e->second.find(from) != nullptr;
        if (!existing && peer.config.import_policy && peer.config.import_policy->max_prefix) {
            const auto& mp = *peer.config.import_policy->max_prefix;
            if (peer.routes >= mp.limit) {
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
        if (!have_entry)
            e = loc_rib_.emplace_hint(e, std::piecewise_construct, std::forward_as_tuple(prefix),
                                      std::tuple<>());
        hint = std::next(e);
        const auto replaced = e->second.put(Route{from, false, via_mp, attrs});
        if (replaced) {
            peer.stale -= static_cast<std::size_t>(*replaced);  // re-announced: no longer stale
        } else {
            ++peer.routes;
        }
        return true;
    };

    if (!update.treat_as_withdraw()) {
        std::optional<IpAddress> nh4;
        if (update.attributes.next_hop) nh4 = IpAddress::v4(*update.attributes.next_hop);
        for (const auto& prefix : update.nlri) {
            if (!process(prefix, nh4, false)) break;
        }
        if (update.attributes.mp_reach && !report.reset) {
            const auto nh = mp_reach_next_hop(*update.attributes.mp_reach);
            for (const auto& prefix : update.attributes.mp_reach->nlri) {
                if (!process(prefix, nh, true)) break;
            }
        }
    }

    if (report.reset) {
        peer_down(from);
        return report;
    }
    if (peer.config.import_policy && peer.config.import_policy->max_prefix &&
        peer.routes <= peer.config.import_policy->max_prefix->limit &&
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
    auto e = loc_rib_.try_emplace(prefix).first;
    e->second.put(Route{kLocalPeer, false, false, intern(std::move(a))});
    mark_dirty(prefix);
}

void Rib::withdraw_local(const Prefix& prefix) {
    auto e = loc_rib_.find(prefix);
    if (e != loc_rib_.end() && e->second.erase(kLocalPeer)) mark_dirty(prefix);
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
    keep_min(v, [](const Route* r) { return as_path_length(*r->attributes->as_path); });
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
    std::vector<NextHop> hops;
    auto hint = loc_rib_.begin();  // dirty_ is sorted: each entry after the last
    for (const auto& prefix : dirty_) {
        const Route* best_route = nullptr;
        auto e = seek(hint, prefix);
        hint = e;
        if (e != loc_rib_.end() && e->first == prefix) {
            Entry& entry = e->second;
            cands.clear();
            for (const Route& r : entry.routes()) cands.push_back(&r);
            hops.clear();
            if (cands.empty()) {
                entry.nbest = 0;
            } else {
                const auto decided = decide(cands);
                entry.set_best(decided.paths);
                for (const Route& r : entry.routes().first(entry.nbest)) {
                    if (r.peer == kLocalPeer) continue;
                    if (auto nh = r.next_hop()) hops.push_back({*nh, r.peer});
                }
                if (entry.nbest > 0) best_route = &entry.routes().front();
            }
            std::sort(hops.begin(), hops.end());
            hops.erase(std::unique(hops.begin(), hops.end()), hops.end());
            // Recorded even when equal to the reported state: it may undo an earlier decision
            // of this batch (a flap), and the last decision counts.
            const bool gone = entry.unused() && hops.empty();
            fib_pending_.emplace_back(prefix, fib_sets_.acquire(hops));
            hint = gone ? loc_rib_.erase(e) : std::next(e);
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
    auto hint = loc_rib_.begin();
    for (std::size_t i = 0; i < fib_pending_.size(); ++i) {
        const auto& [prefix, set] = fib_pending_[i];
        auto e = loc_rib_.end();  // a later decision for the prefix counts
        if (i + 1 == fib_pending_.size() || fib_pending_[i + 1].first != prefix) {
            hint = seek(hint, prefix);
            if (hint != loc_rib_.end() && hint->first == prefix) e = hint;
        }
        // Not found: no route and nothing reported, nothing to remove. Equal: flapped back.
        if (e == loc_rib_.end() || e->second.fib == set) {
            fib_sets_.release(set);
            continue;
        }
        Entry& entry = e->second;
        const bool had = entry.fib != 0;
        fib_size_ += static_cast<std::size_t>(!had && set != 0);
        fib_size_ -= static_cast<std::size_t>(had && set == 0);
        fib_sets_.release(entry.fib);
        entry.fib = set;  // the pending count passes to the entry
        const auto hops = fib_sets_.get(set);
        out.push_back(FibChange{prefix, {hops.begin(), hops.end()}, had && set != 0});
        hint = entry.unused() ? loc_rib_.erase(e) : std::next(e);
    }
    fib_pending_.clear();
    return out;
}

std::optional<BestPaths> Rib::best(const Prefix& prefix) {
    settle();
    auto it = loc_rib_.find(prefix);
    if (it == loc_rib_.end() || it->second.nbest == 0) return std::nullopt;
    BestPaths out;
    for (const Route& r : it->second.routes().first(it->second.nbest)) out.paths.push_back(&r);
    return out;
}

std::vector<std::pair<Prefix, const Route*>> Rib::adj_rib_in(PeerId peer) const {
    std::vector<std::pair<Prefix, const Route*>> out;
    auto it = peers_.find(peer);
    if (it == peers_.end() || it->second.routes == 0) return out;
    for (const auto& [prefix, entry] : loc_rib_) {
        for (const Route& r : entry.routes()) {
            if (r.peer == peer) out.emplace_back(prefix, &r);
        }
    }
    return out;
}

std::size_t Rib::adj_rib_in_size(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.routes;
}

}  // namespace cgwd::bgp
