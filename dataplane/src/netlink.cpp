#include "cgwd/dataplane/netlink.hpp"

#include <openssl/crypto.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace cgwd::dataplane::nl {

namespace {
// Large enough for every request we build (the largest is an SA: ~600 bytes).
constexpr std::size_t build_size = 4096;
// Dumps arrive in chunks of up to a page or more; 32 KiB is what the kernel may use.
constexpr std::size_t receive_size = 32768;
}  // namespace

NlMessage::NlMessage(std::uint16_t type, std::uint16_t flags, std::size_t extra)
    : buffer_(build_size) {
    nlh_ = mnl_nlmsg_put_header(buffer_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
    if (extra > 0) mnl_nlmsg_put_extra_header(nlh_, extra);
}

NlMessage::NlMessage(NlMessage&& other) noexcept
    : buffer_(std::move(other.buffer_)), nlh_(std::exchange(other.nlh_, nullptr)) {}

NlMessage& NlMessage::operator=(NlMessage&& other) noexcept {
    if (this != &other) {
        if (!buffer_.empty()) OPENSSL_cleanse(buffer_.data(), buffer_.size());
        buffer_ = std::move(other.buffer_);
        nlh_ = std::exchange(other.nlh_, nullptr);
    }
    return *this;
}

NlMessage::~NlMessage() {
    if (!buffer_.empty()) OPENSSL_cleanse(buffer_.data(), buffer_.size());
}

void NlMessage::put(std::uint16_t type, std::span<const std::uint8_t> data) {
    mnl_attr_put(nlh_, type, data.size(), data.data());
}

void NlMessage::put(std::uint16_t type, const void* data, std::size_t length) {
    mnl_attr_put(nlh_, type, length, data);
}

void NlMessage::put_strz(std::uint16_t type, std::string_view s) {
    const std::string copy(s);
    mnl_attr_put_strz(nlh_, type, copy.c_str());
}

void* NlMessage::put_zeroed(std::uint16_t type, std::size_t length) {
    auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh_));
    const std::vector<std::uint8_t> zeros(length);
    mnl_attr_put(nlh_, type, length, zeros.data());
    return mnl_attr_get_payload(attr);
}

std::span<const std::uint8_t> NlMessage::bytes() const {
    return {buffer_.data(), nlh_->nlmsg_len};
}

void for_each_in(const void* start, std::size_t length,
                 const std::function<void(const nlattr*)>& f) {
    const auto* p = static_cast<const std::uint8_t*>(start);
    const auto* end = p + length;
    while (p < end) {
        const auto* attr = static_cast<const nlattr*>(static_cast<const void*>(p));
        const auto remaining = static_cast<int>(end - p);
        if (!mnl_attr_ok(attr, remaining)) return;
        f(attr);
        p += MNL_ALIGN(attr->nla_len);
    }
}

void for_each_attr(const nlmsghdr* nlh, std::size_t offset,
                   const std::function<void(const nlattr*)>& f) {
    const std::size_t header = MNL_ALIGN(offset);
    const std::size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
    if (payload_len < header) return;
    const auto* start = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh)) + header;
    for_each_in(start, payload_len - header, f);
}

void for_each_nested(const nlattr* nest, const std::function<void(const nlattr*)>& f) {
    for_each_in(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

namespace {
// Calls f(nlh) on 8-byte aligned memory. Netlink aligns messages to 4 bytes only (NLMSG_ALIGN),
// while the XFRM family headers hold 64-bit fields (xfrm_usersa_info, xfrm_userpolicy_info):
// a message that follows one whose length is 4 mod 8 is handed over as an aligned copy,
// wiped afterwards (GETSA replies carry keys).
void call_aligned(const nlmsghdr* nlh, const std::function<void(const nlmsghdr*)>& f) {
    if (reinterpret_cast<std::uintptr_t>(nlh) % alignof(std::uint64_t) == 0) {
        f(nlh);
        return;
    }
    std::vector<std::uint64_t> copy((nlh->nlmsg_len + 7) / 8);
    std::memcpy(copy.data(), nlh, nlh->nlmsg_len);
    f(static_cast<const nlmsghdr*>(static_cast<const void*>(copy.data())));
    OPENSSL_cleanse(copy.data(), copy.size() * sizeof(std::uint64_t));
}
}  // namespace

bool for_each_message(std::span<const std::uint8_t> buffer,
                      const std::function<void(const nlmsghdr*)>& f) {
    const std::uint8_t* p = buffer.data();
    auto remaining = static_cast<int>(buffer.size());
    while (remaining > 0) {
        const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(p));
        // mnl_nlmsg_ok compares (int)nlmsg_len, so a length of 2^31 or more passes it: the
        // unsigned comparison keeps such a message from overrunning the buffer.
        if (!mnl_nlmsg_ok(nlh, remaining) || nlh->nlmsg_len > static_cast<std::uint32_t>(remaining))
            return false;
        call_aligned(nlh, f);
        const auto step = static_cast<int>(MNL_ALIGN(nlh->nlmsg_len));
        p += step;
        remaining -= step;
    }
    return true;
}

std::unexpected<Error> errno_error(int err, std::string_view what) {
    std::string message = std::string(what) + ": " + std::strerror(err);
    switch (err) {
        case EEXIST:
            return std::unexpected(Error{Errc::already_exists, std::move(message), err});
        case ENOENT:
        case ESRCH:
        case ENODEV:
            return std::unexpected(Error{Errc::not_found, std::move(message), err});
        default:
            return std::unexpected(Error{Errc::system, std::move(message), err});
    }
}

std::expected<NetlinkSocket, Error> NetlinkSocket::open(int bus, unsigned groups,
                                                        bool nonblocking) {
    mnl_socket* s = mnl_socket_open2(bus, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
    if (s == nullptr) return errno_error(errno, "netlink socket");
    NetlinkSocket sock(s);
    if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0)
        return errno_error(errno, "netlink bind");
    // Extended acks give the kernel's reason for a refusal; harmless when unsupported.
    int one = 1;
    (void)mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
    return sock;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)), seq_(other.seq_) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& other) noexcept {
    if (this != &other) {
        if (socket_ != nullptr) mnl_socket_close(socket_);
        socket_ = std::exchange(other.socket_, nullptr);
        seq_ = other.seq_;
    }
    return *this;
}

NetlinkSocket::~NetlinkSocket() {
    if (socket_ != nullptr) mnl_socket_close(socket_);
}

int NetlinkSocket::fd() const {
    return mnl_socket_get_fd(socket_);
}

namespace {
int trampoline(const nlmsghdr* nlh, void* data) {
    const auto* f = static_cast<const NetlinkSocket::Handler*>(data);
    if (*f) call_aligned(nlh, *f);
    return MNL_CB_OK;
}
}  // namespace

std::expected<void, Error> NetlinkSocket::run(NlMessage& msg, std::string_view what,
                                              const Handler& f) {
    nlmsghdr* nlh = msg.nlh();
    nlh->nlmsg_seq = ++seq_;
    nlh->nlmsg_pid = 0;
    if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return errno_error(errno, what);
    const unsigned portid = mnl_socket_get_portid(socket_);
    std::vector<std::uint8_t> buffer(receive_size);
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, what);
        }
        const int r = mnl_cb_run(buffer.data(), static_cast<std::size_t>(n), nlh->nlmsg_seq, portid,
                                 trampoline, const_cast<Handler*>(&f));
        if (r < 0) {
            // A stale reply of an earlier request (ESRCH from mnl's sequence check) cannot
            // happen: requests are strictly one at a time on this socket.
            const int err = errno;
            OPENSSL_cleanse(buffer.data(), buffer.size());
            return errno_error(err, what);
        }
        if (r == MNL_CB_STOP) break;
    }
    OPENSSL_cleanse(buffer.data(), buffer.size());  // replies to GETSA carry keys
    return {};
}

std::expected<void, Error> NetlinkSocket::request(NlMessage& msg, std::string_view what,
                                                  const Handler& on_reply) {
    msg.nlh()->nlmsg_flags |= NLM_F_ACK;
    return run(msg, what, on_reply);
}

std::expected<void, Error> NetlinkSocket::dump(NlMessage& msg, std::string_view what,
                                               const Handler& f) {
    return run(msg, what, f);
}

std::size_t NetlinkSocket::drain(const Handler& f) {
    std::vector<std::uint8_t> buffer(receive_size);
    std::size_t count = 0;
    for (;;) {
        const ssize_t n = ::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;  // EAGAIN: nothing more queued (ENOBUFS: overrun, the next read resumes)
        }
        if (n == 0) break;
        for_each_message({buffer.data(), static_cast<std::size_t>(n)}, [&](const nlmsghdr* nlh) {
            if (nlh->nlmsg_type < NLMSG_MIN_TYPE) return;
            ++count;
            f(nlh);
        });
    }
    return count;
}

std::uint32_t NetlinkSocket::reserve_sequences(std::size_t n) {
    const std::uint32_t first = seq_ + 1;
    seq_ += static_cast<std::uint32_t>(n);
    return first;
}

std::uint32_t NetlinkSocket::portid() const {
    return mnl_socket_get_portid(socket_);
}

std::expected<void, Error> NetlinkSocket::send(std::span<const std::uint8_t> bytes,
                                               std::string_view what) {
    const ssize_t n = mnl_socket_sendto(socket_, bytes.data(), bytes.size());
    if (n < 0) return errno_error(errno, what);
    if (static_cast<std::size_t>(n) != bytes.size())
        return std::unexpected(Error{Errc::system, std::string(what) + ": short send", EIO});
    return {};
}

std::expected<std::size_t, Error> NetlinkSocket::receive(std::span<std::uint8_t> buffer,
                                                         std::string_view what, bool wait) {
    for (;;) {
        const ssize_t n = ::recv(fd(), buffer.data(), buffer.size(), wait ? 0 : MSG_DONTWAIT);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return errno_error(errno, what);
    }
}

std::size_t NetlinkSocket::discard_pending() {
    std::vector<std::uint8_t> buffer(receive_size);
    std::size_t count = 0;
    for (;;) {
        const ssize_t n = ::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS) continue;  // ENOBUFS: reported, go on
            break;                                             // EAGAIN: the queue is empty
        }
        ++count;
    }
    return count;
}

std::expected<void, Error> NetlinkSocket::set_receive_buffer(int bytes) {
    if (::setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0) return {};
    if (::setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0) return {};
    return errno_error(errno, "netlink receive buffer");
}

void NetlinkSocket::set_cap_ack() {
    int one = 1;
    (void)mnl_socket_setsockopt(socket_, NETLINK_CAP_ACK, &one, sizeof one);
}

}  // namespace cgwd::dataplane::nl
