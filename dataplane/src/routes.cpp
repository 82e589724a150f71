#include "cgwd/dataplane/routes.hpp"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>

namespace cgwd::dataplane {

std::expected<KernelRoutes, Error> KernelRoutes::open(Options options) {
    auto socket = nl::NetlinkSocket::open(NETLINK_ROUTE);
    if (!socket) return std::unexpected(socket.error());
    return KernelRoutes(options, std::move(*socket));
}

std::expected<KernelRoutes, Error> KernelRoutes::open() {
    return open(Options{});
}

std::expected<rtnl::RouteMessage, Error> KernelRoutes::resolve(const RouteSpec& route) const {
    if (route.hops.empty())
        return std::unexpected(Error{Errc::invalid_argument, "route without next hop", 0});
    if (route.destination.length > 32)
        return std::unexpected(Error{Errc::invalid_argument, "prefix length above 32", 0});
    rtnl::RouteMessage m;
    m.destination = config::Ipv4Prefix::of(route.destination.address, route.destination.length);
    m.table = table_of(route.table);
    m.metric = route.metric;
    m.protocol = options_.protocol;
    for (const RouteHop& h : route.hops) {
        if (h.weight == 0)
            return std::unexpected(Error{Errc::invalid_argument, "next hop weight 0", 0});
        std::uint32_t ifindex = h.ifindex;
        if (ifindex == 0) {
            if (h.device.empty())
                return std::unexpected(Error{Errc::invalid_argument, "next hop without device", 0});
            ifindex = ::if_nametoindex(h.device.c_str());
            if (ifindex == 0)
                return std::unexpected(
                    Error{Errc::not_found, "no such device: " + h.device, ENODEV});
        }
        m.hops.push_back(rtnl::ResolvedHop{ifindex, h.gateway, h.weight});
    }
    return m;
}

std::expected<void, Error> KernelRoutes::replace(const RouteSpec& route) {
    auto m = resolve(route);
    if (!m) return std::unexpected(m.error());
    auto msg = rtnl::build_route_replace(*m);
    return socket_.request(msg, "replace route " + m->destination.to_string());
}

std::expected<void, Error> KernelRoutes::remove(config::Ipv4Prefix destination,
                                                std::uint32_t metric, std::uint32_t table) {
    auto msg = rtnl::build_route_delete(destination, table_of(table), metric, options_.protocol);
    auto r = socket_.request(msg, "delete route " + destination.to_string());
    // The kernel says ESRCH for a missing route: errno_error already maps it to not_found.
    return r;
}

std::expected<std::vector<rtnl::RouteMessage>, Error> KernelRoutes::list() {
    std::vector<rtnl::RouteMessage> routes;
    auto msg = rtnl::build_route_dump();
    auto r = socket_.dump(msg, "dump routes", [&](const nlmsghdr* nlh) {
        auto route = rtnl::parse_route(nlh);
        if (route && route->protocol == options_.protocol) routes.push_back(std::move(*route));
    });
    if (!r) return std::unexpected(r.error());
    return routes;
}

std::expected<std::size_t, Error> KernelRoutes::flush_protocol() {
    auto routes = list();
    if (!routes) return std::unexpected(routes.error());
    std::size_t removed = 0;
    for (const auto& route : *routes) {
        auto msg = rtnl::build_route_delete(route.destination, route.table, route.metric,
                                            options_.protocol);
        auto r = socket_.request(msg, "delete route " + route.destination.to_string());
        if (r) {
            ++removed;
        } else if (r.error().code != Errc::not_found) {
            return std::unexpected(r.error());
        }
    }
    return removed;
}

}  // namespace cgwd::dataplane
