// Rib export: export policy, Adj-RIB-Out and UPDATE batching.
#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

#include "cgwd/bgp/rib.hpp"

namespace cgwd::bgp {

namespace {

constexpr std::size_t kMaxAsPerSegment = 255;

// Octets one prefix takes in an NLRI / withdrawn field (RFC 4271 section 4.3).
std::size_t prefix_octets(const Prefix& p) {
    return 1u + (p.length + 7u) / 8u;
}

void prepend(AsPath& path, std::uint32_t asn, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        if (path.empty() || path.front().type != AsPathSegment::Type::Sequence ||
            path.front().asns.size() >= kMaxAsPerSegment) {
            path.insert(path.begin(), AsPathSegment{AsPathSegment::Type::Sequence, {}});
        }
        auto& asns = path.front().asns;
        asns.insert(asns.begin(), asn);
    }
}

template <typename T>
void add_missing(std::vector<T>& to, const std::vector<T>& from) {
    for (const auto& v : from) {
        if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
    }
}

// Budget for the prefixes of one UPDATE, given the attributes' encoded size. Leaves room for
// the header, both length fields, and AS4_PATH / extended-length growth on a 2-octet session.
std::size_t nlri_budget(std::size_t attr_octets) {
    const std::size_t overhead = kHeaderSize + 4 + 2 * attr_octets + 16;
    return overhead >= kMaxMessageSize ? 0 : kMaxMessageSize - overhead;
}

}  // namespace

std::optional<PathAttributes> Rib::export_attributes(PeerId to, const PeerState& peer,
                                                     const Prefix& prefix,
                                                     const Route& route) const {
    if (route.peer == to) return std::nullopt;  // never back to where it came from
    const bool ebgp = external(peer);
    const auto& comms = route.attributes->communities;
    if (std::find(comms.begin(), comms.end(), kNoAdvertise) != comms.end()) return std::nullopt;
    if (ebgp && std::find(comms.begin(), comms.end(), kNoExport) != comms.end()) {
        return std::nullopt;
    }
    if (!ebgp && route.peer != kLocalPeer && !external(peers_.at(route.peer))) {
        return std::nullopt;  // iBGP-learned routes are not re-advertised to iBGP peers
    }
    // RFC 8212: no export policy configured on an eBGP session: advertise nothing.
    if (ebgp && !peer.config.export_policy) return std::nullopt;
    const ExportPolicy empty_policy;
    const ExportPolicy& pol = peer.config.export_policy ? *peer.config.export_policy : empty_policy;
    if (pol.prefix_list && !pol.prefix_list->permits(prefix)) return std::nullopt;

    const AfiSafi af = prefix.afi == Afi::Ipv4 ? kIpv4Unicast : kIpv6Unicast;
    if (!peer.capabilities.supports(af)) return std::nullopt;
    const AsPath& path = *route.attributes->as_path;
    // Sender-side loop avoidance: the peer would drop it anyway (RFC 4271 section 9.1.2).
    if (ebgp && as_path_contains(path, peer.config.peer_as)) return std::nullopt;

    PathAttributes out;
    out.origin = route.attributes->origin.value_or(Origin::Incomplete);
    out.as_path = path;
    if (ebgp) prepend(*out.as_path, config_.local_as, 1u + pol.as_path_prepend);
    if (prefix.afi == Afi::Ipv4) {
        out.next_hop = peer.config.local_address.v4_host_order();
    } else {
        if (!peer.config.local_address_v6) return std::nullopt;
        MpReach mp;
        mp.af = kIpv6Unicast;
        mp.next_hop.assign(peer.config.local_address_v6->bytes.begin(),
                           peer.config.local_address_v6->bytes.end());
        out.mp_reach = std::move(mp);
    }
    if (pol.med) {
        out.med = pol.med;
    } else if (!ebgp) {
        out.med = route.attributes->med;  // RFC 4271 section 5.1.4: not passed to another AS
    }
    if (!ebgp) out.local_pref = route.attributes->local_pref.value_or(config_.default_local_pref);
    out.atomic_aggregate = route.attributes->atomic_aggregate;
    out.aggregator = route.attributes->aggregator;
    out.communities = route.attributes->communities;
    add_missing(out.communities, pol.communities);
    out.large_communities = route.attributes->large_communities;
    add_missing(out.large_communities, pol.large_communities);
    out.extended_communities = route.attributes->extended_communities;
    for (const auto& raw : route.attributes->unrecognized) {
        if (raw.flags & attr_flag::kTransitive) {
            RawAttribute copy = raw;
            copy.flags |= attr_flag::kPartial;  // RFC 4271 section 5: passed on, not understood
            out.unrecognized.push_back(std::move(copy));
        }
    }
    return out;
}

std::size_t Rib::adj_rib_out_size(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.adj_out.size();
}

std::set<Prefix> Rib::held_back(PeerId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? std::set<Prefix>{} : it->second.held_back;
}

ExportBatch Rib::take_updates(PeerId to) {
    settle();
    ExportBatch batch;
    auto it = peers_.find(to);
    if (it == peers_.end() || !it->second.up) return batch;
    auto& peer = it->second;

    std::set<Prefix> todo = std::move(peer.export_dirty);
    peer.export_dirty.clear();
    todo.insert(peer.held_back.begin(), peer.held_back.end());

    std::vector<Prefix> withdraw;
    std::vector<std::pair<Prefix, PathAttributes>> announce;
    std::vector<std::pair<Prefix, PathAttributes>> fresh;
    for (const auto& prefix : todo) {
        std::optional<PathAttributes> want;
        if (auto lr = loc_rib_.find(prefix); lr != loc_rib_.end() && lr->second.nbest > 0) {
            want = export_attributes(to, peer, prefix, lr->second.routes().front());
        }
        auto out = peer.adj_out.find(prefix);
        if (!want) {
            peer.held_back.erase(prefix);
            if (out != peer.adj_out.end()) {
                withdraw.push_back(prefix);
                peer.adj_out.erase(out);
            }
        } else if (out != peer.adj_out.end()) {
            if (!(out->second == *want)) {
                out->second = *want;
                announce.emplace_back(prefix, std::move(*want));
            }
        } else {
            fresh.emplace_back(prefix, std::move(*want));
        }
    }
    // New prefixes in prefix order, while the max-prefix-out limit leaves room.
    const auto& pol = peer.config.export_policy;
    // No limit is the same as the largest one (a plain integer: GCC 12 at -O2 flags an
    // optional<uint32_t> here as maybe-uninitialized).
    const std::size_t limit = pol && pol->max_prefix_out ? *pol->max_prefix_out : SIZE_MAX;
    for (auto& [prefix, attrs] : fresh) {
        if (peer.adj_out.size() >= limit) {
            if (peer.held_back.insert(prefix).second) batch.newly_held_back.push_back(prefix);
            continue;
        }
        peer.held_back.erase(prefix);
        peer.adj_out.emplace(prefix, attrs);
        announce.emplace_back(prefix, std::move(attrs));
    }

    // Withdrawals: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI.
    for (Afi afi : {Afi::Ipv4, Afi::Ipv6}) {
        Update u;
        std::size_t used = 0;
        auto flush = [&] {
            if (used == 0) return;
            batch.updates.push_back(std::move(u));
            u = Update{};
            used = 0;
        };
        for (const auto& prefix : withdraw) {
            if (prefix.afi != afi) continue;
            if (used + prefix_octets(prefix) > nlri_budget(16)) flush();
            if (afi == Afi::Ipv4) {
                u.withdrawn.push_back(prefix);
            } else {
                if (!u.attributes.mp_unreach) u.attributes.mp_unreach = MpUnreach{kIpv6Unicast, {}};
                u.attributes.mp_unreach->withdrawn.push_back(prefix);
            }
            used += prefix_octets(prefix);
        }
        flush();
    }

    // Announcements grouped by identical attributes (keyed by their encoding).
    std::map<Bytes, std::pair<PathAttributes, std::vector<Prefix>>> groups;
    const UpdateContext key_ctx{true, external(peer)};
    for (auto& [prefix, attrs] : announce) {
        Bytes key;
        Writer w(key);
        encode_path_attributes(w, attrs, key_ctx);
        auto [g, inserted] = groups.try_emplace(std::move(key));
        if (inserted) g->second.first = attrs;
        g->second.second.push_back(prefix);
    }
    for (auto& [key, group] : groups) {
        const std::size_t budget = nlri_budget(key.size());
        Update u;
        u.attributes = group.first;
        std::size_t used = 0;
        auto flush = [&] {
            if (used == 0) return;
            batch.updates.push_back(u);
            u.nlri.clear();
            if (u.attributes.mp_reach) u.attributes.mp_reach->nlri.clear();
            used = 0;
        };
        for (const auto& prefix : group.second) {
            if (used + prefix_octets(prefix) > budget) flush();
            if (u.attributes.mp_reach) {
                u.attributes.mp_reach->nlri.push_back(prefix);
            } else {
                u.nlri.push_back(prefix);
            }
            used += prefix_octets(prefix);
        }
        flush();
    }
    return batch;
}

}  // namespace cgwd::bgp
