// Netlink plumbing of the kernel backend (RFC 3549 describes the protocol; the message formats
// are Linux's: <linux/netlink.h>, <linux/xfrm.h>, <linux/rtnetlink.h>), on top of libmnl.
//
// NlMessage: one request message being built. Builders (xfrm_messages.hpp, rtnl_messages.hpp)
// fill it without any I/O, so unit tests decode exactly what would be sent. Its buffer is
// wiped on destruction because XFRM messages carry keys.
// NetlinkSocket: a libmnl socket that sends one request and collects the replies:
// request() waits for the acknowledgement, dump() for NLMSG_DONE. Kernel errors become Error
// values (EEXIST -> already_exists, ENOENT/ESRCH/ENODEV -> not_found, others -> system).
// for_each_attr / for_each_nested: attribute walkers over received messages.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/dataplane/error.hpp"

namespace cgwd::dataplane::nl {

class NlMessage {
  public:
    // A message of `type` with `flags` (NLM_F_REQUEST is always added) and a zeroed fixed
    // header of `extra` bytes; header() points at it.
    NlMessage(std::uint16_t type, std::uint16_t flags, std::size_t extra);
    NlMessage(const NlMessage&) = delete;
    NlMessage& operator=(const NlMessage&) = delete;
    NlMessage(NlMessage&& other) noexcept;
    NlMessage& operator=(NlMessage&& other) noexcept;
    ~NlMessage();

    nlmsghdr* nlh() { return nlh_; }
    const nlmsghdr* nlh() const { return nlh_; }
    void* header() { return mnl_nlmsg_get_payload(nlh_); }
    template <class T>
    T* header_as() {
        return static_cast<T*>(header());
    }

    void put(std::uint16_t type, std::span<const std::uint8_t> data);
    void put(std::uint16_t type, const void* data, std::size_t length);
    void put_u8(std::uint16_t type, std::uint8_t v) { mnl_attr_put_u8(nlh_, type, v); }
    void put_u16(std::uint16_t type, std::uint16_t v) { mnl_attr_put_u16(nlh_, type, v); }
    void put_u32(std::uint16_t type, std::uint32_t v) { mnl_attr_put_u32(nlh_, type, v); }
    void put_strz(std::uint16_t type, std::string_view s);
    // An attribute of `length` zeroed bytes whose payload the caller fills.
    void* put_zeroed(std::uint16_t type, std::size_t length);
    nlattr* nest_start(std::uint16_t type) { return mnl_attr_nest_start(nlh_, type); }
    void nest_end(nlattr* nest) { mnl_attr_nest_end(nlh_, nest); }

    std::span<const std::uint8_t> bytes() const;

  private:
    std::vector<std::uint8_t> buffer_;
    nlmsghdr* nlh_ = nullptr;
};

// Attribute payload views (no copies).
inline std::span<const std::uint8_t> payload(const nlattr* a) {
    return {static_cast<const std::uint8_t*>(mnl_attr_get_payload(a)), mnl_attr_get_payload_len(a)};
}
template <class T>
const T* payload_as(const nlattr* a) {  // nullptr when the attribute is too short
    if (mnl_attr_get_payload_len(a) < sizeof(T)) return nullptr;
    return static_cast<const T*>(mnl_attr_get_payload(a));
}
template <class T>
const T* header_as(const nlmsghdr* nlh) {  // nullptr when the message is too short
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(T))) return nullptr;
    return static_cast<const T*>(mnl_nlmsg_get_payload(nlh));
}

// Calls f(attr) for each top-level attribute after a fixed header of `offset` bytes.
void for_each_attr(const nlmsghdr* nlh, std::size_t offset,
                   const std::function<void(const nlattr*)>& f);
// Calls f(attr) for each attribute nested in `nest`.
void for_each_nested(const nlattr* nest, const std::function<void(const nlattr*)>& f);
// Attribute walk over a raw block of attributes (e.g. after an rtnexthop).
void for_each_in(const void* start, std::size_t length,
                 const std::function<void(const nlattr*)>& f);

// Messages in a received buffer, in order; false when the buffer is malformed.
bool for_each_message(std::span<const std::uint8_t> buffer,
                      const std::function<void(const nlmsghdr*)>& f);

std::unexpected<Error> errno_error(int err, std::string_view what);

class NetlinkSocket {
  public:
    using Handler = std::function<void(const nlmsghdr*)>;

    // bus: NETLINK_XFRM or NETLINK_ROUTE; groups: multicast group bit mask (0: none).
    [[nodiscard]] static std::expected<NetlinkSocket, Error> open(int bus, unsigned groups = 0,
                                                                  bool nonblocking = false);
    NetlinkSocket(NetlinkSocket&& other) noexcept;
    NetlinkSocket& operator=(NetlinkSocket&& other) noexcept;
    NetlinkSocket(const NetlinkSocket&) = delete;
    NetlinkSocket& operator=(const NetlinkSocket&) = delete;
    ~NetlinkSocket();

    // Sends `msg` with NLM_F_ACK; data replies go to `on_reply`; waits for the ack.
    [[nodiscard]] std::expected<void, Error> request(NlMessage& msg, std::string_view what,
                                                     const Handler& on_reply = {});
    // Sends a dump request (`msg` must carry NLM_F_DUMP) and calls f for every message.
    [[nodiscard]] std::expected<void, Error> dump(NlMessage& msg, std::string_view what,
                                                  const Handler& f);
    // Non-blocking receive of whatever multicast messages are queued.
    // Returns the number of messages handled.
    std::size_t drain(const Handler& f);

    // Batches (nl_batch.hpp): reserves `n` consecutive sequence numbers, returns the first.
    std::uint32_t reserve_sequences(std::size_t n);
    std::uint32_t portid() const;
    // Sends a buffer of requests in one sendmsg().
    [[nodiscard]] std::expected<void, Error> send(std::span<const std::uint8_t> bytes,
                                                  std::string_view what);
    // Blocking receive of one datagram into `buffer`; returns its size. When the socket's
    // receive buffer overran (messages were dropped) this fails once with Errc::system and
    // sys_errno ENOBUFS; what is still queued can be read afterwards.
    // wait = false: returns 0 at once when nothing is queued.
    [[nodiscard]] std::expected<std::size_t, Error> receive(std::span<std::uint8_t> buffer,
                                                            std::string_view what,
                                                            bool wait = true);
    // Drops every queued message (non-blocking); returns how many datagrams were dropped.
    std::size_t discard_pending();
    // SO_RCVBUFFORCE (CAP_NET_ADMIN may pass net.core.rmem_max), else SO_RCVBUF. The kernel
    // doubles the value and enforces a minimum of about 2 KiB.
    [[nodiscard]] std::expected<void, Error> set_receive_buffer(int bytes);
    // NETLINK_CAP_ACK: acknowledgements carry only the request's header, not the whole request.
    void set_cap_ack();

    int fd() const;

  private:
    explicit NetlinkSocket(mnl_socket* s) : socket_(s) {}
    [[nodiscard]] std::expected<void, Error> run(NlMessage& msg, std::string_view what,
                                                 const Handler& f);
    mnl_socket* socket_ = nullptr;
    std::uint32_t seq_ = 0;
};

}  // namespace cgwd::dataplane::nl
