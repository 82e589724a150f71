// Route changes of the Dataplane interface turned into KernelRoutes' terms, shared by the kernel
// and the userspace backends (both install their routes in the kernel through KernelRoutes and
// differ only in how a tunnel next hop is named: the XFRM interface's ifindex, or the TUN
// device's name). Internal to dataplane/src.
#pragma once

#include <cstddef>
#include <expected>
#include <span>
#include <utility>
#include <vector>

#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/routes.hpp"

namespace cgwd::dataplane::detail {

// The RouteSpec of `route`. A next hop with an interface name keeps it; a tunnel next hop
// (if_id) is filled in by `tunnel_hop(if_id, hop)`, which returns false for an unknown tunnel.
template <class TunnelHop>
std::expected<RouteSpec, Error> route_spec(const Route& route, TunnelHop&& tunnel_hop) {
    RouteSpec spec;
    spec.destination = route.destination;
    spec.metric = route.metric;
    spec.table = route.table;
    for (const NextHop& h : route.next_hops) {
        RouteHop hop;
        hop.gateway = h.gateway;
        hop.weight = h.weight;
        if (!h.interface.empty()) {
            hop.device = h.interface;
        } else if (!tunnel_hop(h.if_id, hop)) {
            return std::unexpected(Error{Errc::not_found, "next hop tunnel"});
        }
        spec.hops.push_back(std::move(hop));
    }
    return spec;
}

// Runs `changes` as one batch: adds resolved by `spec_of(route)` (one that does not resolve
// fails alone and is not sent), the operations handed to `apply(ops)` (KernelRoutes::apply,
// under whatever lock the backend needs), then `done(change, error)` for every change that was
// sent. One result per change, in order.
template <class SpecOf, class Apply, class Done>
RouteBatchResult apply_changes(std::span<const RouteChange> changes, SpecOf&& spec_of,
                               Apply&& apply, Done&& done) {
    RouteBatchResult out;
    out.errors.resize(changes.size());
    std::vector<RouteOp> ops;
    std::vector<std::size_t> index;  // ops[k] is changes[index[k]]
    ops.reserve(changes.size());
    index.reserve(changes.size());
    for (std::size_t i = 0; i < changes.size(); ++i) {
        const RouteChange& c = changes[i];
        RouteOp op;
        if (c.kind == RouteChange::Kind::add) {
            auto spec = spec_of(c.route);
            if (!spec) {
                out.errors[i] = spec.error();
                continue;
            }
            op.route = std::move(*spec);
        } else {
            op.remove = true;
            op.route.destination = c.key.destination;
            op.route.metric = c.key.metric;
            op.route.table = c.key.table;
        }
        ops.push_back(std::move(op));
        index.push_back(i);
    }
    RouteBatchOutcome result = apply(std::span<const RouteOp>(ops));
    for (std::size_t k = 0; k < ops.size(); ++k) {
        done(changes[index[k]], result.errors[k]);
        out.errors[index[k]] = std::move(result.errors[k]);
    }
    for (const auto& e : out.errors) out.failures += e.has_value();
    out.resynced = result.resynced;
    out.repaired = result.repaired;
    return out;
}

}  // namespace cgwd::dataplane::detail
