#include "cgwd/daemon/bfd_runner.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <variant>

#include "cgwd/daemon/logging.hpp"
#include "cgwd/daemon/socket_address.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint16_t kSourcePortMin = 49152;  // RFC 5881 section 4
constexpr std::uint16_t kSourcePortMax = 65535;
constexpr int kTtl = 255;  // RFC 5881 section 5

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // <linux/in6.h>, Linux 4.15; glibc's <netinet/in.h> lacks it
#endif

udp::endpoint endpoint_of(const config::IpAddress& a, std::uint16_t port) {
    return udp::endpoint(to_asio(a), port);
}

[[noreturn]] void fail(const BfdRunnerOptions& o, const std::string& what, const std::string& why) {
    throw std::runtime_error("BFD " + o.local.to_string() + " -> " + o.peer.to_string() + ": " +
                             what + ": " + why);
}

void set_int_option(udp::socket& s, int level, int name, int value, const BfdRunnerOptions& o,
                    const char* what) {
    if (::setsockopt(s.native_handle(), level, name, &value, sizeof value) != 0)
        fail(o, what, std::strerror(errno));
}

std::uint32_t ms_to_us(std::uint32_t ms) {
    // Control packet intervals are 32-bit microseconds.
    constexpr std::uint32_t kMaxMs = 0xFFFF'FFFFu / 1000u;
    return (ms > kMaxMs ? kMaxMs : ms) * 1000u;
}

std::uint32_t pick_discriminator(std::uint32_t configured) {
    std::random_device rd;
    while (configured == 0) configured = static_cast<std::uint32_t>(rd());
    return configured;
}

bgp::BfdSession make_session(const BfdRunnerOptions& o, std::uint32_t discriminator) {
    bgp::BfdConfig c;
    c.local_discriminator = discriminator;
    c.desired_min_tx = bgp::Micros(ms_to_us(o.desired_min_tx_ms));
    c.required_min_rx = bgp::Micros(ms_to_us(o.required_min_rx_ms));
    c.detect_mult = o.detect_mult == 0 ? 1 : o.detect_mult;
    std::random_device rd;
    // The random source only jitters the transmit interval (RFC 5880 section 6.8.7).
    return bgp::BfdSession(
        c, [rng = std::mt19937(rd())]() mutable { return static_cast<std::uint32_t>(rng()); });
}

long long ms_of(bgp::Micros us) {
    return static_cast<long long>(us.count() / 1000);
}

}  // namespace

BfdRunner::BfdRunner(asio::io_context& io, BfdRunnerOptions options)
    : options_(std::move(options)),
      local_discriminator_(pick_discriminator(options_.local_discriminator)),
      session_(make_session(options_, local_discriminator_)),
      rx_(io),
      tx_(io),
      peer_endpoint_(endpoint_of(options_.peer, options_.peer_port)),
      timer_(io) {
    if (options_.name.empty()) options_.name = options_.peer.to_string();
    boost::system::error_code ec;

    if (options_.local.is_v6() != options_.peer.is_v6())
        fail(options_, "addresses", "the local and the peer address are of different families");
    const bool v6 = options_.local.is_v6();
    const auto family = v6 ? udp::v6() : udp::v4();
    // The same socket options for either family: IPv6 has its own names (RFC 5881 section 5
    // speaks of the Hop Limit there).
    auto set_options = [&](udp::socket& s, bool receive) {
        if (v6) {
            set_int_option(s, IPPROTO_IPV6, IPV6_V6ONLY, 1, options_, "IPV6_V6ONLY");
            set_int_option(s, IPPROTO_IPV6, IPV6_FREEBIND, 1, options_, "IPV6_FREEBIND");
            if (receive)
                set_int_option(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, options_,
                               "IPV6_RECVHOPLIMIT");
            else
                set_int_option(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kTtl, options_,
                               "IPV6_UNICAST_HOPS");
        } else {
            set_int_option(s, IPPROTO_IP, IP_FREEBIND, 1, options_, "IP_FREEBIND");
            if (receive)
                set_int_option(s, IPPROTO_IP, IP_RECVTTL, 1, options_, "IP_RECVTTL");
            else
                set_int_option(s, IPPROTO_IP, IP_TTL, kTtl, options_, "IP_TTL");
        }
    };

    // Receive socket: local address, port 3784, TTL (hop limit) of each datagram delivered.
    rx_.open(family, ec);
    if (ec) fail(options_, "receive socket", ec.message());
    rx_.set_option(udp::socket::reuse_address(true), ec);
    if (ec) fail(options_, "SO_REUSEADDR", ec.message());
    set_options(rx_, true);
    rx_.bind(endpoint_of(options_.local, options_.listen_port), ec);
    if (ec) fail(options_, "bind UDP port " + std::to_string(options_.listen_port), ec.message());
    rx_.non_blocking(true, ec);
    if (ec) fail(options_, "non-blocking receive socket", ec.message());

    // Send socket: local address, a source port in 49152-65535, TTL 255.
    tx_.open(family, ec);
    if (ec) fail(options_, "send socket", ec.message());
    set_options(tx_, false);
    if (options_.source_port != 0) {
        tx_.bind(endpoint_of(options_.local, options_.source_port), ec);
    } else {
        std::random_device rd;
        std::uniform_int_distribution<unsigned> port(kSourcePortMin, kSourcePortMax);
        for (int attempt = 0; attempt < 64; ++attempt) {
            tx_.bind(endpoint_of(options_.local, static_cast<std::uint16_t>(port(rd))), ec);
            if (ec != asio::error::address_in_use) break;
        }
    }
    if (ec) fail(options_, "bind source port", ec.message());

    wait_readable();
}

BfdRunner::~BfdRunner() {
    alive_.reset();  // handlers still queued must not touch *this
    boost::system::error_code ec;
    timer_.cancel();
    rx_.close(ec);
    tx_.close(ec);
}

void BfdRunner::start() {
    const auto now = Clock::now();
    if (session_.state() == bgp::BfdState::AdminDown) session_.admin_up(now);
    if (!started_) {
        started_ = true;
        session_.start(now);
        logger("bgp")->info("{}: BFD {} -> {} starting (tx {} ms, rx {} ms, multiplier {})",
                            options_.name, options_.local.to_string(), options_.peer.to_string(),
                            options_.desired_min_tx_ms, options_.required_min_rx_ms,
                            options_.detect_mult);
    }
    pump();
}

void BfdRunner::stop() {
    if (session_.state() == bgp::BfdState::AdminDown) return;
    session_.admin_down(Clock::now());
    logger("bgp")->info("{}: BFD administratively down", options_.name);
    pump();
}

std::string BfdRunner::state_text() const {
    switch (session_.state()) {
        case bgp::BfdState::AdminDown:
            return "admin-down";
        case bgp::BfdState::Down:
            return "down";
        case bgp::BfdState::Init:
            return "init";
        case bgp::BfdState::Up:
            return "up";
    }
    return "unknown";
}

std::uint16_t BfdRunner::listen_port() const {
    boost::system::error_code ec;
    return rx_.local_endpoint(ec).port();
}

std::uint16_t BfdRunner::source_port() const {
    boost::system::error_code ec;
    return tx_.local_endpoint(ec).port();
}

void BfdRunner::wait_readable() {
    rx_.async_wait(udp::socket::wait_read,
                   [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
                       if (alive.expired() || ec == asio::error::operation_aborted) return;
                       if (!ec) drain();
                       if (alive.expired()) return;  // a handler destroyed this runner
                       wait_readable();
                   });
}

// Reads every queued datagram: recvmsg() on the native handle for the IP_TTL (IPv6:
// IPV6_HOPLIMIT) control message.
void BfdRunner::drain() {
    auto log = logger("bgp");
    for (;;) {
        std::uint8_t buf[512];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        sockaddr_storage from{};
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(rx_.native_handle(), &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;  // EAGAIN: drained (other errors: wait again)
        }
        int ttl = -1;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
                std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        }
        const auto source = from_sockaddr(reinterpret_cast<const sockaddr*>(&from));
        const std::string source_text = source ? source->to_string() : "?";
        if (!source || *source != options_.peer) {
            ++dropped_not_peer_;
            log->debug("{}: BFD packet from {} dropped: not the peer", options_.name, source_text);
            continue;
        }
        if (ttl != kTtl) {
            ++dropped_ttl_;
            log->debug("{}: BFD packet from {} dropped: TTL {} (RFC 5881 section 5)", options_.name,
                       source_text, ttl);
            continue;
        }
        ++packets_in_;
        auto r =
            session_.on_datagram(bgp::ByteView(buf, static_cast<std::size_t>(n)), Clock::now());
        if (!r) {
            ++rejected_;
            log->debug("{}: BFD packet rejected: {}", options_.name,
                       r.error().decode_error ? bgp::to_string(*r.error().decode_error)
                                              : "discriminator mismatch");
        }
    }
    pump();
}

void BfdRunner::pump() {
    boost::system::error_code ec;
    for (const auto& p : session_.take_packets()) {
        tx_.send_to(asio::buffer(p.data(), p.size()), peer_endpoint_, 0, ec);
        if (ec)
            ++send_errors_;
        else
            ++packets_out_;
    }
    auto log = logger("bgp");
    for (const auto& ev : session_.take_events()) {
        if (std::holds_alternative<bgp::BfdUp>(ev)) {
            up_since_ = Clock::now();
            up_since_wall_ = std::chrono::system_clock::now();
            log->info("{}: BFD session to {} up (remote discriminator {})", options_.name,
                      options_.peer.to_string(), session_.remote_discriminator());
            if (on_up_) {
                std::weak_ptr<int> alive = alive_;
                auto handler = on_up_;  // a copy: the call may destroy this runner
                handler();
                if (alive.expired()) return;
            }
        } else if (const auto* d = std::get_if<bgp::BfdDown>(&ev)) {
            ++flaps_;
            up_since_.reset();
            up_since_wall_.reset();
            last_down_diag_ = bgp::to_string(d->diag);
            log->log(d->path_failure ? spdlog::level::warn : spdlog::level::info,
                     "{}: BFD session to {} down: {}{}", options_.name, options_.peer.to_string(),
                     last_down_diag_, d->path_failure ? " (path failure)" : "");
            if (on_down_) {
                // The handler may destroy this runner: nothing below touches *this then.
                std::weak_ptr<int> alive = alive_;
                auto handler = on_down_;
                const std::string diag = last_down_diag_;
                handler(d->path_failure, diag);
                if (alive.expired()) return;
            }
        }
    }
    arm_timer();
}

void BfdRunner::arm_timer() {
    const auto deadline = session_.next_deadline();
    if (!deadline) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(*deadline);
    timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (alive.expired() || ec) return;
        session_.on_timer(Clock::now());
        pump();
    });
}

json BfdRunner::status() const {
    json j{
        {"name", options_.name},
        {"state", state_text()},
        {"local_address", options_.local.to_string()},
        {"peer_address", options_.peer.to_string()},
        {"local_discriminator", local_discriminator_},
        {"remote_discriminator", session_.remote_discriminator()},
        {"remote_state", bgp::to_string(session_.remote_state())},
        {"diagnostic", bgp::to_string(session_.local_diag())},
        {"last_down", last_down_diag_.empty() ? json(nullptr) : json(last_down_diag_)},
        {"tx_interval_ms", ms_of(session_.transmit_interval())},
        {"detect_time_ms", ms_of(session_.detection_time())},
        {"detect_multiplier", options_.detect_mult},
        {"flaps", flaps_},
        {"packets_in", packets_in_},
        {"packets_out", packets_out_},
        {"dropped_ttl", dropped_ttl_},
        {"dropped_not_peer", dropped_not_peer_},
        {"rejected", rejected_},
        {"send_errors", send_errors_},
    };
    if (up_since_wall_) {
        j["up_since"] =
            std::chrono::duration_cast<std::chrono::seconds>(up_since_wall_->time_since_epoch())
                .count();
        j["up_for_s"] =
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *up_since_).count();
    } else {
        j["up_since"] = nullptr;
        j["up_for_s"] = nullptr;
    }
    return j;
}

}  // namespace cgwd::daemon
