#include "cgwd/dataplane/kernel.hpp"

#include "route_changes.hpp"

#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "cgwd/dataplane/rtnl_messages.hpp"

namespace cgwd::dataplane {

namespace {

std::unexpected<Error> fail(Errc code, std::string message) {
    return std::unexpected(Error{code, std::move(message), 0});
}

constexpr std::uint16_t min_tunnel_mtu = 576;
constexpr std::uint16_t max_tunnel_mtu = 9000;

std::string spi_text(std::uint32_t spi) {
    std::array<char, 16> b{};
    std::snprintf(b.data(), b.size(), "0x%08x", spi);
    return b.data();
}

std::pair<std::uint32_t, std::uint32_t> sa_index(const SaKey& k) {
    return {k.spi, k.dst.value};
}

}  // namespace

KernelDataplane::KernelDataplane(Options options, nl::NetlinkSocket xfrm, nl::NetlinkSocket rtnl,
                                 nl::NetlinkSocket expiry, KernelRoutes routes)
    : options_(std::move(options)),
      xfrm_(std::move(xfrm)),
      rtnl_(std::move(rtnl)),
      expiry_(std::move(expiry)),
      routes_(std::move(routes)) {}

std::expected<std::unique_ptr<KernelDataplane>, Error> KernelDataplane::create(Options options) {
    if (options.if_id_min == 0 || options.if_id_min > options.if_id_max)
        return fail(Errc::invalid_argument, "if_id range must be nonzero and ordered");
    if (options.name_prefix.size() >= IFNAMSIZ)
        return fail(Errc::invalid_argument, "interface name prefix too long");
    std::uint32_t underlying = 0;
    if (!options.underlying_interface.empty()) {
        underlying = ::if_nametoindex(options.underlying_interface.c_str());
        if (underlying == 0)
            return std::unexpected(Error{
                Errc::not_found, "no such interface: " + options.underlying_interface, ENODEV});
    }
    auto xfrm = nl::NetlinkSocket::open(NETLINK_XFRM);
    if (!xfrm) return std::unexpected(xfrm.error());
    auto rtnl = nl::NetlinkSocket::open(NETLINK_ROUTE);
    if (!rtnl) return std::unexpected(rtnl.error());
    auto expiry = nl::NetlinkSocket::open(NETLINK_XFRM, 1U << (XFRMNLGRP_EXPIRE - 1), true);
    if (!expiry) return std::unexpected(expiry.error());
    auto routes = KernelRoutes::open(options.routes);
    if (!routes) return std::unexpected(routes.error());
    std::unique_ptr<KernelDataplane> dp(new KernelDataplane(std::move(options), std::move(*xfrm),
                                                            std::move(*rtnl), std::move(*expiry),
                                                            std::move(*routes)));
    dp->underlying_ifindex_ = underlying;
    return dp;
}

KernelDataplane::~KernelDataplane() {
    (void)shutdown();
}

bool KernelDataplane::owns_mark(const std::optional<xfrm::Mark>& mark) const {
    if (!options_.mark) return true;
    return mark && *mark == *options_.mark;
}

std::optional<std::string> KernelDataplane::tunnel_name(std::uint32_t if_id) const {
    auto it = tunnels_.find(if_id);
    if (it == tunnels_.end()) return std::nullopt;
    return it->second.name;
}

// ---- SAs ----

std::expected<void, Error> KernelDataplane::add_sa(const SaConfig& sa) {
    if (auto v = validate(sa); !v) return v;
    if (!owns_if_id(sa.if_id)) return fail(Errc::invalid_argument, "SA if_id outside our range");
    auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, options_.mark);
    if (!msg) return std::unexpected(msg.error());
    if (auto r = xfrm_.request(*msg, "add SA " + spi_text(sa.spi)); !r) return r;
    sas_[sa_index(sa.key())] = SaRecord{sa.direction, sa.if_id};
    return {};
}

std::expected<void, Error> KernelDataplane::update_sa(const SaConfig& sa) {
    if (auto v = validate(sa); !v) return v;
    if (!owns_if_id(sa.if_id)) return fail(Errc::invalid_argument, "SA if_id outside our range");
    auto msg = xfrm::build_sa(XFRM_MSG_UPDSA, sa, options_.mark);
    if (!msg) return std::unexpected(msg.error());
    if (auto r = xfrm_.request(*msg, "update SA " + spi_text(sa.spi)); !r) return r;
    sas_[sa_index(sa.key())] = SaRecord{sa.direction, sa.if_id};
    return {};
}

std::expected<void, Error> KernelDataplane::del_sa(const SaKey& key) {
    auto msg = xfrm::build_sa_id(XFRM_MSG_DELSA, key, options_.mark);
    auto r = xfrm_.request(msg, "delete SA " + spi_text(key.spi));
    if (r || r.error().code == Errc::not_found) sas_.erase(sa_index(key));
    return r;
}

std::expected<SaStats, Error> KernelDataplane::query_sa(const SaKey& key) {
    auto msg = xfrm::build_sa_id(XFRM_MSG_GETSA, key, options_.mark);
    std::optional<xfrm::SaInfo> info;
    auto r = xfrm_.request(msg, "query SA " + spi_text(key.spi),
                           [&](const nlmsghdr* nlh) { info = xfrm::parse_sa(nlh); });
    if (!r) return std::unexpected(r.error());
    if (!info) return fail(Errc::system, "query SA: no usable reply");
    return info->stats;
}

// ---- policies ----

std::expected<void, Error> KernelDataplane::add_policy(const Policy& policy) {
    if (!owns_if_id(policy.if_id))
        return fail(Errc::invalid_argument, "policy if_id outside our range");
    auto msg = xfrm::build_policy(policy, options_.mark);
    if (auto r = xfrm_.request(msg, "add policy"); !r) return r;
    policies_.push_back(key_of(policy));
    return {};
}

std::expected<void, Error> KernelDataplane::del_policy(const PolicyKey& key) {
    auto msg = xfrm::build_policy_delete(key, options_.mark);
    auto r = xfrm_.request(msg, "delete policy");
    if (r || r.error().code == Errc::not_found) std::erase(policies_, key);
    return r;
}

// ---- tunnels ----

std::expected<void, Error> KernelDataplane::create_tunnel(const TunnelInterface& t) {
    if (!owns_if_id(t.if_id)) return fail(Errc::invalid_argument, "if_id outside our range");
    if (t.name.size() >= IFNAMSIZ || !t.name.starts_with(options_.name_prefix))
        return fail(Errc::invalid_argument,
                    "interface name must start with " + options_.name_prefix + " and be short");
    if (t.mtu < min_tunnel_mtu || t.mtu > max_tunnel_mtu)
        return fail(Errc::invalid_argument, "tunnel MTU must be 576..9000");
    if (t.prefix_length > 32) return fail(Errc::invalid_argument, "prefix length above 32");
    if (tunnels_.contains(t.if_id)) return fail(Errc::already_exists, "tunnel exists");

    auto create = rtnl::build_xfrm_link({t.name, t.if_id, underlying_ifindex_, t.mtu});
    if (auto r = rtnl_.request(create, "create interface " + t.name); !r) return r;
    const std::uint32_t ifindex = ::if_nametoindex(t.name.c_str());
    auto undo = [&](Error e) -> std::expected<void, Error> {
        if (ifindex != 0) {
            auto del = rtnl::build_link_delete(ifindex);
            (void)rtnl_.request(del, "delete interface " + t.name);
        }
        return std::unexpected(std::move(e));
    };
    if (ifindex == 0) return undo(Error{Errc::system, "interface vanished: " + t.name, ENODEV});
    if (t.local_inside.value != 0) {
        auto addr = rtnl::build_address(ifindex, t.local_inside, t.prefix_length);
        if (auto r = rtnl_.request(addr, "address on " + t.name); !r) return undo(r.error());
    }
    auto up = rtnl::build_link_up(ifindex);
    if (auto r = rtnl_.request(up, "set " + t.name + " up"); !r) return undo(r.error());
    tunnels_[t.if_id] = TunnelRecord{t.name, ifindex};
    return {};
}

std::expected<void, Error> KernelDataplane::delete_tunnel(std::uint32_t if_id) {
    auto it = tunnels_.find(if_id);
    if (it == tunnels_.end()) return fail(Errc::not_found, "no such tunnel");
    const std::string name = it->second.name;
    if (mss_.clamps().contains(name)) {
        if (auto r = mss_.set(name, 0); !r) return r;
    }
    auto del = rtnl::build_link_delete(it->second.ifindex);
    auto r = rtnl_.request(del, "delete interface " + name);
    if (r || r.error().code == Errc::not_found) tunnels_.erase(it);
    return r;  // the kernel drops the routes through the interface with it
}

// ---- routes ----

std::expected<RouteSpec, Error> KernelDataplane::route_spec(const Route& route) const {
    return detail::route_spec(route, [this](std::uint32_t if_id, RouteHop& hop) {
        auto t = tunnels_.find(if_id);
        if (t == tunnels_.end()) return false;
        hop.ifindex = t->second.ifindex;
        return true;
    });
}

std::expected<void, Error> KernelDataplane::add_route(const Route& route) {
    auto spec = route_spec(route);
    if (!spec) return std::unexpected(spec.error());
    if (auto r = routes_.replace(*spec); !r) return r;
    route_keys_.insert(route.key());
    return {};
}

std::expected<void, Error> KernelDataplane::del_route(const RouteKey& key) {
    auto r = routes_.remove(key.destination, key.metric, key.table);
    if (r || r.error().code == Errc::not_found) route_keys_.erase(key);
    return r;
}

RouteBatchResult KernelDataplane::apply_routes(std::span<const RouteChange> changes) {
    return detail::apply_changes(
        changes, [this](const Route& r) { return route_spec(r); },
        [this](std::span<const RouteOp> ops) { return routes_.apply(ops); },
        [this](const RouteChange& c, const std::optional<Error>& e) {
            if (c.kind == RouteChange::Kind::add && !e) route_keys_.insert(c.route.key());
            if (c.kind == RouteChange::Kind::remove && (!e || e->code == Errc::not_found))
                route_keys_.erase(c.key);
        });
}

// ---- MSS ----

std::expected<void, Error> KernelDataplane::set_mss_clamp(std::uint32_t if_id, std::uint16_t mss) {
    auto it = tunnels_.find(if_id);
    if (it == tunnels_.end()) return fail(Errc::not_found, "no such tunnel");
    return mss_.set(it->second.name, mss);
}

// ---- expiry ----

std::size_t KernelDataplane::process_expiry_events() {
    std::vector<ExpiryEvent> events;
    expiry_.drain([&](const nlmsghdr* nlh) {
        auto e = xfrm::parse_expire(nlh);
        if (!e || !owns_if_id(e->sa.if_id) || !owns_mark(e->sa.mark)) return;
        auto it = sas_.find(sa_index(e->sa.key));
        if (it == sas_.end()) return;  // not one of this instance's SAs
        events.push_back(ExpiryEvent{e->sa.key, it->second.direction, e->kind, e->cause});
        if (e->kind == ExpiryKind::hard) sas_.erase(it);  // the kernel deleted it
    });
    // Delivered after reading: the handler may call back into us (del_sa, add_sa).
    if (handler_)
        for (const ExpiryEvent& e : events) handler_(e);
    return handler_ ? events.size() : 0;
}

// ---- cleanup ----

std::expected<KernelDataplane::Cleanup, Error> KernelDataplane::cleanup_leftovers() {
    Cleanup done;
    // XFRM interfaces of ours, and the if_ids they carry.
    std::vector<std::uint32_t> links;
    {
        auto dump = rtnl::build_link_dump();
        auto r = rtnl_.dump(dump, "dump links", [&](const nlmsghdr* nlh) {
            auto link = rtnl::parse_link(nlh);
            // Ours: an XFRM interface with an if_id in our range (and our name prefix, if any).
            if (link && link->kind == "xfrm" && owns_if_id(link->xfrm_if_id) &&
                link->name.starts_with(options_.name_prefix))
                links.push_back(link->ifindex);
        });
        if (!r) return std::unexpected(r.error());
    }
    // Routes first (they may point at the interfaces), then the MSS table.
    auto routes = routes_.flush_protocol();
    if (!routes) return std::unexpected(routes.error());
    done.routes = *routes;
    if (auto r = mss_.remove_table(); !r) return std::unexpected(r.error());

    std::vector<PolicyKey> policies;
    {
        auto dump = xfrm::build_policy_dump();
        auto r = xfrm_.dump(dump, "dump policies", [&](const nlmsghdr* nlh) {
            auto p = xfrm::parse_policy(nlh);
            if (p && owns_if_id(p->key.if_id) && owns_mark(p->mark)) policies.push_back(p->key);
        });
        if (!r) return std::unexpected(r.error());
    }
    for (const PolicyKey& k : policies) {
        auto msg = xfrm::build_policy_delete(k, options_.mark);
        auto r = xfrm_.request(msg, "delete policy");
        if (!r && r.error().code != Errc::not_found) return std::unexpected(r.error());
        if (r) ++done.policies;
    }
    std::vector<SaKey> sas;
    {
        auto dump = xfrm::build_sa_dump();
        auto r = xfrm_.dump(dump, "dump SAs", [&](const nlmsghdr* nlh) {
            auto sa = xfrm::parse_sa(nlh);
            if (sa && owns_if_id(sa->if_id) && owns_mark(sa->mark)) sas.push_back(sa->key);
        });
        if (!r) return std::unexpected(r.error());
    }
    for (const SaKey& k : sas) {
        auto msg = xfrm::build_sa_id(XFRM_MSG_DELSA, k, options_.mark);
        auto r = xfrm_.request(msg, "delete SA " + spi_text(k.spi));
        if (!r && r.error().code != Errc::not_found) return std::unexpected(r.error());
        if (r) ++done.sas;
    }
    for (std::uint32_t ifindex : links) {
        auto msg = rtnl::build_link_delete(ifindex);
        auto r = rtnl_.request(msg, "delete interface");
        if (!r && r.error().code != Errc::not_found) return std::unexpected(r.error());
        if (r) ++done.interfaces;
    }
    sas_.clear();
    policies_.clear();
    tunnels_.clear();
    route_keys_.clear();
    return done;
}

std::expected<void, Error> KernelDataplane::shutdown() {
    std::optional<Error> first;
    auto note = [&](const std::expected<void, Error>& r) {
        if (!r && r.error().code != Errc::not_found && !first) first = r.error();
    };
    if (!route_keys_.empty()) {
        std::vector<RouteChange> removals;
        removals.reserve(route_keys_.size());
        for (const RouteKey& k : route_keys_) removals.push_back(RouteChange::remove(k));
        const RouteBatchResult done = apply_routes(removals);
        for (const auto& e : done.errors)
            if (e) note(std::unexpected(*e));
    }
    route_keys_.clear();
    if (!mss_.empty()) note(mss_.remove_table());
    for (const PolicyKey& k : std::vector<PolicyKey>(policies_)) note(del_policy(k));
    policies_.clear();
    std::vector<SaKey> sas;
    for (const auto& [index, rec] : sas_) sas.push_back(SaKey{index.first, {index.second}});
    for (const SaKey& k : sas) note(del_sa(k));
    sas_.clear();
    std::vector<std::uint32_t> ids;
    for (const auto& [id, rec] : tunnels_) ids.push_back(id);
    for (std::uint32_t id : ids) note(delete_tunnel(id));
    tunnels_.clear();
    if (first) return std::unexpected(*first);
    return {};
}

// ---- probe ----

KernelSupport probe_kernel() {
    KernelSupport s;
    auto xfrm_sock = nl::NetlinkSocket::open(NETLINK_XFRM);
    auto rtnl_sock = nl::NetlinkSocket::open(NETLINK_ROUTE);
    if (!xfrm_sock || !rtnl_sock) {
        s.detail = "no netlink socket";
        return s;
    }
    const auto test_net = *config::Ipv4Address::parse("192.0.2.255");
    const auto test_src = *config::Ipv4Address::parse("192.0.2.254");
    auto try_sa = [&](std::uint32_t spi, bool gcm) {
        SaConfig sa;
        sa.direction = Direction::inbound;
        sa.spi = spi;
        sa.src = test_src;
        sa.dst = test_net;
        sa.replay_window = 64;
        std::array<std::uint8_t, 36> key{};
        key.fill(0x5a);
        if (gcm) {
            sa.cipher = config::Cipher{config::encr::aes_gcm_16, 256};
            sa.enc_key = KeyBytes(std::span(key.data(), 36));
        } else {
            sa.cipher = config::Cipher{config::encr::aes_cbc, 128};
            sa.integ = config::integ::hmac_sha2_256_128;
            sa.enc_key = KeyBytes(std::span(key.data(), 16));
            sa.integ_key = KeyBytes(std::span(key.data(), 32));
        }
        auto msg = xfrm::build_sa(XFRM_MSG_NEWSA, sa, std::nullopt);
        if (!msg) return false;
        auto r = xfrm_sock->request(*msg, gcm ? "probe ESP GCM SA" : "probe ESP CBC SA");
        if (!r && r.error().code != Errc::already_exists) {
            s.detail += r.error().message + "; ";
            return false;
        }
        auto del = xfrm::build_sa_id(XFRM_MSG_DELSA, sa.key(), std::nullopt);
        (void)xfrm_sock->request(del, "delete probe SA");
        return true;
    };
    s.esp_cbc = try_sa(0x6367fff0, false);
    s.esp_gcm = try_sa(0x6367fff1, true);

    const std::string name = "cgwdprobe" + std::to_string(::getpid() % 100000);
    auto link = rtnl::build_xfrm_link({name, default_if_id_max, 0, 0});
    if (auto r = rtnl_sock->request(link, "probe XFRM interface"); r) {
        s.xfrm_interface = true;
        if (const std::uint32_t ifindex = ::if_nametoindex(name.c_str()); ifindex != 0) {
            auto del = rtnl::build_link_delete(ifindex);
            (void)rtnl_sock->request(del, "delete probe interface");
        }
    } else {
        s.detail += r.error().message;
    }
    return s;
}

bool kernel_has_esp() {
    return probe_kernel().complete();
}

}  // namespace cgwd::dataplane
