#include "cgwd/dataplane/fake_dataplane.hpp"

#include <algorithm>

namespace cgwd::dataplane {

namespace {

std::unexpected<Error> fail(Errc code, std::string message) {
    return std::unexpected(Error{code, std::move(message), 0});
}

}  // namespace

std::optional<Error> FakeDataplane::take_failure() {
    std::optional<Error> e = std::move(fail_next_);
    fail_next_.reset();
    return e;
}

std::expected<void, Error> FakeDataplane::add_sa(const SaConfig& sa) {
    calls_.push_back(call::AddSa{sa});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (auto ok = validate(sa); !ok) return ok;
    if (find_sa(sa.key())) return fail(Errc::already_exists, "SA exists");
    sas_.push_back(SaEntry{sa, {}});
    return {};
}

std::expected<void, Error> FakeDataplane::update_sa(const SaConfig& sa) {
    calls_.push_back(call::UpdateSa{sa});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (auto ok = validate(sa); !ok) return ok;
    for (auto& entry : sas_) {
        if (entry.config.key() == sa.key()) {
            entry.config = sa;
            return {};
        }
    }
    return fail(Errc::not_found, "no such SA");
}

std::expected<void, Error> FakeDataplane::del_sa(const SaKey& key) {
    calls_.push_back(call::DelSa{key});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    auto it = std::find_if(sas_.begin(), sas_.end(),
                           [&](const SaEntry& s) { return s.config.key() == key; });
    if (it == sas_.end()) return fail(Errc::not_found, "no such SA");
    sas_.erase(it);
    return {};
}

std::expected<SaStats, Error> FakeDataplane::query_sa(const SaKey& key) {
    calls_.push_back(call::QuerySa{key});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    for (const auto& entry : sas_) {
        if (entry.config.key() == key) {
            SaStats stats;
            stats.counters = entry.counters;
            stats.lifetime = entry.config.lifetime;
            return stats;
        }
    }
    return fail(Errc::not_found, "no such SA");
}

std::expected<void, Error> FakeDataplane::add_policy(const Policy& policy) {
    calls_.push_back(call::AddPolicy{policy});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (find_policy(key_of(policy))) return fail(Errc::already_exists, "policy exists");
    policies_.push_back(policy);
    return {};
}

std::expected<void, Error> FakeDataplane::del_policy(const PolicyKey& key) {
    calls_.push_back(call::DelPolicy{key});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    auto it = std::find_if(policies_.begin(), policies_.end(),
                           [&](const Policy& p) { return key_of(p) == key; });
    if (it == policies_.end()) return fail(Errc::not_found, "no such policy");
    policies_.erase(it);
    return {};
}

std::expected<void, Error> FakeDataplane::create_tunnel(const TunnelInterface& t) {
    calls_.push_back(call::CreateTunnel{t});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (t.if_id == 0 || t.name.empty() || t.mtu < 576)
        return fail(Errc::invalid_argument, "tunnel needs if_id, name and MTU >= 576");
    if (tunnels_.contains(t.if_id)) return fail(Errc::already_exists, "tunnel exists");
    for (const auto& [id, other] : tunnels_)
        if (other.name == t.name) return fail(Errc::already_exists, "interface name in use");
    tunnels_.emplace(t.if_id, t);
    return {};
}

std::expected<void, Error> FakeDataplane::delete_tunnel(std::uint32_t if_id) {
    calls_.push_back(call::DeleteTunnel{if_id});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (tunnels_.erase(if_id) == 0) return fail(Errc::not_found, "no such tunnel");
    // Like the kernel: routes whose next hops all leave by the tunnel go with it.
    std::erase_if(routes_, [&](const Route& r) {
        return std::all_of(r.next_hops.begin(), r.next_hops.end(),
                           [&](const NextHop& h) { return h.if_id == if_id; });
    });
    mss_.erase(if_id);
    return {};
}

std::expected<void, Error> FakeDataplane::add_route(const Route& route) {
    calls_.push_back(call::AddRoute{route});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (route.next_hops.empty()) return fail(Errc::invalid_argument, "route without next hop");
    for (const auto& hop : route.next_hops) {
        if (!tunnels_.contains(hop.if_id)) return fail(Errc::not_found, "next hop tunnel");
        if (hop.weight == 0) return fail(Errc::invalid_argument, "next hop weight 0");
        // As KernelRoutes: no next hop of the other family.
        if (hop.gateway && hop.gateway->is_v6() != route.destination.is_v6())
            return fail(Errc::invalid_argument, "next hop of the other family");
    }
    for (auto& r : routes_) {
        if (r.key() == route.key()) {
            r = route;
            return {};
        }
    }
    routes_.push_back(route);
    return {};
}

std::expected<void, Error> FakeDataplane::del_route(const RouteKey& key) {
    calls_.push_back(call::DelRoute{key});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (std::erase_if(routes_, [&](const Route& r) { return r.key() == key; }) == 0)
        return fail(Errc::not_found, "no such route");
    return {};
}

std::expected<void, Error> FakeDataplane::set_mss_clamp(std::uint32_t if_id, std::uint16_t mss) {
    calls_.push_back(call::SetMssClamp{if_id, mss});
    if (auto e = take_failure()) return std::unexpected(std::move(*e));
    if (!tunnels_.contains(if_id)) return fail(Errc::not_found, "no such tunnel");
    if (mss == 0) {
        mss_.erase(if_id);
    } else {
        if (mss < 88) return fail(Errc::invalid_argument, "MSS below 88");
        mss_[if_id] = mss;
    }
    return {};
}

bool FakeDataplane::set_counters(const SaKey& key, const SaCounters& counters) {
    for (auto& entry : sas_) {
        if (entry.config.key() == key) {
            entry.counters = counters;
            return true;
        }
    }
    return false;
}

bool FakeDataplane::raise_expiry(const SaKey& key, ExpiryKind kind, ExpiryCause cause) {
    const SaConfig* sa = find_sa(key);
    if (!sa || !handler_) return false;
    ExpiryEvent event{key, sa->direction, kind, cause};
    ExpiryHandler handler = handler_;  // the handler may replace itself or delete the SA
    handler(event);
    return true;
}

const SaConfig* FakeDataplane::find_sa(const SaKey& key) const {
    for (const auto& entry : sas_)
        if (entry.config.key() == key) return &entry.config;
    return nullptr;
}

const Policy* FakeDataplane::find_policy(const PolicyKey& key) const {
    for (const auto& p : policies_)
        if (key_of(p) == key) return &p;
    return nullptr;
}

const TunnelInterface* FakeDataplane::find_tunnel(std::uint32_t if_id) const {
    auto it = tunnels_.find(if_id);
    return it == tunnels_.end() ? nullptr : &it->second;
}

const Route* FakeDataplane::find_route(const RouteKey& key) const {
    for (const auto& r : routes_)
        if (r.key() == key) return &r;
    return nullptr;
}

std::optional<std::uint16_t> FakeDataplane::mss_clamp(std::uint32_t if_id) const {
    auto it = mss_.find(if_id);
    if (it == mss_.end()) return std::nullopt;
    return it->second;
}

}  // namespace cgwd::dataplane
