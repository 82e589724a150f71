// Fuzz target: the stateful IKEv2 engine (ike/sa.hpp) as a responder, with a fake clock.
//
// Each input is a fresh pair of engines with fixed settings, PSK and seeded randomness
// (fixtures.hpp): the responder under test and an honest initiator. The input is a script
// (IkeOp in fixtures.hpp) that plays the network and the operator: arbitrary datagrams to the
// responder, delivery / loss / corruption / replay / NAT rebinding of what the two engines send
// each other, clock jumps that fire their timers, and rekey / liveness / stop / expiry
// commands on either side. So the fuzzer reaches every state of the responder (InitReplied,
// Established, rekey collisions, retired SAs) with valid encrypted traffic, and then throws
// arbitrary bytes at it. SPIs, nonces and IVs come from the seeded Random; the key exchange
// values come from OpenSSL's generator (crypto::KeyExchange::generate takes no Random), so
// the bytes encrypted after IKE_SA_INIT differ between runs of the same input, while the
// paths taken do not.
//
// Checks, aborting on any violation:
//   - every IKE message the responder emits decodes (decode_message); a keepalive is 0xFF;
//   - its ChildSaReady / ChildSaDeleted actions keep a dataplane consistent: no inbound SPI
//     installed twice, only installed SAs deleted, with the outbound SPI they were installed
//     with;
//   - after on_timer(now), next_deadline() is later than now (no busy loop in the daemon).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "cgwd/ike/message.hpp"
#include "cgwd/ike/sa.hpp"
#include "fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd;
using namespace cgwd::fuzz;
using ike::OutDatagram;
using ike::TimePoint;

void check(bool condition) {
    if (!condition) std::abort();
}

// Reads operands; past the end everything reads as zero (the script just stops mattering).
class Script {
  public:
    Script(const std::uint8_t* data, std::size_t size) : data_(data, size) {}
    bool done() const { return pos_ >= data_.size(); }
    std::uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }
    std::uint16_t u16() {
        const auto hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }
    std::span<const std::uint8_t> bytes(std::size_t n) {
        n = std::min(n, data_.size() - std::min(pos_, data_.size()));
        auto out = data_.subspan(std::min(pos_, data_.size()), n);
        pos_ += n;
        return out;
    }

  private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

class Harness {
  public:
    Harness()
        : rng_i_(ike_seed_initiator),
          rng_r_(ike_seed_responder),
          initiator_(ike_fuzz_settings(false), rng_i_),
          responder_(ike_fuzz_settings(true), rng_r_) {}

    void run(Script& s) {
        for (int records = 0; records < 64 && !s.done(); ++records) {
            step(s);
            collect();
        }
    }
    IkeScriptResult result() const { return {responder_.state(), installed_.size(), sent_}; }

  private:
    void step(Script& s) {
        switch (static_cast<IkeOp>(s.u8() % ike_op_count)) {
            case IkeOp::raw: {
                const auto flags = s.u8();
                const auto bytes = s.bytes(s.u16());
                const std::uint16_t local = (flags & 1u) != 0 ? 4500 : 500;
                std::uint16_t remote = (flags & 2u) != 0 ? 4500 : 500;
                if ((flags & 4u) != 0) remote = 40000;
                to_responder(bytes, local, remote);
                break;
            }
            case IkeOp::to_responder:
                if (auto d = pop(to_r_)) to_responder(d->bytes, d->remote_port, d->local_port);
                break;
            case IkeOp::mutated: {
                const auto offset = s.u16();
                const auto x = s.u8();
                if (auto d = pop(to_r_); d && !d->bytes.empty()) {
                    d->bytes[offset % d->bytes.size()] ^= x != 0 ? x : 1;
                    to_responder(d->bytes, d->remote_port, d->local_port);
                }
                break;
            }
            case IkeOp::to_initiator:
                if (auto d = pop(to_i_))
                    initiator_.on_datagram(d->bytes, now_, d->remote_port, d->local_port);
                break;
            case IkeOp::drop_to_responder:
                (void)pop(to_r_);
                break;
            case IkeOp::drop_to_initiator:
                (void)pop(to_i_);
                break;
            case IkeOp::advance: {
                const auto amount = s.u16();
                const bool seconds = (s.u8() & 1u) != 0;
                advance(seconds ? ike::Millis{std::chrono::seconds(amount)} : ike::Millis{amount});
                break;
            }
            case IkeOp::command:
                command(static_cast<IkeCommand>(s.u8() % ike_command_count));
                break;
            case IkeOp::replay: {
                const auto index = s.u8();
                if (!history_.empty()) {
                    const auto d = history_[index % history_.size()];
                    to_responder(d.bytes, d.remote_port, d.local_port);
                }
                break;
            }
            case IkeOp::rebind:
                if (auto d = pop(to_r_)) to_responder(d->bytes, d->remote_port, 40001);
                break;
            case IkeOp::pump:
                for (int rounds = 0; rounds < 16 && !(to_r_.empty() && to_i_.empty()); ++rounds) {
                    while (auto d = pop(to_r_))
                        to_responder(d->bytes, d->remote_port, d->local_port);
                    while (auto d = pop(to_i_))
                        initiator_.on_datagram(d->bytes, now_, d->remote_port, d->local_port);
                    collect();
                }
                break;
        }
    }

    void command(IkeCommand c) {
        switch (c) {
            case IkeCommand::start:
                initiator_.start(now_);
                break;
            case IkeCommand::initiator_rekey_child:
                (void)initiator_.rekey_child(now_);
                break;
            case IkeCommand::initiator_rekey_ike:
                (void)initiator_.rekey_ike(now_);
                break;
            case IkeCommand::initiator_liveness:
                (void)initiator_.send_liveness_check(now_);
                break;
            case IkeCommand::initiator_stop:
                initiator_.stop(now_);
                break;
            case IkeCommand::responder_rekey_child:
                (void)responder_.rekey_child(now_);
                break;
            case IkeCommand::responder_rekey_ike:
                (void)responder_.rekey_ike(now_);
                break;
            case IkeCommand::responder_liveness:
                (void)responder_.send_liveness_check(now_);
                break;
            case IkeCommand::responder_stop:
                responder_.stop(now_);
                break;
            case IkeCommand::responder_child_soft_expired:
            case IkeCommand::responder_child_hard_expired:
                if (!installed_.empty()) {
                    responder_.on_child_expired(installed_.rbegin()->first,
                                                c == IkeCommand::responder_child_hard_expired,
                                                now_);
                }
                break;
        }
    }

    void to_responder(std::span<const std::uint8_t> bytes, std::uint16_t local,
                      std::uint16_t remote) {
        responder_.on_datagram(bytes, now_, local, remote);
    }

    static std::optional<OutDatagram> pop(std::deque<OutDatagram>& q) {
        if (q.empty()) return std::nullopt;
        auto d = std::move(q.front());
        q.pop_front();
        return d;
    }

    // Fires both engines' timers at each deadline up to now + by (bounded), then at the end.
    void advance(ike::Millis by) {
        const TimePoint target = now_ + by;
        for (int n = 0; n < 64; ++n) {
            std::optional<TimePoint> next;
            for (const auto* sa : {&initiator_, &responder_}) {
                if (auto d = sa->next_deadline(); d && (!next || *d < *next)) next = d;
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
        initiator_.on_timer(now_);
        responder_.on_timer(now_);
        for (const auto* sa : {&initiator_, &responder_}) {
            if (auto d = sa->next_deadline()) check(*d > now_);
        }
    }

    void collect() {
        for (auto& d : responder_.take_outgoing()) {
            if (d.keepalive) {
                check(d.bytes == ike::Bytes{0xFF});
                continue;
            }
            check(ike::decode_message(d.bytes).has_value());
            ++sent_;
            keep(to_i_, std::move(d));
        }
        for (auto& d : initiator_.take_outgoing()) {
            if (d.keepalive) continue;
            if (history_.size() < 32) history_.push_back(d);
            keep(to_r_, std::move(d));
        }
        (void)initiator_.take_actions();
        for (const auto& a : responder_.take_actions()) dataplane(a);
    }

    static void keep(std::deque<OutDatagram>& q, OutDatagram d) {
        if (q.size() >= 16) q.pop_front();
        q.push_back(std::move(d));
    }

    // The responder's actions applied to a model of the dataplane.
    void dataplane(const ike::Action& a) {
        if (const auto* ready = std::get_if<ike::ChildSaReady>(&a)) {
            check(installed_.emplace(ready->spi_in, ready->spi_out).second);
        } else if (const auto* deleted = std::get_if<ike::ChildSaDeleted>(&a)) {
            auto it = installed_.find(deleted->spi_in);
            check(it != installed_.end() && it->second == deleted->spi_out);
            installed_.erase(it);
        }
    }

    FuzzRandom rng_i_, rng_r_;
    ike::IkeSa initiator_;
    ike::IkeSa responder_;
    TimePoint now_ = ike_fuzz_epoch();
    std::deque<OutDatagram> to_r_, to_i_;               // in flight
    std::vector<OutDatagram> history_;                  // what the initiator sent, for replays
    std::map<std::uint32_t, std::uint32_t> installed_;  // responder's CHILD_SAs: in -> out
    std::size_t sent_ = 0;
};

}  // namespace

cgwd::fuzz::IkeScriptResult cgwd::fuzz::run_ike_script(const std::uint8_t* data, std::size_t size) {
    Script script(data, size);
    Harness harness;
    harness.run(script);
    return harness.result();
}

int cgwd::fuzz::fuzz_ike_responder(const std::uint8_t* data, std::size_t size) {
    (void)run_ike_script(data, size);
    return 0;
}
