#include "cgwd/bgp/bfd_session.hpp"

#include <algorithm>
#include <utility>

namespace cgwd::bgp {

namespace {
constexpr Micros kSlowTx{1'000'000};  // RFC 5880 section 6.8.3: at least 1 s while not Up
}

BfdSession::BfdSession(BfdConfig config, BfdRandom random)
    : config_(config), random_(std::move(random)) {
    tx_in_force_ = advertised_tx();
    rx_in_force_ = config_.required_min_rx;
}

Micros BfdSession::advertised_tx() const {
    return state_ == BfdState::Up ? config_.desired_min_tx
                                  : std::max(config_.desired_min_tx, kSlowTx);
}

Micros BfdSession::transmit_interval() const {
    return std::max(tx_in_force_, remote_min_rx_);
}

Micros BfdSession::detection_time() const {
    return remote_detect_mult_ * std::max(rx_in_force_, remote_desired_tx_);
}

Micros BfdSession::jittered(Micros interval) {
    // RFC 5880 section 6.8.7: reduce each interval by 0-25%, or by 10-25% when Detect Mult is 1.
    const auto us = static_cast<std::uint64_t>(interval.count());
    const std::uint64_t r = random_();
    const std::uint64_t reduction = config_.detect_mult == 1
                                        ? us / 10 + (((us * 15 / 100) * r) >> 32)
                                        : ((us * 25 / 100) * r) >> 32;
    return Micros(static_cast<Micros::rep>(us - reduction));
}

void BfdSession::start(TimePoint now) {
    if (started_) return;
    started_ = true;
    send(now);
    schedule_tx(now);
}

void BfdSession::schedule_tx(TimePoint now) {
    next_tx_at_ = now + jittered(transmit_interval());
}

void BfdSession::send(TimePoint now, bool final) {
    (void)now;
    BfdControl c;
    c.diag = local_diag_;
    c.state = state_;
    c.poll = poll_active_ && !final;  // never P and F together (section 4.1)
    c.final = final;
    c.detect_mult = config_.detect_mult;
    c.my_discriminator = config_.local_discriminator;
    c.your_discriminator = remote_discr_;
    c.desired_min_tx_us = static_cast<std::uint32_t>(advertised_tx().count());
    c.required_min_rx_us = static_cast<std::uint32_t>(config_.required_min_rx.count());
    c.required_min_echo_rx_us = 0;  // no Echo function
    packets_.push_back(encode_bfd_control(c));
}

void BfdSession::start_poll() {
    if (poll_active_) {
        poll_pending_ = true;
    } else {
        poll_active_ = true;
    }
}

void BfdSession::end_poll() {
    poll_active_ = false;
    tx_in_force_ = advertised_tx();
    rx_in_force_ = config_.required_min_rx;
    if (poll_pending_) {
        poll_pending_ = false;
        poll_active_ = true;
    }
}

void BfdSession::set_state(BfdState s, BfdDiag diag, TimePoint now, bool path_failure) {
    if (s == state_) return;
    const BfdState old = state_;
    state_ = s;
    if (s != BfdState::Up) local_diag_ = diag;
    if (s == BfdState::Up) {
        events_.push_back(BfdUp{});
        // Leaving the 1 s floor is a Desired Min TX change: in force now (a decrease), announced
        // with a Poll Sequence (section 6.8.3).
        if (advertised_tx() != tx_in_force_) {
            tx_in_force_ = std::min(tx_in_force_, advertised_tx());
            start_poll();
        }
    } else {
        if (old == BfdState::Up) events_.push_back(BfdDown{diag, path_failure});
        poll_active_ = poll_pending_ = false;
        tx_in_force_ = advertised_tx();
        rx_in_force_ = config_.required_min_rx;
    }
    if (s == BfdState::AdminDown) detect_at_.reset();
    if (started_) {
        send(now);
        schedule_tx(now);
    }
}

void BfdSession::admin_down(TimePoint now) {
    set_state(BfdState::AdminDown, BfdDiag::AdministrativelyDown, now, false);
}

void BfdSession::admin_up(TimePoint now) {
    if (state_ == BfdState::AdminDown) set_state(BfdState::Down, BfdDiag::None, now);
}

void BfdSession::set_parameters(Micros desired_min_tx, Micros required_min_rx,
                                std::uint8_t detect_mult, TimePoint now) {
    const bool changed =
        desired_min_tx != config_.desired_min_tx || required_min_rx != config_.required_min_rx;
    config_.desired_min_tx = desired_min_tx;
    config_.required_min_rx = required_min_rx;
    config_.detect_mult = detect_mult;
    if (state_ != BfdState::Up) {
        tx_in_force_ = advertised_tx();
        rx_in_force_ = required_min_rx;
    } else if (changed) {
        // Section 6.8.3: a faster transmit rate and a more lenient detection time apply at once;
        // the opposite changes wait for the Poll Sequence to end.
        tx_in_force_ = std::min(tx_in_force_, desired_min_tx);
        rx_in_force_ = std::max(rx_in_force_, required_min_rx);
        start_poll();
    }
    if (started_ && changed) {
        send(now);
        schedule_tx(now);
    }
}

std::expected<void, BfdReject> BfdSession::on_datagram(ByteView datagram, TimePoint now) {
    auto packet = decode_bfd_control(datagram);
    if (!packet) return std::unexpected(BfdReject{BfdRejectReason::Malformed, packet.error()});
    return on_packet(*packet, now);
}

std::expected<void, BfdReject> BfdSession::on_packet(const BfdControl& p, TimePoint now) {
    if (p.your_discriminator != 0 && p.your_discriminator != config_.local_discriminator) {
        return std::unexpected(BfdReject{BfdRejectReason::DiscriminatorMismatch, std::nullopt});
    }
    if (!started_) return {};
    remote_discr_ = p.my_discriminator;
    remote_state_ = p.state;
    remote_demand_ = p.demand;
    remote_min_rx_ = Micros(p.required_min_rx_us);
    remote_desired_tx_ = Micros(p.desired_min_tx_us);
    remote_detect_mult_ = p.detect_mult;
    if (p.final && poll_active_) end_poll();
    // A shorter interval (the remote lowered its Required Min RX) applies from now.
    if (next_tx_at_ && *next_tx_at_ > now + transmit_interval()) schedule_tx(now);

    if (state_ == BfdState::AdminDown) return {};
    detect_at_ = now + detection_time();

    if (p.state == BfdState::AdminDown) {
        if (state_ != BfdState::Down) {
            set_state(BfdState::Down, BfdDiag::NeighborSignaledSessionDown, now, false);
        }
    } else if (state_ == BfdState::Down) {
        if (p.state == BfdState::Down) {
            set_state(BfdState::Init, local_diag_, now);
        } else if (p.state == BfdState::Init) {
            set_state(BfdState::Up, local_diag_, now);
        }
    } else if (state_ == BfdState::Init) {
        if (p.state == BfdState::Init || p.state == BfdState::Up) {
            set_state(BfdState::Up, local_diag_, now);
        }
    } else if (p.state == BfdState::Down) {  // Up
        set_state(BfdState::Down, BfdDiag::NeighborSignaledSessionDown, now);
    }
    if (p.poll) send(now, true);  // answer a Poll at once (section 6.8.7)
    return {};
}

void BfdSession::on_timer(TimePoint now) {
    if (!started_) return;
    if (detect_at_ && now >= *detect_at_) {
        detect_at_.reset();
        remote_discr_ = 0;  // section 6.8.1
        remote_state_ = BfdState::Down;
        if (state_ == BfdState::Init || state_ == BfdState::Up) {
            set_state(BfdState::Down, BfdDiag::ControlDetectionTimeExpired, now);
        }
    }
    if (next_tx_at_ && now >= *next_tx_at_) {
        // Section 6.8.7: nothing periodic while the remote asks for no packets (Required Min RX
        // 0) or runs Demand mode with both ends Up and no Poll Sequence of ours going on.
        const bool quiet =
            remote_min_rx_.count() == 0 || (remote_demand_ && state_ == BfdState::Up &&
                                            remote_state_ == BfdState::Up && !poll_active_);
        if (!quiet) send(now);
        schedule_tx(now);
    }
}

std::optional<TimePoint> BfdSession::next_deadline() const {
    if (!next_tx_at_) return detect_at_;
    if (!detect_at_) return next_tx_at_;
    return std::min(*next_tx_at_, *detect_at_);
}

std::vector<Bytes> BfdSession::take_packets() {
    return std::exchange(packets_, {});
}

std::vector<BfdEvent> BfdSession::take_events() {
    return std::exchange(events_, {});
}

}  // namespace cgwd::bgp
