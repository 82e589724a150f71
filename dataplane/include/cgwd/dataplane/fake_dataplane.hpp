// FakeDataplane: an in-memory Dataplane for engine and daemon tests.
//
// It keeps the SAs, policies, tunnels, routes and MSS clamps it was given, enforces the same
// existence rules a kernel backend would (add of an existing key -> already_exists, delete of a
// missing one -> not_found, SAs go through validate(), a route's gateway of the other family
// than its destination -> invalid_argument), records every call in order, lets a test inject
// the next failure, set the counters query_sa reports, and raise expiry events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cgwd/dataplane/dataplane.hpp"

namespace cgwd::dataplane {

// One recorded call, with its arguments.
namespace call {
struct AddSa {
    SaConfig sa;
};
struct UpdateSa {
    SaConfig sa;
};
struct DelSa {
    SaKey key;
};
struct QuerySa {
    SaKey key;
};
struct AddPolicy {
    Policy policy;
};
struct DelPolicy {
    PolicyKey key;
};
struct CreateTunnel {
    TunnelInterface tunnel;
};
struct DeleteTunnel {
    std::uint32_t if_id;
};
struct AddRoute {
    Route route;
};
struct DelRoute {
    RouteKey key;
};
struct SetMssClamp {
    std::uint32_t if_id;
    std::uint16_t mss;
};
}  // namespace call

using Call = std::variant<call::AddSa, call::UpdateSa, call::DelSa, call::QuerySa, call::AddPolicy,
                          call::DelPolicy, call::CreateTunnel, call::DeleteTunnel, call::AddRoute,
                          call::DelRoute, call::SetMssClamp>;

// Not final: a test may subclass it to see what it holds when its owner destroys it.
class FakeDataplane : public Dataplane {
  public:
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
    std::expected<void, Error> set_mss_clamp(std::uint32_t if_id, std::uint16_t mss) override;
    void set_expiry_handler(ExpiryHandler handler) override { handler_ = std::move(handler); }

    // --- test controls ---
    const std::vector<Call>& calls() const { return calls_; }
    void clear_calls() { calls_.clear(); }
    // The next mutating or query call (of any kind) fails with `error` and changes nothing.
    void fail_next(Error error) { fail_next_ = std::move(error); }
    // Counters query_sa reports for `key` (the SA must exist).
    [[nodiscard]] bool set_counters(const SaKey& key, const SaCounters& counters);
    // Delivers an event for an installed SA to the handler (direction taken from the SA).
    // Returns false when the SA does not exist or no handler is set.
    bool raise_expiry(const SaKey& key, ExpiryKind kind, ExpiryCause cause);

    // --- state inspection ---
    const SaConfig* find_sa(const SaKey& key) const;
    const Policy* find_policy(const PolicyKey& key) const;
    const TunnelInterface* find_tunnel(std::uint32_t if_id) const;
    const Route* find_route(const RouteKey& key) const;
    std::optional<std::uint16_t> mss_clamp(std::uint32_t if_id) const;
    std::size_t sa_count() const { return sas_.size(); }
    std::size_t policy_count() const { return policies_.size(); }
    std::size_t tunnel_count() const { return tunnels_.size(); }
    std::size_t route_count() const { return routes_.size(); }

  private:
    struct SaEntry {
        SaConfig config;
        SaCounters counters;
    };
    std::optional<Error> take_failure();

    std::vector<SaEntry> sas_;
    std::vector<Policy> policies_;
    std::map<std::uint32_t, TunnelInterface> tunnels_;
    std::vector<Route> routes_;
    std::map<std::uint32_t, std::uint16_t> mss_;
    std::vector<Call> calls_;
    std::optional<Error> fail_next_;
    ExpiryHandler handler_;
};

}  // namespace cgwd::dataplane
