#include "cgwd/dataplane/replay.hpp"

#include <algorithm>

namespace cgwd::dataplane {

ReplayWindow::ReplayWindow(std::uint32_t size, bool esn)
    : size_(std::clamp(size, min_size, max_size)), esn_(esn), bits_((size_ + 63) / 64, 0) {}

std::optional<std::uint64_t> ReplayWindow::infer(std::uint32_t seq_low) const {
    if (!esn_) {
        if (seq_low == 0) return std::nullopt;  // never sent (RFC 4303 section 3.3.3)
        return seq_low;
    }
    // RFC 4303 Appendix A2.2: Tl/Th are the low/high halves of the highest sequence number
    // received, W the window size, Bl the low half of the window's bottom.
    const auto tl = static_cast<std::uint32_t>(top_);
    const auto th = static_cast<std::uint32_t>(top_ >> 32);
    const std::uint32_t bl = tl - size_ + 1;  // modulo 2^32
    std::uint64_t seq_high = th;
    if (tl >= size_ - 1) {
        // Case A: the window lies within one sequence number subspace.
        if (seq_low < bl) seq_high = std::uint64_t{th} + 1;
    } else {
        // Case B: the window spans two subspaces; Bl has wrapped into the previous one.
        if (seq_low >= bl) {
            if (th == 0) return std::nullopt;  // would be before the first sequence number
            seq_high = th - 1;
        }
    }
    if (seq_high > 0xffffffffu) return std::nullopt;  // 2^64 wrap: not representable
    const std::uint64_t seq = (seq_high << 32) | seq_low;
    if (seq == 0) return std::nullopt;
    return seq;
}

ReplayCheck ReplayWindow::check(std::uint64_t seq) const {
    if (seq == 0) return ReplayCheck::too_old;
    if (seq > top_) return ReplayCheck::ok;
    if (top_ - seq >= size_) return ReplayCheck::too_old;
    return test_bit(seq) ? ReplayCheck::duplicate : ReplayCheck::ok;
}

void ReplayWindow::accept(std::uint64_t seq) {
    if (seq > top_) {
        const std::uint64_t ring = bits_.size() * 64;
        if (seq - top_ >= ring) {
            std::fill(bits_.begin(), bits_.end(), 0);
        } else {
            for (std::uint64_t s = top_ + 1; s < seq; ++s) clear_bit(s);
        }
        top_ = seq;
    }
    set_bit(seq);
}

void ReplayWindow::restore(std::uint64_t highest) {
    top_ = highest;
    std::fill(bits_.begin(), bits_.end(), ~std::uint64_t{0});
}

bool ReplayWindow::test_bit(std::uint64_t seq) const {
    const std::uint64_t pos = seq % (bits_.size() * 64);
    return (bits_[pos / 64] >> (pos % 64)) & 1u;
}

void ReplayWindow::set_bit(std::uint64_t seq) {
    const std::uint64_t pos = seq % (bits_.size() * 64);
    bits_[pos / 64] |= std::uint64_t{1} << (pos % 64);
}

void ReplayWindow::clear_bit(std::uint64_t seq) {
    const std::uint64_t pos = seq % (bits_.size() * 64);
    bits_[pos / 64] &= ~(std::uint64_t{1} << (pos % 64));
}

}  // namespace cgwd::dataplane
