// Byte cursors for the IKEv2 wire codec (RFC 7296 section 3: all fields are network byte order).
//
// `Reader` walks a read-only span and tracks the absolute offset of every byte inside the
// original datagram so decode errors can name where they happened. Callers check a length once
// with `need()` and then read through the cursor; reads past the end never touch memory outside
// the span (they return zeros and poison the cursor) so a missed check cannot become an
// out-of-bounds read. `Writer` appends big-endian fields and patches length fields afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cgwd::ike {

class Reader {
  public:
    // `base` is the absolute offset of data[0] inside the outermost buffer (for error offsets).
    explicit Reader(std::span<const std::uint8_t> data, std::size_t base = 0)
        : data_(data), base_(base) {}

    std::size_t remaining() const { return data_.size() - pos_; }
    bool empty() const { return remaining() == 0; }
    std::size_t offset() const { return base_ + pos_; }  // absolute offset of the next byte
    bool has(std::size_t n) const { return n <= remaining(); }
    bool poisoned() const { return poisoned_; }

    std::uint8_t u8() {
        if (!take(1)) return 0;
        return data_[pos_ - 1];
    }
    std::uint16_t u16() {
        if (!take(2)) return 0;
        return static_cast<std::uint16_t>((data_[pos_ - 2] << 8) | data_[pos_ - 1]);
    }
    std::uint32_t u32() {
        std::uint32_t hi = u16();
        return (hi << 16) | u16();
    }
    std::uint64_t u64() {
        std::uint64_t hi = u32();
        return (hi << 32) | u32();
    }
    void skip(std::size_t n) { (void)take(n); }
    // The next `n` bytes as a span (empty span if fewer remain; the cursor is then poisoned).
    std::span<const std::uint8_t> span(std::size_t n) {
        if (!take(n)) return {};
        return data_.subspan(pos_ - n, n);
    }
    std::vector<std::uint8_t> bytes(std::size_t n) {
        auto s = span(n);
        return {s.begin(), s.end()};
    }
    std::vector<std::uint8_t> rest() { return bytes(remaining()); }
    // A sub-reader over the next `n` bytes (keeps absolute offsets); advances this cursor.
    Reader sub(std::size_t n) {
        std::size_t at = offset();
        return Reader(span(n), at);
    }

  private:
    bool take(std::size_t n) {
        if (n > remaining()) {
            poisoned_ = true;
            pos_ = data_.size();
            return false;
        }
        pos_ += n;
        return true;
    }

    std::span<const std::uint8_t> data_;
    std::size_t base_ = 0;
    std::size_t pos_ = 0;
    bool poisoned_ = false;
};

class Writer {
  public:
    explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

    std::size_t size() const { return out_.size(); }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void patch_u8(std::size_t at, std::uint8_t v) { out_[at] = v; }
    void patch_u16(std::size_t at, std::uint16_t v) {
        out_[at] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(v);
    }
    void patch_u32(std::size_t at, std::uint32_t v) {
        patch_u16(at, static_cast<std::uint16_t>(v >> 16));
        patch_u16(at + 2, static_cast<std::uint16_t>(v));
    }

  private:
    std::vector<std::uint8_t>& out_;
};

}  // namespace cgwd::ike
