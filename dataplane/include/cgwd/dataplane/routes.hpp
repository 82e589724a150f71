// KernelRoutes: the daemon's IPv4 routes in the Linux FIB over rtnetlink, for both dataplane
// modes (kernel XFRM interfaces, userspace TUN devices) and for Direct Connect VLANs.
//
// A route is a destination prefix with one or more next hops (device by ifindex or name, plus
// an optional gateway and an ECMP weight); several hops become one RTA_MULTIPATH route. It is
// added or replaced as a whole (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE), keyed like the
// kernel keys it: destination, metric (RTA_PRIORITY) and table.
//
// Ownership: every route is installed with route protocol `Options::protocol` (default 199,
// `default_protocol`, unassigned in iproute2's rt_protos and by BIRD/FRR/strongSwan; shown by
// `ip route` as "proto 199"). Deletes are restricted to that protocol, list() reports only our
// routes, and flush_protocol() removes every route of the protocol in every table (start-up
// cleanup after a crash, and stop).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/config/net.hpp"
#include "cgwd/dataplane/error.hpp"
#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"

namespace cgwd::dataplane {

inline constexpr std::uint8_t default_route_protocol = 199;

struct RouteHop {
    std::uint32_t ifindex = 0;  // the device, by index ...
    std::string device;         // ... or by name (used when ifindex is 0)
    std::optional<config::Ipv4Address> gateway;
    std::uint8_t weight = 1;  // ECMP weight 1..255
    friend bool operator==(const RouteHop&, const RouteHop&) = default;
};

struct RouteSpec {
    config::Ipv4Prefix destination;
    std::vector<RouteHop> hops;
    std::uint32_t metric = 0;
    std::uint32_t table = 0;  // 0: Options::table
    friend bool operator==(const RouteSpec&, const RouteSpec&) = default;
};

class KernelRoutes {
  public:
    struct Options {
        std::uint32_t table = 254;  // default table (RT_TABLE_MAIN)
        std::uint8_t protocol = default_route_protocol;
    };

    [[nodiscard]] static std::expected<KernelRoutes, Error> open(Options options);
    // Same, with the default options.
    [[nodiscard]] static std::expected<KernelRoutes, Error> open();

    // Adds or replaces the route with the same destination, metric and table.
    [[nodiscard]] std::expected<void, Error> replace(const RouteSpec& route);
    // Deletes our route (not_found when there is none).
    [[nodiscard]] std::expected<void, Error> remove(config::Ipv4Prefix destination,
                                                    std::uint32_t metric = 0,
                                                    std::uint32_t table = 0);
    // Removes every route of our protocol in every table; returns how many.
    [[nodiscard]] std::expected<std::size_t, Error> flush_protocol();
    // Our routes (every table), as the kernel reports them (hops by ifindex).
    [[nodiscard]] std::expected<std::vector<rtnl::RouteMessage>, Error> list();

    // The message replace() sends (hops resolved; for tests).
    [[nodiscard]] std::expected<rtnl::RouteMessage, Error> resolve(const RouteSpec& route) const;
    const Options& options() const { return options_; }

  private:
    KernelRoutes(Options options, nl::NetlinkSocket socket)
        : options_(options), socket_(std::move(socket)) {}
    std::uint32_t table_of(std::uint32_t table) const {
        return table == 0 ? options_.table : table;
    }
    Options options_;
    nl::NetlinkSocket socket_;
};

}  // namespace cgwd::dataplane
