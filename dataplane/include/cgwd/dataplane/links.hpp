// KernelLinks: the Direct Connect VLAN interfaces of the daemon, over rtnetlink (messages in
// rtnl_messages.hpp; Linux UAPI <linux/if_link.h>, 802.1Q tagging = IEEE 802.1Q).
//
// create_vlan() makes `<parent>.<vlan>` in three steps:
//   1. RTM_NEWLINK kind "vlan" (IFLA_LINK = parent ifindex, IFLA_VLAN_ID, IFLA_MTU), create+excl
//   2. RTM_NEWADDR address/prefix (when one is given), IPv4 or IPv6; an IPv6 one with
//      IFA_F_NODAD, so it is never "tentative" and BGP can bind to it at once
//   3. link up
// A failed step undoes the earlier ones of the same call (the new interface is deleted again;
// on an existing interface, an address this call added is removed). It is idempotent: when the
// interface exists as a VLAN with the same parent, id and MTU, only what is missing (the
// address, the up flag) is added; an interface of that name with other settings is refused
// (already_exists) and left alone. Addresses accumulate: a Direct Connect virtual interface
// has an IPv4 and an IPv6 BGP session on the same VLAN, and the daemon calls create_vlan once
// per session, so a second call with the other family's address adds it next to the first
// (an address already there is never removed). delete_vlan() removes a VLAN interface
// (refuses any other kind). ifindex_of() looks a link up by name over the same netlink socket
// (RTM_GETLINK), so it sees the socket's network namespace.
//
// Netlink goes through a LinkTransport: the real one is a NetlinkSocket (open()); unit tests
// pass a scripted one and decode every message the sequence sends.
// Not thread-safe: one thread (the daemon's loop) makes every call.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cgwd/config/net.hpp"
#include "cgwd/dataplane/error.hpp"
#include "cgwd/dataplane/netlink.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"

namespace cgwd::dataplane {

class LinkTransport {
  public:
    virtual ~LinkTransport() = default;
    // As NetlinkSocket::request / dump.
    [[nodiscard]] virtual std::expected<void, Error> request(
        nl::NlMessage& msg, std::string_view what, const nl::NetlinkSocket::Handler& on_reply) = 0;
    [[nodiscard]] virtual std::expected<void, Error> dump(nl::NlMessage& msg, std::string_view what,
                                                          const nl::NetlinkSocket::Handler& f) = 0;
};

struct VlanSpec {
    std::string parent;         // the physical (or veth) interface
    std::uint16_t vlan_id = 0;  // 1..4094
    std::uint16_t mtu = 1500;
    std::optional<config::IpAddress> address;  // nullopt: no address is added
    std::uint8_t prefix_length = 30;           // of `address` (e.g. 30 IPv4, 125 IPv6)
    // "<parent>.<vlan_id>"
    std::string name() const { return parent + "." + std::to_string(vlan_id); }
};

class KernelLinks {
  public:
    // A NETLINK_ROUTE socket in the caller's network namespace.
    [[nodiscard]] static std::expected<KernelLinks, Error> open();
    explicit KernelLinks(std::unique_ptr<LinkTransport> transport)
        : transport_(std::move(transport)) {}

    // Creates (or finds, see the header comment) the VLAN interface; returns its ifindex.
    [[nodiscard]] std::expected<std::uint32_t, Error> create_vlan(const VlanSpec& spec);
    // Deletes the VLAN interface `name` (not_found when there is none; invalid_argument when
    // `name` is not a VLAN interface).
    [[nodiscard]] std::expected<void, Error> delete_vlan(const std::string& name);
    // The interface's index (not_found when there is none).
    [[nodiscard]] std::expected<std::uint32_t, Error> ifindex_of(const std::string& name);
    // The interface as the kernel reports it (nullopt: none).
    [[nodiscard]] std::expected<std::optional<rtnl::LinkInfo>, Error> link(const std::string& name);
    // The addresses on `ifindex`, IPv4 and IPv6 (the kernel's own IPv6 link-local included).
    [[nodiscard]] std::expected<std::vector<rtnl::AddressInfo>, Error> addresses(
        std::uint32_t ifindex);

  private:
    std::unique_ptr<LinkTransport> transport_;
};

}  // namespace cgwd::dataplane
