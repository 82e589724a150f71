// Sans-I/O BFD session (RFC 5880) on a fake clock: two sessions wired back to back.
#include <catch2/catch.hpp>
#include <deque>
#include <random>

#include "cgwd/bgp/bfd_session.hpp"

using namespace cgwd::bgp;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kDiscA = 0x1111;
constexpr std::uint32_t kDiscB = 0x2222;

BfdConfig config(std::uint32_t disc, Micros tx = 300ms, Micros rx = 300ms, std::uint8_t mult = 3) {
    return BfdConfig{disc, tx, rx, mult};
}

BfdRandom seeded(std::uint32_t seed) {
    return [rng = std::mt19937(seed)]() mutable { return static_cast<std::uint32_t>(rng()); };
}

struct Sent {
    TimePoint at;
    BfdControl packet;
};

// Two sessions joined by a zero-latency link that can drop or hold each direction.
struct Pair {
    BfdSession a;
    BfdSession b;
    TimePoint now{};  // the fake clock
    bool a_to_b = true, b_to_a = true;
    bool hold_b_to_a = false;
    std::deque<Bytes> held;  // B -> A while hold_b_to_a
    std::vector<BfdEvent> events_a, events_b;
    std::vector<Sent> sent_a, sent_b;
    std::optional<TimePoint> last_rx_a;  // last packet A received

    Pair(BfdConfig ca, BfdConfig cb, BfdRandom ra = seeded(1), BfdRandom rb = seeded(2))
        : a(ca, std::move(ra)), b(cb, std::move(rb)) {}

    void pump() {
        for (int round = 0; round < 100; ++round) {
            auto pa = a.take_packets();
            auto pb = b.take_packets();
            for (auto& e : a.take_events()) events_a.push_back(e);
            for (auto& e : b.take_events()) events_b.push_back(e);
            if (pa.empty() && pb.empty()) return;
            for (const auto& p : pa) {
                auto d = decode_bfd_control(p);
                REQUIRE(d);
                REQUIRE_FALSE((d->poll && d->final));
                sent_a.push_back({now, *d});
                if (a_to_b) REQUIRE(b.on_datagram(p, now));
            }
            for (const auto& p : pb) {
                auto d = decode_bfd_control(p);
                REQUIRE(d);
                REQUIRE_FALSE((d->poll && d->final));
                sent_b.push_back({now, *d});
                if (!b_to_a) continue;
                if (hold_b_to_a) {
                    held.push_back(p);
                } else {
                    REQUIRE(a.on_datagram(p, now));
                    last_rx_a = now;
                }
            }
        }
        FAIL("packet storm");
    }
    void release() {
        hold_b_to_a = false;
        while (!held.empty()) {
            REQUIRE(a.on_datagram(held.front(), now));
            last_rx_a = now;
            held.pop_front();
        }
        pump();
    }
    // Runs both sessions' timers, in deadline order, up to and including `t`.
    void advance_to(TimePoint t) {
        std::optional<TimePoint> previous;
        int same = 0;
        for (;;) {
            std::optional<TimePoint> next;
            for (auto d : {a.next_deadline(), b.next_deadline()}) {
                if (d && (!next || *d < *next)) next = d;
            }
            if (!next || *next > t) break;
            // A deadline that on_timer does not move is a bug, not a reason to spin forever.
            same = (previous == next) ? same + 1 : 0;
            REQUIRE(same < 10);
            previous = next;
            now = std::max(now, *next);
            a.on_timer(now);
            b.on_timer(now);
            pump();
        }
        now = t;
    }
    void start() {
        a.start(now);
        b.start(now);
        pump();
    }
};

template <typename T>
std::size_t count(const std::vector<BfdEvent>& evs) {
    std::size_t n = 0;
    for (const auto& e : evs) n += std::holds_alternative<T>(e) ? 1 : 0;
    return n;
}

const BfdDown* last_down(const std::vector<BfdEvent>& evs) {
    const BfdDown* d = nullptr;
    for (const auto& e : evs) {
        if (auto* x = std::get_if<BfdDown>(&e)) d = x;
    }
    return d;
}

void bring_up(Pair& p) {
    p.start();
    p.advance_to(p.now + 5s);
    REQUIRE(p.a.state() == BfdState::Up);
    REQUIRE(p.b.state() == BfdState::Up);
}

}  // namespace

TEST_CASE("bfd session: two sessions come Up and settle on 300 ms x 3") {
    Pair p(config(kDiscA), config(kDiscB));
    p.start();
    // First packets: Down, Your Discriminator 0, Desired Min TX held at 1 s (section 6.8.3).
    REQUIRE_FALSE(p.sent_a.empty());
    CHECK(p.sent_a.front().packet.state == BfdState::Down);
    CHECK(p.sent_a.front().packet.your_discriminator == 0);
    CHECK(p.sent_a.front().packet.desired_min_tx_us == 1'000'000);
    CHECK(p.sent_a.front().packet.required_min_rx_us == 300'000);
    // Down -> Init -> Up happens on the first exchange (zero latency link).
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.b.state() == BfdState::Up);
    CHECK(count<BfdUp>(p.events_a) == 1);
    CHECK(count<BfdUp>(p.events_b) == 1);
    CHECK(p.a.remote_discriminator() == kDiscB);
    CHECK(p.b.remote_discriminator() == kDiscA);
    p.advance_to(p.now + 5s);
    CHECK_FALSE(p.a.poll_active());  // the 1 s -> 300 ms Poll Sequence completed
    CHECK(p.a.transmit_interval() == 300ms);
    CHECK(p.a.detection_time() == 900ms);
    CHECK(p.b.detection_time() == 900ms);
    CHECK(p.sent_a.back().packet.desired_min_tx_us == 300'000);
    CHECK(p.sent_a.back().packet.your_discriminator == kDiscB);
    CHECK(count<BfdDown>(p.events_a) == 0);
    CHECK(count<BfdDown>(p.events_b) == 0);
}

TEST_CASE("bfd session: detection at exactly the detection time, not 1 ms before") {
    Pair p(config(kDiscA), config(kDiscB));
    bring_up(p);
    p.b_to_a = false;  // B's packets stop reaching A
    const TimePoint last = *p.last_rx_a;
    const TimePoint detect = last + 900ms;  // 3 x max(300 ms, 300 ms)
    p.advance_to(detect - 1ms);
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.a.next_deadline() <= detect);
    p.advance_to(detect);
    CHECK(p.a.state() == BfdState::Down);
    CHECK(p.a.local_diag() == BfdDiag::ControlDetectionTimeExpired);
    CHECK(p.a.remote_discriminator() == 0);
    const auto* down = last_down(p.events_a);
    REQUIRE(down);
    CHECK(down->diag == BfdDiag::ControlDetectionTimeExpired);
    CHECK(down->path_failure);
    // A said Down to B, which still hears A: B goes Down with diagnostic 3.
    CHECK(p.b.state() == BfdState::Down);
    REQUIRE(last_down(p.events_b));
    CHECK(last_down(p.events_b)->diag == BfdDiag::NeighborSignaledSessionDown);
    CHECK(last_down(p.events_b)->path_failure);
    // Link back: both return to Up.
    p.b_to_a = true;
    p.advance_to(p.now + 5s);
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.b.state() == BfdState::Up);
}

TEST_CASE("bfd session: detection time while Init uses the remote's 1 s rate") {
    Pair p(config(kDiscA), config(kDiscB));
    p.b_to_a = false;
    p.start();  // A's Down reaches B: B goes Init; A never hears B
    CHECK(p.b.state() == BfdState::Init);
    CHECK(p.b.detection_time() == 3s);
    p.a_to_b = false;
    p.advance_to(p.now + 3s - 1ms);
    CHECK(p.b.state() == BfdState::Init);
    p.advance_to(p.now + 1ms);
    CHECK(p.b.state() == BfdState::Down);
    CHECK(p.b.local_diag() == BfdDiag::ControlDetectionTimeExpired);
    CHECK(count<BfdDown>(p.events_b) == 0);  // never was Up: no Down event
}

namespace {
// Gaps between A's packets while both ends stay Up and no Poll Sequence runs.
std::vector<Micros> periodic_gaps(Pair& p, int intervals) {
    bring_up(p);
    p.advance_to(p.now + 2s);
    const std::size_t from = p.sent_a.size();
    p.advance_to(p.now + intervals * 300ms);
    std::vector<Micros> gaps;
    for (std::size_t i = from + 1; i < p.sent_a.size(); ++i) {
        REQUIRE_FALSE(p.sent_a[i].packet.poll);
        REQUIRE_FALSE(p.sent_a[i].packet.final);
        gaps.push_back(std::chrono::duration_cast<Micros>(p.sent_a[i].at - p.sent_a[i - 1].at));
    }
    return gaps;
}
}  // namespace

TEST_CASE("bfd session: transmit jitter stays within 75-100% of the interval") {
    Pair p(config(kDiscA), config(kDiscB), seeded(42), seeded(43));
    const auto gaps = periodic_gaps(p, 2000);
    REQUIRE(gaps.size() > 1500);
    const auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
    CHECK(*lo >= 225ms);
    CHECK(*hi <= 300ms);
    // The jitter is really applied: the spread covers most of the permitted range.
    CHECK(*lo < 230ms);
    CHECK(*hi > 295ms);
}

TEST_CASE("bfd session: jitter with Detect Mult 1 stays within 75-90%") {
    Pair p(config(kDiscA, 300ms, 300ms, 1), config(kDiscB, 300ms, 300ms, 1), seeded(7), seeded(8));
    const auto gaps = periodic_gaps(p, 2000);
    REQUIRE(gaps.size() > 1500);
    const auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
    CHECK(*lo >= 225ms);
    CHECK(*hi <= 270ms);
    CHECK(*lo < 230ms);
    CHECK(*hi > 265ms);
}

TEST_CASE("bfd session: jitter extremes with a fixed random source") {
    auto gaps_with = [](std::uint32_t r) {
        Pair p(
            config(kDiscA), config(kDiscB), [r] { return r; }, [r] { return r; });
        return periodic_gaps(p, 20);
    };
    for (auto g : gaps_with(0)) CHECK(g == 300ms);
    for (auto g : gaps_with(0xffffffff)) CHECK(g == 225001us);  // 300 ms - 74999 us
}

TEST_CASE("bfd session: local admin down is seen by the peer, neither is a path failure") {
    Pair p(config(kDiscA), config(kDiscB));
    bring_up(p);
    p.a.admin_down(p.now);
    p.pump();
    CHECK(p.a.state() == BfdState::AdminDown);
    REQUIRE(last_down(p.events_a));
    CHECK(last_down(p.events_a)->diag == BfdDiag::AdministrativelyDown);
    CHECK_FALSE(last_down(p.events_a)->path_failure);
    CHECK(p.sent_a.back().packet.state == BfdState::AdminDown);
    CHECK(p.sent_a.back().packet.diag == BfdDiag::AdministrativelyDown);
    // B: Down with "neighbor signaled session down", not a path failure (RFC 5882 section 3.2).
    CHECK(p.b.state() == BfdState::Down);
    REQUIRE(last_down(p.events_b));
    CHECK(last_down(p.events_b)->diag == BfdDiag::NeighborSignaledSessionDown);
    CHECK_FALSE(last_down(p.events_b)->path_failure);
    // Both stay down for as long as A is AdminDown; A keeps sending at the 1 s floor.
    const std::size_t from = p.sent_a.size();
    p.advance_to(p.now + 10s);
    CHECK(p.a.state() == BfdState::AdminDown);
    CHECK(p.b.state() == BfdState::Down);
    CHECK(count<BfdDown>(p.events_b) == 1);
    CHECK(p.sent_a.size() - from >= 10);
    for (std::size_t i = from + 1; i < p.sent_a.size(); ++i) {
        CHECK(p.sent_a[i].at - p.sent_a[i - 1].at >= 750ms);
        CHECK(p.sent_a[i].packet.desired_min_tx_us == 1'000'000);
    }
    // Admin up: both come back.
    p.a.admin_up(p.now);
    p.pump();
    p.advance_to(p.now + 5s);
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.b.state() == BfdState::Up);
    CHECK(count<BfdUp>(p.events_a) == 2);
    CHECK(count<BfdUp>(p.events_b) == 2);
}

TEST_CASE("bfd session: an AdminDown session ignores the peer and does not detect") {
    Pair p(config(kDiscA), config(kDiscB));
    bring_up(p);
    p.b.admin_down(p.now);
    p.pump();
    p.b_to_a = false;
    p.advance_to(p.now + 5s);
    CHECK(p.b.state() == BfdState::AdminDown);
    CHECK(p.a.state() == BfdState::Down);
    CHECK(count<BfdDown>(p.events_b) == 1);
    CHECK(count<BfdDown>(p.events_a) == 1);
}

TEST_CASE("bfd session: poll sequence for a slower transmit rate") {
    Pair p(config(kDiscA), config(kDiscB));
    bring_up(p);
    p.advance_to(p.now + 2s);
    p.hold_b_to_a = true;  // keep B's Final from A for now
    p.a.set_parameters(600ms, 300ms, 3, p.now);
    p.pump();
    CHECK(p.a.poll_active());
    const auto& polled = p.sent_a.back().packet;
    CHECK(polled.poll);
    CHECK(polled.desired_min_tx_us == 600'000);
    // B answered at once with F (and P clear); B now expects A at 3 x 600 ms.
    REQUIRE_FALSE(p.held.empty());
    CHECK(decode_bfd_control(p.held.back())->final);
    CHECK(p.b.detection_time() == 1800ms);
    // Section 6.8.3: the slower rate is not used before the Poll Sequence ends.
    CHECK(p.a.transmit_interval() == 300ms);
    p.release();
    CHECK_FALSE(p.a.poll_active());
    CHECK(p.a.transmit_interval() == 600ms);
    const std::size_t from = p.sent_a.size();
    p.advance_to(p.now + 6s);
    for (std::size_t i = from; i < p.sent_a.size(); ++i) CHECK_FALSE(p.sent_a[i].packet.poll);
    for (std::size_t i = from + 1; i < p.sent_a.size(); ++i) {
        CHECK(p.sent_a[i].at - p.sent_a[i - 1].at >= 450ms);
    }
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.b.state() == BfdState::Up);
}

TEST_CASE("bfd session: a shorter Required Min RX shortens detection only after the poll") {
    // B sends fast (50 ms), so A's detection time follows A's own Required Min RX.
    Pair p(config(kDiscA), config(kDiscB, 50ms, 50ms));
    bring_up(p);
    p.advance_to(p.now + 2s);
    CHECK(p.a.detection_time() == 900ms);
    p.hold_b_to_a = true;
    p.a.set_parameters(300ms, 100ms, 3, p.now);
    p.pump();
    CHECK(p.sent_a.back().packet.required_min_rx_us == 100'000);
    CHECK(p.a.detection_time() == 900ms);  // the old value until the Final arrives
    p.release();
    CHECK(p.a.detection_time() == 300ms);
    p.advance_to(p.now + 3s);
    CHECK(p.a.state() == BfdState::Up);
    CHECK(p.b.transmit_interval() == 100ms);  // B sends no faster than A accepts
}

TEST_CASE("bfd session: faster transmit rate applies at once") {
    Pair p(config(kDiscA), config(kDiscB, 300ms, 100ms));
    bring_up(p);
    p.advance_to(p.now + 2s);
    p.hold_b_to_a = true;
    p.a.set_parameters(100ms, 300ms, 3, p.now);
    CHECK(p.a.transmit_interval() == 100ms);
    CHECK(p.a.poll_active());
    p.release();
}

TEST_CASE("bfd session: foreign Your Discriminator is rejected, Required Min RX 0 stops tx") {
    BfdSession s(config(kDiscA), seeded(3));
    TimePoint t{};
    s.start(t);
    CHECK(s.take_packets().size() == 1);
    BfdControl c;
    c.state = BfdState::Down;
    c.detect_mult = 3;
    c.my_discriminator = kDiscB;
    c.your_discriminator = 0x9999;
    c.desired_min_tx_us = 1'000'000;
    c.required_min_rx_us = 0;
    auto r = s.on_packet(c, t);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == BfdRejectReason::DiscriminatorMismatch);
    CHECK(s.state() == BfdState::Down);
    auto malformed = s.on_datagram(Bytes(10, 0), t);
    REQUIRE_FALSE(malformed);
    CHECK(malformed.error().decode_error == BfdDecodeError::Truncated);
    // The remote asks for no packets (Required Min RX 0): nothing periodic goes out.
    c.your_discriminator = 0;
    REQUIRE(s.on_packet(c, t));
    CHECK(s.state() == BfdState::Init);
    (void)s.take_packets();  // the state change packet
    for (int i = 0; i < 20; ++i) {
        t += 500ms;
        s.on_timer(t);
        c.your_discriminator = kDiscA;
        c.state = BfdState::Init;
        REQUIRE(s.on_packet(c, t));
    }
    CHECK(s.state() == BfdState::Up);
    auto left = s.take_packets();
    CHECK(left.size() == 1);  // only the immediate Up announcement
}

TEST_CASE("bfd session: before the peer appears, packets go out at the 1 s floor") {
    BfdSession s(config(kDiscA), seeded(5));
    TimePoint t{};
    s.start(t);
    std::vector<TimePoint> at{t};
    (void)s.take_packets();
    for (int i = 0; i < 50; ++i) {
        t = *s.next_deadline();
        s.on_timer(t);
        auto pk = s.take_packets();
        REQUIRE(pk.size() == 1);
        auto d = decode_bfd_control(pk[0]);
        CHECK(d->desired_min_tx_us == 1'000'000);
        CHECK(d->state == BfdState::Down);
        at.push_back(t);
    }
    for (std::size_t i = 1; i < at.size(); ++i) {
        CHECK(at[i] - at[i - 1] >= 750ms);
        CHECK(at[i] - at[i - 1] <= 1s);
    }
}
