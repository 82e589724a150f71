// Fuzz target: the BFD Control packet codec (bgp/bfd.hpp) and the BFD session state machine
// (bgp/bfd_session.hpp), with a fake clock.
//
// Each input is a fresh session under test and an honest peer session (fixtures.hpp), both
// started. The input is a script (BfdOp in fixtures.hpp): arbitrary datagrams to the session,
// delivery / loss / corruption of what the two send each other, clock jumps that fire their
// timers, and admin down / up / parameter changes on either side.
// Checks, aborting on any violation:
//   - a datagram that decodes re-encodes to exactly the same bytes (the Control packet has no
//     reserved bits and the Length must be 24, so nothing may be lost);
//   - on_datagram() accepts a packet only if decode_bfd_control() does;
//   - every packet the session sends decodes and never has both Poll and Final set
//     (RFC 5880 section 6.5);
//   - after on_timer(now), next_deadline() is later than now.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <optional>
#include <span>

#include "cgwd/bgp/bfd.hpp"
#include "cgwd/bgp/bfd_session.hpp"
#include "fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd;
using namespace cgwd::fuzz;
using bgp::BfdSession;
using bgp::Bytes;
using bgp::TimePoint;

void check(bool condition) {
    if (!condition) std::abort();
}

bgp::BfdRandom seeded(std::uint32_t seed) {
    return [state = seed]() mutable {
        state = state * 1664525u + 1013904223u;  // LCG: deterministic jitter
        return state;
    };
}

class Harness {
  public:
    Harness(const std::uint8_t* data, std::size_t size)
        : data_(data, size),
          local_(bfd_fuzz_config(true), seeded(1)),
          peer_(bfd_fuzz_config(false), seeded(2)) {
        local_.start(now_);
        peer_.start(now_);
        collect();
    }

    void run() {
        for (int records = 0; records < 128 && pos_ < data_.size(); ++records) {
            step();
            collect();
        }
    }
    bgp::BfdState state() const { return local_.state(); }

  private:
    std::uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }

    void step() {
        switch (static_cast<BfdOp>(u8() % bfd_op_count)) {
            case BfdOp::raw: {
                const std::size_t n = std::min<std::size_t>(u8(), data_.size() - pos_);
                to_local(data_.subspan(pos_, n));
                pos_ += n;
                break;
            }
            case BfdOp::from_peer:
                if (auto p = pop(from_peer_)) to_local(*p);
                break;
            case BfdOp::to_peer:
                if (auto p = pop(to_peer_)) (void)peer_.on_datagram(*p, now_);
                break;
            case BfdOp::drop_from_peer:
                (void)pop(from_peer_);
                break;
            case BfdOp::drop_to_peer:
                (void)pop(to_peer_);
                break;
            case BfdOp::advance: {
                const auto hi = u8();
                advance(std::chrono::milliseconds((hi << 8) | u8()));
                break;
            }
            case BfdOp::command: {
                const auto which = u8();
                BfdSession& s = (which & 0x80u) != 0 ? peer_ : local_;
                switch ((which & 0x7fu) % 3) {
                    case 0:
                        s.admin_down(now_);
                        break;
                    case 1:
                        s.admin_up(now_);
                        break;
                    default: {
                        // Values a validated configuration can hold: 10 ms .. 2.56 s, mult >= 1.
                        const auto tx = bgp::Micros{(std::uint32_t{u8()} + 1) * 10'000};
                        const auto rx = bgp::Micros{(std::uint32_t{u8()} + 1) * 10'000};
                        const auto mult = static_cast<std::uint8_t>(std::max(1, int{u8()}));
                        s.set_parameters(tx, rx, mult, now_);
                        break;
                    }
                }
                break;
            }
            case BfdOp::pump:
                for (int rounds = 0; rounds < 16 && !(from_peer_.empty() && to_peer_.empty());
                     ++rounds) {
                    while (auto p = pop(from_peer_)) to_local(*p);
                    while (auto p = pop(to_peer_)) (void)peer_.on_datagram(*p, now_);
                    collect();
                }
                break;
            case BfdOp::mutated: {
                const auto offset = u8();
                const auto x = u8();
                if (auto p = pop(from_peer_); p && !p->empty()) {
                    (*p)[offset % p->size()] ^= x != 0 ? x : 1;
                    to_local(*p);
                }
                break;
            }
        }
    }

    void to_local(std::span<const std::uint8_t> datagram) {
        const auto decoded = bgp::decode_bfd_control(datagram);
        if (decoded) {
            const Bytes again = bgp::encode_bfd_control(*decoded);
            check(std::equal(again.begin(), again.end(), datagram.begin(), datagram.end()));
        }
        const auto accepted = local_.on_datagram(datagram, now_);
        if (accepted) check(decoded.has_value());
    }

    static std::optional<Bytes> pop(std::deque<Bytes>& q) {
        if (q.empty()) return std::nullopt;
        auto p = std::move(q.front());
        q.pop_front();
        return p;
    }

    void advance(std::chrono::milliseconds by) {
        const TimePoint target = now_ + by;
        for (int n = 0; n < 256; ++n) {
            std::optional<TimePoint> next;
            for (const auto* s : {&local_, &peer_}) {
                if (auto d = s->next_deadline(); d && (!next || *d < *next)) next = d;
            }
            if (!next || *next > target) break;
            now_ = std::max(now_, *next);
            timers();
            collect();
        }
        now_ = target;
        timers();
    }

    void timers() {
        local_.on_timer(now_);
        peer_.on_timer(now_);
        for (const auto* s : {&local_, &peer_}) {
            if (auto d = s->next_deadline()) check(*d > now_);
        }
    }

    void collect() {
        for (auto& p : local_.take_packets()) {
            const auto d = bgp::decode_bfd_control(p);
            check(d.has_value() && !(d->poll && d->final));
            keep(to_peer_, std::move(p));
        }
        for (auto& p : peer_.take_packets()) keep(from_peer_, std::move(p));
        (void)local_.take_events();
        (void)peer_.take_events();
    }

    static void keep(std::deque<Bytes>& q, Bytes p) {
        if (q.size() >= 16) q.pop_front();
        q.push_back(std::move(p));
    }

    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
    TimePoint now_ = TimePoint{} + std::chrono::hours(1);
    BfdSession local_;
    BfdSession peer_;
    std::deque<Bytes> from_peer_, to_peer_;  // in flight
};

}  // namespace

cgwd::bgp::BfdState cgwd::fuzz::run_bfd_script(const std::uint8_t* data, std::size_t size) {
    Harness harness(data, size);
    harness.run();
    return harness.state();
}

int cgwd::fuzz::fuzz_bfd(const std::uint8_t* data, std::size_t size) {
    (void)run_bfd_script(data, size);
    return 0;
}
