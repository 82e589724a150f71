#include "cgwd/dataplane/links.hpp"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>

namespace cgwd::dataplane {

namespace {

std::unexpected<Error> fail(Errc code, std::string message) {
    return std::unexpected(Error{code, std::move(message), 0});
}

bool safe_name(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

class SocketTransport final : public LinkTransport {
  public:
    explicit SocketTransport(nl::NetlinkSocket socket) : socket_(std::move(socket)) {}
    std::expected<void, Error> request(nl::NlMessage& msg, std::string_view what,
                                       const nl::NetlinkSocket::Handler& on_reply) override {
        return socket_.request(msg, what, on_reply);
    }
    std::expected<void, Error> dump(nl::NlMessage& msg, std::string_view what,
                                    const nl::NetlinkSocket::Handler& f) override {
        return socket_.dump(msg, what, f);
    }

  private:
    nl::NetlinkSocket socket_;
};

}  // namespace

std::expected<KernelLinks, Error> KernelLinks::open() {
    auto socket = nl::NetlinkSocket::open(NETLINK_ROUTE);
    if (!socket) return std::unexpected(socket.error());
    return KernelLinks(std::make_unique<SocketTransport>(std::move(*socket)));
}

std::expected<std::optional<rtnl::LinkInfo>, Error> KernelLinks::link(const std::string& name) {
    if (!safe_name(name)) return fail(Errc::invalid_argument, "bad interface name");
    auto msg = rtnl::build_link_get(name);
    std::optional<rtnl::LinkInfo> found;
    auto r = transport_->request(msg, "get link " + name, [&](const nlmsghdr* nlh) {
        if (auto l = rtnl::parse_link(nlh); l && l->name == name) found = std::move(*l);
    });
    if (!r) {
        if (r.error().code == Errc::not_found) return std::optional<rtnl::LinkInfo>{};
        return std::unexpected(r.error());
    }
    return found;
}

std::expected<std::uint32_t, Error> KernelLinks::ifindex_of(const std::string& name) {
    auto l = link(name);
    if (!l) return std::unexpected(l.error());
    if (!*l) return std::unexpected(Error{Errc::not_found, "no such interface: " + name, ENODEV});
    return (*l)->ifindex;
}

std::expected<std::vector<rtnl::AddressInfo>, Error> KernelLinks::addresses(std::uint32_t ifindex) {
    std::vector<rtnl::AddressInfo> out;
    auto msg = rtnl::build_address_dump();
    auto r = transport_->dump(msg, "dump addresses", [&](const nlmsghdr* nlh) {
        if (auto a = rtnl::parse_address(nlh); a && a->ifindex == ifindex) out.push_back(*a);
    });
    if (!r) return std::unexpected(r.error());
    return out;
}

std::expected<std::uint32_t, Error> KernelLinks::create_vlan(const VlanSpec& spec) {
    if (!safe_name(spec.parent)) return fail(Errc::invalid_argument, "bad parent interface name");
    if (spec.vlan_id < 1 || spec.vlan_id > 4094)
        return fail(Errc::invalid_argument, "VLAN id must be 1..4094");
    if (spec.mtu != 0 && spec.mtu < 68) return fail(Errc::invalid_argument, "MTU below 68");
    if (spec.address && spec.prefix_length > spec.address->max_length())
        return fail(Errc::invalid_argument,
                    spec.address->is_v6() ? "prefix length above 128" : "prefix length above 32");
    const std::string name = spec.name();
    if (name.size() >= IFNAMSIZ)
        return fail(Errc::invalid_argument, "VLAN interface name too long: " + name);

    auto parent = ifindex_of(spec.parent);
    if (!parent) return std::unexpected(parent.error());
    auto existing = link(name);
    if (!existing) return std::unexpected(existing.error());

    bool created = false;
    std::uint32_t ifindex = 0;
    bool added_address = false;
    // Undoes this call's steps, newest first, and returns `e`.
    auto undo = [&](Error e) -> std::expected<std::uint32_t, Error> {
        if (created && ifindex != 0) {
            auto del = rtnl::build_link_delete(ifindex);
            (void)transport_->request(del, "delete interface " + name, {});
        } else if (added_address) {
            auto del = rtnl::build_address_delete(ifindex, *spec.address, spec.prefix_length);
            (void)transport_->request(del, "delete address on " + name, {});
        }
        return std::unexpected(std::move(e));
    };

    bool up = false;
    if (*existing) {
        const rtnl::LinkInfo& l = **existing;
        if (l.kind != "vlan" || l.parent_ifindex != *parent || l.vlan_id != spec.vlan_id)
            return fail(Errc::already_exists, name + " exists and is not VLAN " +
                                                  std::to_string(spec.vlan_id) + " on " +
                                                  spec.parent);
        if (spec.mtu != 0 && l.mtu != spec.mtu)
            return fail(Errc::already_exists, name + " exists with MTU " + std::to_string(l.mtu) +
                                                  ", not " + std::to_string(spec.mtu));
        ifindex = l.ifindex;
        up = l.up;
    } else {
        auto msg = rtnl::build_vlan_link({name, *parent, spec.vlan_id, spec.mtu});
        if (auto r = transport_->request(msg, "create interface " + name, {}); !r)
            return std::unexpected(r.error());
        created = true;
        auto index = ifindex_of(name);
        if (!index) return undo(index.error());
        ifindex = *index;
    }

    if (spec.address) {
        bool present = false;
        if (!created) {
            auto addrs = addresses(ifindex);
            if (!addrs) return undo(addrs.error());
            const rtnl::AddressInfo want{ifindex, *spec.address, spec.prefix_length};
            present = std::find(addrs->begin(), addrs->end(), want) != addrs->end();
        }
        if (!present) {
            auto msg = rtnl::build_address(ifindex, *spec.address, spec.prefix_length);
            if (auto r = transport_->request(msg, "address on " + name, {}); !r)
                return undo(r.error());
            added_address = true;
        }
    }
    if (!up) {
        auto msg = rtnl::build_link_up(ifindex);
        if (auto r = transport_->request(msg, "set " + name + " up", {}); !r)
            return undo(r.error());
    }
    return ifindex;
}

std::expected<void, Error> KernelLinks::delete_vlan(const std::string& name) {
    auto l = link(name);
    if (!l) return std::unexpected(l.error());
    if (!*l) return std::unexpected(Error{Errc::not_found, "no such interface: " + name, ENODEV});
    if ((*l)->kind != "vlan") return fail(Errc::invalid_argument, name + " is not a VLAN");
    auto msg = rtnl::build_link_delete((*l)->ifindex);
    return transport_->request(msg, "delete interface " + name, {});
}

}  // namespace cgwd::dataplane
