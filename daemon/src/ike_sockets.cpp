#include "cgwd/daemon/ike_sockets.hpp"

#include <linux/udp.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "cgwd/daemon/logging.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::size_t kMaxDatagram = 65535;
constexpr std::uint8_t kMarker[4] = {0, 0, 0, 0};

void bind_or_throw(udp::socket& s, std::uint16_t port) {
    boost::system::error_code ec;
    s.open(udp::v4(), ec);
    if (!ec) s.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) s.bind(udp::endpoint(udp::v4(), port), ec);
    if (ec)
        throw std::runtime_error("IKE socket on UDP port " + std::to_string(port) + ": " +
                                 ec.message());
}

udp::endpoint endpoint_of(config::Ipv4Address a, std::uint16_t port) {
    return udp::endpoint(asio::ip::address_v4(a.value), port);
}

}  // namespace

IkeSockets::IkeSockets(asio::io_context& io, Options options, Receiver receiver)
    : options_(std::move(options)), receiver_(std::move(receiver)), ike_(io) {
    if (options_.peer && options_.rng) guard_.emplace(options_.cookies, *options_.rng);
    bind_or_throw(ike_, options_.ike_port);
    ike_buf_.resize(kMaxDatagram);
    receive(ike_, ike_buf_, ike_from_, false);
    if (!options_.natt_sender) {
        natt_.emplace(io);
        bind_or_throw(*natt_, options_.natt_bind_port);
        if (options_.kernel_esp_in_udp) {
            int type = UDP_ENCAP_ESPINUDP;
            if (::setsockopt(natt_->native_handle(), IPPROTO_UDP, UDP_ENCAP, &type, sizeof type) !=
                0)
                throw std::runtime_error(std::string("UDP_ENCAP on the NAT-T socket: ") +
                                         std::strerror(errno));
        }
        natt_buf_.resize(kMaxDatagram);
        receive(*natt_, natt_buf_, natt_from_, true);
    }
}

IkeSockets::~IkeSockets() {
    boost::system::error_code ec;
    ike_.close(ec);
    if (natt_) natt_->close(ec);
}

std::uint16_t IkeSockets::ike_port() const {
    boost::system::error_code ec;
    return ike_.local_endpoint(ec).port();
}

std::uint16_t IkeSockets::natt_port() const {
    if (!natt_) return options_.natt_port;
    boost::system::error_code ec;
    return natt_->local_endpoint(ec).port();
}

void IkeSockets::receive(udp::socket& s, std::vector<std::uint8_t>& buf, udp::endpoint& from,
                         bool natt) {
    s.async_receive_from(
        asio::buffer(buf), from,
        [this, &s, &buf, &from, natt](boost::system::error_code ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec && from.address().is_v4()) {
                std::span<const std::uint8_t> d(buf.data(), n);
                config::Ipv4Address peer{from.address().to_v4().to_uint()};
                if (!natt) {
                    dispatch(d, peer, from.port(), options_.ike_port);
                } else if (n > 4 && std::equal(d.begin(), d.begin() + 4, kMarker)) {
                    // RFC 3948 section 2.2: IKE behind the Non-ESP Marker.
                    // Keepalives (0xFF) and ESP are not ours: dropped here.
                    dispatch(d.subspan(4), peer, from.port(), options_.natt_port);
                }
            }
            receive(s, buf, from, natt);
        });
}

void IkeSockets::deliver_natt(std::span<const std::uint8_t> ike, config::Ipv4Address from,
                              std::uint16_t from_port) {
    dispatch(ike, from, from_port, options_.natt_port);
}

void IkeSockets::dispatch(std::span<const std::uint8_t> ike, config::Ipv4Address from,
                          std::uint16_t from_port, std::uint16_t local_port) {
    ++ingress_.received;
    if (!options_.peer) return receiver_(ike, from, from_port, local_port);
    // The drop paths below allocate nothing (a flood of them costs a lookup and a counter).
    const std::optional<bool> half_open = options_.peer(from);
    if (!half_open) {
        ++ingress_.unknown_source;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_unknown_log_ >= std::chrono::seconds(10)) {  // one line per 10 s at most
            last_unknown_log_ = now;
            logger("ike")->info("IKE from {}:{} matches no tunnel: dropped ({} so far)",
                                from.to_string(), from_port, ingress_.unknown_source);
        }
        return;
    }
    const auto header = ike::decode_header(ike);
    if (!header) {
        ++ingress_.malformed;
        return;
    }
    const bool init_request = header->exchange == ike::ExchangeType::ike_sa_init &&
                              !header->response && header->message_id == 0;
    if (!init_request || !guard_) return receiver_(ike, from, from_port, local_port);
    // A tunnel keeps one IKE SA, and a new IKE_SA_INIT replaces a half-open one: while it is
    // half-open, requests from its peer need a cookie, so an off-path spoofer (who never sees
    // the cookie) cannot replace it. Retransmissions from the real peer come back with the
    // cookie and get the cached answer.
    guard_->set_half_open(*half_open ? options_.cookies.half_open_threshold + 1 : 0);
    const auto before = guard_->stats();
    auto decision = guard_->on_init_request(ike, from, from_port, std::chrono::steady_clock::now());
    const auto& after = guard_->stats();
    ingress_.malformed += after.dropped_malformed - before.dropped_malformed;
    switch (decision.verdict) {
        case ike::CookieVerdict::pass:
            ++ingress_.init_passed;
            return receiver_(ike, from, from_port, local_port);
        case ike::CookieVerdict::send_cookie:
            send(decision.response, from, from_port, local_port, false);
            return;
        case ike::CookieVerdict::drop:
            return;
    }
}

IkeIngressStats IkeSockets::ingress_stats() const {
    IkeIngressStats s = ingress_;
    if (options_.natt_handoff) s.handoff_dropped = options_.natt_handoff->dropped();
    if (guard_) {
        const auto& g = guard_->stats();
        s.rate_limited = g.dropped_rate + g.dropped_cookie_rate;
        s.cookies_sent = g.cookies_sent;
        s.cookies_accepted = g.cookies_accepted;
        s.cookies_required = guard_->cookies_required();
        s.tracked_sources = guard_->tracked_sources();
    }
    return s;
}

void IkeSockets::send(std::span<const std::uint8_t> ike, config::Ipv4Address to,
                      std::uint16_t to_port, std::uint16_t local_port, bool keepalive) {
    if (to_port == 500 && options_.peer_ike_port) to_port = options_.peer_ike_port;
    if (to_port == options_.natt_port && options_.peer_natt_port) to_port = options_.peer_natt_port;
    boost::system::error_code ec;
    if (local_port != options_.natt_port) {
        ike_.send_to(asio::buffer(ike.data(), ike.size()), endpoint_of(to, to_port), 0, ec);
        if (ec) ++send_errors_;
        return;
    }
    if (options_.natt_sender) {
        if (!options_.natt_sender(ike, to, to_port, keepalive)) ++send_errors_;
        return;
    }
    const std::size_t marker = keepalive ? 0 : sizeof kMarker;
    scratch_.resize(marker + ike.size());
    std::memcpy(scratch_.data(), kMarker, marker);
    if (!ike.empty()) std::memcpy(scratch_.data() + marker, ike.data(), ike.size());
    natt_->send_to(asio::buffer(scratch_), endpoint_of(to, to_port), 0, ec);
    if (ec) ++send_errors_;
}

}  // namespace cgwd::daemon
