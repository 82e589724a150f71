// Anti-replay window (RFC 4303 section 3.4.3, ESN inference per Appendix A2.2).
#include <catch2/catch.hpp>

#include "cgwd/dataplane/replay.hpp"

using namespace cgwd::dataplane;

TEST_CASE("Replay window: first packet, sequence number 0 and duplicates") {
    ReplayWindow w(64, false);
    CHECK_FALSE(w.infer(0).has_value());  // 0 is never sent
    REQUIRE(w.infer(1) == 1u);
    CHECK(w.check(1) == ReplayCheck::ok);
    w.accept(1);
    CHECK(w.check(1) == ReplayCheck::duplicate);
    CHECK(w.highest() == 1);
    // First packet may arrive with a high number; lower ones in the window are still fine.
    ReplayWindow v(64, false);
    v.accept(50);
    CHECK(v.check(1) == ReplayCheck::ok);
    CHECK(v.check(50) == ReplayCheck::duplicate);
}

TEST_CASE("Replay window: exactly at the edge and just outside") {
    for (std::uint32_t size : {64u, 100u, 1024u, 4096u}) {
        ReplayWindow w(size, false);
        const std::uint64_t top = 10000;
        w.accept(top);
        const std::uint64_t bottom = top - size + 1;  // oldest number inside the window
        CHECK(w.check(bottom) == ReplayCheck::ok);
        CHECK(w.check(bottom - 1) == ReplayCheck::too_old);
        w.accept(bottom);
        CHECK(w.check(bottom) == ReplayCheck::duplicate);
        // Advancing by one pushes `bottom` out of the window.
        w.accept(top + 1);
        CHECK(w.check(bottom) == ReplayCheck::too_old);
        CHECK(w.check(bottom + 1) == ReplayCheck::ok);
    }
}

TEST_CASE("Replay window: sliding clears old bits (no aliasing in the ring)") {
    ReplayWindow w(64, false);
    for (std::uint64_t s = 1; s <= 64; ++s) w.accept(s);
    w.accept(65);
    CHECK(w.check(1) == ReplayCheck::too_old);
    CHECK(w.check(2) == ReplayCheck::duplicate);
    // Jump by 60: 66..124 were never received and must read as new, not as the old bits
    // that shared their ring positions.
    w.accept(125);
    for (std::uint64_t s = 66; s < 125; ++s) REQUIRE(w.check(s) == ReplayCheck::ok);
    CHECK(w.check(65) == ReplayCheck::duplicate);  // 125 - 65 = 60: still inside
    CHECK(w.check(62) == ReplayCheck::duplicate);  // bottom of the window (125 - 63)
    CHECK(w.check(61) == ReplayCheck::too_old);
}

TEST_CASE("Replay window: a large jump empties the window") {
    ReplayWindow w(1024, false);
    for (std::uint64_t s = 1; s <= 2000; ++s) w.accept(s);
    w.accept(1'000'000);
    CHECK(w.check(1'000'000) == ReplayCheck::duplicate);
    CHECK(w.check(999'999) == ReplayCheck::ok);
    CHECK(w.check(1'000'000 - 1023) == ReplayCheck::ok);
    CHECK(w.check(1'000'000 - 1024) == ReplayCheck::too_old);
    CHECK(w.check(2000) == ReplayCheck::too_old);
}

TEST_CASE("Replay window: ESN high-half inference, RFC 4303 Appendix A2.2 case A") {
    ReplayWindow w(64, true);
    w.accept(0x1'8000'0000ull);                       // Th = 1, Tl = 0x80000000 >= W - 1
    CHECK(w.infer(0x8000'0010) == 0x1'8000'0010ull);  // Seql >= Bl: same subspace, ahead
    CHECK(w.infer(0x7fff'ffc1) == 0x1'7fff'ffc1ull);  // == Bl: bottom of the window
    CHECK(w.check(0x1'7fff'ffc1ull) == ReplayCheck::ok);
    CHECK(w.infer(0x7fff'ffc0) == 0x2'7fff'ffc0ull);  // < Bl: next subspace
    CHECK(w.infer(0x10) == 0x2'0000'0010ull);
}

TEST_CASE("Replay window: ESN inference across the 2^32 boundary, case B") {
    ReplayWindow w(64, true);
    w.accept(0xffff'fff0ull);
    w.accept(0x1'0000'0005ull);  // Th = 1, Tl = 5 < W - 1: window spans two subspaces
    // Low halves near 2^32 belong to the previous subspace (Th - 1).
    REQUIRE(w.infer(0xffff'fff8) == 0xffff'fff8ull);
    CHECK(w.check(0xffff'fff8ull) == ReplayCheck::ok);
    CHECK(w.check(0xffff'fff0ull) == ReplayCheck::duplicate);
    CHECK(w.infer(0xffff'ffc6) == 0xffff'ffc6ull);  // Bl = 5 - 64 + 1 mod 2^32
    CHECK(w.check(0xffff'ffc6ull) == ReplayCheck::ok);
    CHECK(w.check(0xffff'ffc5ull) == ReplayCheck::too_old);
    // Low halves below Bl are in the current subspace.
    CHECK(w.infer(3) == 0x1'0000'0003ull);
    CHECK(w.infer(0xffff'ffc5) == 0x1'ffff'ffc5ull);
}

TEST_CASE("Replay window: ESN at the start refuses numbers 'before' the first") {
    ReplayWindow w(64, true);  // nothing received: T = 0, case B with Th = 0
    CHECK_FALSE(w.infer(0).has_value());
    CHECK_FALSE(w.infer(0xffff'ffff).has_value());
    CHECK(w.infer(1) == 1u);
    // Bl = 0 - 64 + 1 = 0xffffffc1: at or above it the high half would be -1.
    CHECK_FALSE(w.infer(0xffff'ffc1).has_value());
    CHECK(w.infer(0xffff'ffc0) == 0xffff'ffc0ull);
}

TEST_CASE("Replay window: restore marks the whole window as received") {
    ReplayWindow w(64, true);
    w.restore(0x5'0000'0010ull);
    CHECK(w.check(0x5'0000'0010ull) == ReplayCheck::duplicate);
    CHECK(w.check(0x5'0000'0001ull) == ReplayCheck::duplicate);
    CHECK(w.check(0x5'0000'0011ull) == ReplayCheck::ok);
    CHECK(w.infer(0x11) == 0x5'0000'0011ull);
}
