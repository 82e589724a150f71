#include "cgwd/dataplane/routes.hpp"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <map>
#include <tuple>

#include "cgwd/dataplane/nl_batch.hpp"

namespace cgwd::dataplane {

namespace {

// Acknowledgements are 36 bytes with NETLINK_CAP_ACK; a refusal may add extended-ack TLVs.
constexpr std::size_t ack_buffer_size = 32768;

// The kernel's key of a route; IpPrefix orders by family first, so the family is part of it.
using Key = std::tuple<config::IpPrefix, std::uint32_t, std::uint32_t>;
Key key_of(const rtnl::RouteMessage& m) {
    return {m.destination, m.metric, m.table};
}

// IPv6 stores metric 0 as IP6_RT_PRIO_USER (net/ipv6/route.c): ask for what it will report.
constexpr std::uint32_t ipv6_default_metric = 1024;
std::uint32_t kernel_metric(const config::IpPrefix& destination, std::uint32_t metric) {
    return metric == 0 && destination.is_v6() ? ipv6_default_metric : metric;
}

std::optional<Error> check_destination(const config::IpPrefix& destination) {
    if (destination.length > destination.address.max_length())
        return Error{Errc::invalid_argument,
                     destination.is_v6() ? "prefix length above 128" : "prefix length above 32", 0};
    return std::nullopt;
}

// What the kernel reports back for what we sent: one hop goes as RTA_OIF, without a weight.
bool same_route(rtnl::RouteMessage have, rtnl::RouteMessage want) {
    if (have.hops.size() == 1) have.hops[0].weight = 1;
    if (want.hops.size() == 1) want.hops[0].weight = 1;
    return have == want;
}

std::string what_of(const RouteOp& op, const rtnl::RouteMessage& m) {
    return (op.remove ? "delete route " : "replace route ") + m.destination.to_string();
}

}  // namespace

std::expected<KernelRoutes, Error> KernelRoutes::open(Options options) {
    auto socket = nl::NetlinkSocket::open(NETLINK_ROUTE);
    if (!socket) return std::unexpected(socket.error());
    socket->set_cap_ack();
    if (options.receive_buffer > 0) {
        if (auto r = socket->set_receive_buffer(options.receive_buffer); !r)
            return std::unexpected(r.error());
    }
    return KernelRoutes(options, std::move(*socket));
}

std::expected<KernelRoutes, Error> KernelRoutes::open() {
    return open(Options{});
}

std::expected<rtnl::RouteMessage, Error> KernelRoutes::resolve(const RouteSpec& route) const {
    if (route.hops.empty())
        return std::unexpected(Error{Errc::invalid_argument, "route without next hop", 0});
    if (auto e = check_destination(route.destination)) return std::unexpected(std::move(*e));
    rtnl::RouteMessage m;
    m.destination = config::IpPrefix::of(route.destination.address, route.destination.length);
    m.table = table_of(route.table);
    m.metric = kernel_metric(m.destination, route.metric);
    m.protocol = options_.protocol;
    for (const RouteHop& h : route.hops) {
        if (h.weight == 0)
            return std::unexpected(Error{Errc::invalid_argument, "next hop weight 0", 0});
        if (h.gateway && h.gateway->is_v6() != m.destination.is_v6())
            return std::unexpected(Error{Errc::invalid_argument,
                                         "next hop " + h.gateway->to_string() +
                                             " is not of the family of " +
                                             m.destination.to_string(),
                                         0});
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

std::expected<void, Error> KernelRoutes::remove(const config::IpPrefix& destination,
                                                std::uint32_t metric, std::uint32_t table) {
    auto msg = rtnl::build_route_delete(destination, table_of(table),
                                        kernel_metric(destination, metric), options_.protocol);
    auto r = socket_.request(msg, "delete route " + destination.to_string());
    // The kernel says ESRCH for a missing route: errno_error already maps it to not_found.
    return r;
}

RouteBatchOutcome KernelRoutes::apply(std::span<const RouteOp> ops) {
    RouteBatchOutcome out;
    out.errors.resize(ops.size());
    // The message of every change (for a delete: its key), and the changes to send.
    std::vector<rtnl::RouteMessage> resolved(ops.size());
    std::vector<std::size_t> to_send;
    to_send.reserve(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const RouteOp& op = ops[i];
        if (op.remove) {
            if (auto e = check_destination(op.route.destination)) {
                out.errors[i] = std::move(*e);
                continue;
            }
            rtnl::RouteMessage& m = resolved[i];
            m.destination =
                config::IpPrefix::of(op.route.destination.address, op.route.destination.length);
            m.table = table_of(op.route.table);
            m.metric = kernel_metric(m.destination, op.route.metric);
            m.protocol = options_.protocol;
        } else {
            auto m = resolve(op.route);
            if (!m) {
                out.errors[i] = m.error();
                continue;
            }
            resolved[i] = std::move(*m);
        }
        to_send.push_back(i);
    }
    if (to_send.empty()) {
        for (const auto& e : out.errors) out.failures += e.has_value();
        return out;
    }

    auto build = [&](std::size_t i) {
        const rtnl::RouteMessage& m = resolved[i];
        return ops[i].remove
                   ? rtnl::build_route_delete(m.destination, m.table, m.metric, m.protocol)
                   : rtnl::build_route_replace(m);
    };
    std::vector<std::size_t> unacked;  // sent, acknowledgement lost (ENOBUFS)
    std::optional<Error> fatal;
    nl::BatchBuffer batch(options_.batch_bytes, options_.batch_messages);
    std::vector<std::uint8_t> rx(ack_buffer_size);
    const std::uint32_t first_seq = socket_.reserve_sequences(to_send.size());
    const std::uint32_t portid = socket_.portid();
    std::size_t next = 0;
    while (next < to_send.size()) {
        batch.reset(first_seq + static_cast<std::uint32_t>(next));
        const std::size_t begin = next;
        while (next < to_send.size() && batch.append(build(to_send[next]))) ++next;
        ++out.sends;
        if (auto r = socket_.send(batch.bytes(), "route batch"); !r) {
            fatal = r.error();
            next = begin;
            break;
        }
        nl::AckTracker acks(batch.first_seq(), batch.count(), portid);
        bool overrun = false;
        while (!acks.complete()) {
            auto n = socket_.receive(rx, "route batch acknowledgements", !overrun);
            if (!n) {
                if (n.error().sys_errno == ENOBUFS) {
                    // Lost acknowledgements: read what is still queued without blocking.
                    overrun = true;
                    continue;
                }
                fatal = n.error();
                break;
            }
            if (*n == 0) break;  // nothing more queued after an overrun
            (void)acks.feed({rx.data(), *n});
        }
        for (std::size_t k = 0; k < batch.count(); ++k) {
            const std::size_t i = to_send[begin + k];
            if (auto result = acks.result(k)) {
                if (*result != 0)
                    out.errors[i] = nl::errno_error(*result, what_of(ops[i], resolved[i])).error();
            } else if (fatal) {
                out.errors[i] = *fatal;
            } else {
                unacked.push_back(i);
            }
        }
        if (fatal) break;
    }
    if (fatal) {
        for (std::size_t k = next; k < to_send.size(); ++k) out.errors[to_send[k]] = *fatal;
        // What was sent without an acknowledgement is in an unknown state: a resync (next call)
        // cannot run on a broken socket either.
        for (std::size_t i : unacked) out.errors[i] = *fatal;
    } else if (!unacked.empty()) {
        resync(ops, resolved, unacked, out);
    }
    for (const auto& e : out.errors) out.failures += e.has_value();
    return out;
}

void KernelRoutes::resync(std::span<const RouteOp> ops,
                          const std::vector<rtnl::RouteMessage>& resolved,
                          std::span<const std::size_t> unacked, RouteBatchOutcome& out) {
    out.resynced = true;
    (void)socket_.discard_pending();  // late acknowledgements must not meet the dump
    auto current = list();
    if (!current) {
        for (std::size_t i : unacked) out.errors[i] = current.error();
        return;
    }
    std::map<Key, const rtnl::RouteMessage*> have;
    for (const auto& r : *current) have[key_of(r)] = &r;
    // The batch's last change of each key decides what that route must be now.
    std::map<Key, std::size_t> last;
    // (Unacknowledged changes have no error yet; a refused or unresolved one changed nothing.)
    for (std::size_t i = 0; i < ops.size(); ++i)
        if (!out.errors[i]) last[key_of(resolved[i])] = i;
    std::map<Key, std::optional<Error>> done;
    for (std::size_t i : unacked) {
        const Key key = key_of(resolved[i]);
        if (done.contains(key)) {
            out.errors[i] = done[key];
            continue;
        }
        const std::size_t want = last.at(key);
        auto it = have.find(key);
        std::expected<void, Error> r;
        if (ops[want].remove) {
            if (it != have.end()) {
                auto msg =
                    rtnl::build_route_delete(resolved[want].destination, resolved[want].table,
                                             resolved[want].metric, options_.protocol);
                r = socket_.request(msg, what_of(ops[want], resolved[want]));
                if (!r && r.error().code == Errc::not_found) r = {};
                ++out.repaired;
            }
        } else if (it == have.end() || !same_route(*it->second, resolved[want])) {
            auto msg = rtnl::build_route_replace(resolved[want]);
            r = socket_.request(msg, what_of(ops[want], resolved[want]));
            ++out.repaired;
        }
        done[key] = r ? std::nullopt : std::optional<Error>(r.error());
        out.errors[i] = done[key];
    }
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
    std::vector<RouteOp> ops;
    ops.reserve(routes->size());
    for (const auto& route : *routes) {
        RouteOp op;
        op.remove = true;
        op.route.destination = route.destination;
        op.route.metric = route.metric;
        op.route.table = route.table;
        ops.push_back(std::move(op));
    }
    const RouteBatchOutcome done = apply(ops);
    std::size_t removed = 0;
    for (const auto& e : done.errors) {
        if (!e) {
            ++removed;
        } else if (e->code != Errc::not_found) {
            return std::unexpected(*e);
        }
    }
    return removed;
}

}  // namespace cgwd::dataplane
