// ESP anti-replay window (RFC 4303 section 3.4.3 and Appendix A).
//
// A sliding window of `size` packets (64..4096) kept as a ring bitmap of 64-bit words, sized
// once when the SA is created. With ESN the receiver only sees the low 32 bits of the sequence
// number; infer() reconstructs the high 32 bits per RFC 4303 Appendix A2.2. check() is pure:
// the caller verifies the ICV first and only then calls accept() (RFC 4303 section 3.4.3).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace cgwd::dataplane {

enum class ReplayCheck : std::uint8_t { ok, duplicate, too_old };

class ReplayWindow {
  public:
    static constexpr std::uint32_t min_size = 64;
    static constexpr std::uint32_t max_size = 4096;

    // `size` is clamped to [min_size, max_size].
    ReplayWindow(std::uint32_t size, bool esn);

    // Full sequence number for the 32 bits on the wire; nullopt when it cannot be in or above
    // the window (with ESN: would need a negative high half; without: the value 0).
    std::optional<std::uint64_t> infer(std::uint32_t seq_low) const;
    ReplayCheck check(std::uint64_t seq) const;
    // Marks `seq` received and slides the window when it is the new highest.
    void accept(std::uint64_t seq);

    // Sets the highest received number and marks the whole window as received (conservative:
    // nothing at or below `highest` is accepted again). For state restored from elsewhere.
    void restore(std::uint64_t highest);

    std::uint64_t highest() const { return top_; }
    std::uint32_t size() const { return size_; }

  private:
    bool test_bit(std::uint64_t seq) const;
    void set_bit(std::uint64_t seq);
    void clear_bit(std::uint64_t seq);

    std::uint32_t size_;
    bool esn_;
    std::uint64_t top_ = 0;            // highest accepted sequence number (0: none yet)
    std::vector<std::uint64_t> bits_;  // ring: bit (seq mod bits_.size()*64)
};

}  // namespace cgwd::dataplane
