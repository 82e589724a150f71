// KernelRoutes: the daemon's IPv4 and IPv6 routes in the Linux FIB over rtnetlink, for both
// dataplane modes (kernel XFRM interfaces, userspace TUN devices) and for Direct Connect VLANs.
//
// A route is a destination prefix with one or more next hops (device by ifindex or name, plus
// an optional gateway and an ECMP weight); several hops become one RTA_MULTIPATH route. It is
// added or replaced as a whole (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE), keyed like the
// kernel keys it: destination (its family included: 10.200.0.0/16 and ac8::/16 have the same
// bytes and are different routes), metric (RTA_PRIORITY) and table.
// Families: a route's family is its destination's; a gateway of the other family is refused
// (invalid_argument; no IPv4 routes via IPv6 next hops). IPv6 metric 0 is stored by the kernel
// as 1024 (IP6_RT_PRIO_USER, what `ip -6 route` shows): KernelRoutes sends and keys an IPv6
// route of metric 0 as 1024 too, so list() and the resync see the route they asked for, and a
// delete with metric 0 removes that route and not whichever of our metrics comes first (the
// kernel treats a delete's metric 0 as "any").
// IPv6 ECMP: every hop needs a gateway; the kernel refuses device-only hops in an IPv6
// RTA_MULTIPATH (EINVAL, "Device only routes can not be added for IPv6 using the multipath
// API"). BGP next hops always are gateways, link-local ones included.
//
// Ownership: every route is installed with route protocol `Options::protocol` (default 199,
// `default_protocol`, unassigned in iproute2's rt_protos and by BIRD/FRR/strongSwan; shown by
// `ip route` as "proto 199"). Deletes are restricted to that protocol, list() reports only our
// routes, and flush_protocol() removes every route of the protocol in every table (start-up
// cleanup after a crash, and stop).
//
// Batches: apply() sends many changes (RTM_NEWROUTE with NLM_F_CREATE | NLM_F_REPLACE, or
// RTM_DELROUTE, each with NLM_F_ACK) packed into one buffer per sendmsg() (nl_batch.hpp: up to
// Options::batch_bytes / batch_messages), then reads the acknowledgements and matches them to the
// changes by sequence number. The socket uses NETLINK_CAP_ACK (acknowledgements are 36 bytes)
// and a receive buffer of Options::receive_buffer bytes so a full batch of them fits.
// ENOBUFS: when the receive buffer overran anyway, the lost acknowledgements are not guessed:
// after the last send, apply() resynchronises. It dumps our routes (list()), works out the
// final wanted state of every route that lost an acknowledgement (the batch's last change for
// that key: present with exactly these hops, or absent), and re-applies only the differences
// one request at a time (synchronous, acknowledged). RouteBatchOutcome::resynced reports it.
// A change whose acknowledgement was lost gets the result of its key's re-applied request, or
// none when the kernel already held the wanted state (so a lost delete of a route that was
// not there is done, not not_found).
// Tests force it with a tiny Options::receive_buffer (e.g. 1: the kernel's minimum, ~2 KiB,
// holds a handful of acknowledgements).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cgwd/config/net.hpp"
#include "cgwd/dataplane/error.hpp"
#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"

namespace cgwd::dataplane {

inline constexpr std::uint8_t default_route_protocol = 199;

struct RouteHop {
    std::uint32_t ifindex = 0;                 // the device, by index ...
    std::string device;                        // ... or by name (used when ifindex is 0)
    std::optional<config::IpAddress> gateway;  // the destination's family
    std::uint8_t weight = 1;                   // ECMP weight 1..255
    friend bool operator==(const RouteHop&, const RouteHop&) = default;
};

struct RouteSpec {
    config::IpPrefix destination;
    std::vector<RouteHop> hops;
    std::uint32_t metric = 0;
    std::uint32_t table = 0;  // 0: Options::table
    friend bool operator==(const RouteSpec&, const RouteSpec&) = default;
};

// One change of a batch: add or replace `route`, or (remove) delete the route with
// route.destination, route.metric and route.table (hops unused).
struct RouteOp {
    bool remove = false;
    RouteSpec route;
};

// apply()'s outcome, one entry per change.
struct RouteBatchOutcome {
    std::vector<std::optional<Error>> errors;  // nullopt: done
    std::size_t failures = 0;                  // non-empty errors
    bool resynced = false;                     // acknowledgements were lost (ENOBUFS)
    std::size_t repaired = 0;                  // requests the resync re-sent
    std::size_t sends = 0;                     // sendmsg() calls of the batch itself
};

class KernelRoutes {
  public:
    struct Options {
        std::uint32_t table = 254;  // default table (RT_TABLE_MAIN)
        std::uint8_t protocol = default_route_protocol;
        // SO_RCVBUF(FORCE) of the route socket; 0: leave the kernel's default. A test hook at
        // tiny values (forces ENOBUFS and the resync).
        int receive_buffer = 1 << 20;
        std::size_t batch_bytes = 65536;   // per sendmsg()
        std::size_t batch_messages = 256;  // per sendmsg()
    };

    [[nodiscard]] static std::expected<KernelRoutes, Error> open(Options options);
    // Same, with the default options.
    [[nodiscard]] static std::expected<KernelRoutes, Error> open();

    // Adds or replaces the route with the same destination, metric and table.
    [[nodiscard]] std::expected<void, Error> replace(const RouteSpec& route);
    // Deletes our route (not_found when there is none).
    [[nodiscard]] std::expected<void, Error> remove(const config::IpPrefix& destination,
                                                    std::uint32_t metric = 0,
                                                    std::uint32_t table = 0);
    // Applies the changes in order, batched (see the header comment). A change whose hops do
    // not resolve fails alone and is not sent. Errors of the kernel per change (not_found for
    // a missing route to delete, as remove() does). An error of the socket itself (send,
    // receive other than ENOBUFS, the resync's dump) fails every change not yet acknowledged.
    [[nodiscard]] RouteBatchOutcome apply(std::span<const RouteOp> ops);
    // Removes every route of our protocol in every table, both families; returns how many.
    [[nodiscard]] std::expected<std::size_t, Error> flush_protocol();
    // Our routes (every table, IPv4 then IPv6), as the kernel reports them (hops by ifindex).
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
    void resync(std::span<const RouteOp> ops, const std::vector<rtnl::RouteMessage>& resolved,
                std::span<const std::size_t> unacked, RouteBatchOutcome& out);
    Options options_;
    nl::NetlinkSocket socket_;
};

}  // namespace cgwd::dataplane
