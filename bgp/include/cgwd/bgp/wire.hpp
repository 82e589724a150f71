// Byte cursor and writer shared by the BGP wire codecs (RFC 4271 big-endian encoding).
//
// Reader: the caller checks the length it needs once (`has(n)`), then reads through the cursor.
// Reads past the end never touch memory outside the span: they return zero and latch `failed()`,
// so a forgotten check shows up as a decode error instead of undefined behaviour.
// Writer: appends big-endian integers to a byte vector and can back-patch a 16-bit length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cgwd::bgp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

class Reader {
  public:
    explicit Reader(ByteView data) : data_(data) {}

    [[nodiscard]] bool has(std::size_t n) const { return !failed_ && data_.size() - pos_ >= n; }
    [[nodiscard]] std::size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
    [[nodiscard]] bool empty() const { return remaining() == 0; }
    [[nodiscard]] bool failed() const { return failed_; }
    [[nodiscard]] std::size_t position() const { return pos_; }

    std::uint8_t u8() {
        if (!take(1)) return 0;
        return data_[pos_ - 1];
    }
    std::uint16_t u16() {
        if (!take(2)) return 0;
        return static_cast<std::uint16_t>((data_[pos_ - 2] << 8) | data_[pos_ - 1]);
    }
    std::uint32_t u32() {
        if (!take(4)) return 0;
        const auto* p = &data_[pos_ - 4];
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }
    ByteView bytes(std::size_t n) {
        if (!take(n)) return {};
        return data_.subspan(pos_ - n, n);
    }
    ByteView rest() { return bytes(remaining()); }

  private:
    bool take(std::size_t n) {
        if (!has(n)) {
            failed_ = true;
            return false;
        }
        pos_ += n;
        return true;
    }

    ByteView data_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

class Writer {
  public:
    explicit Writer(Bytes& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            out_.push_back(static_cast<std::uint8_t>(v >> shift));
        }
    }
    void bytes(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
    [[nodiscard]] std::size_t size() const { return out_.size(); }
    // Overwrites two bytes at `offset` with `v` (for length fields known only afterwards).
    void patch_u16(std::size_t offset, std::uint16_t v) {
        out_[offset] = static_cast<std::uint8_t>(v >> 8);
        out_[offset + 1] = static_cast<std::uint8_t>(v);
    }

  private:
    Bytes& out_;
};

}  // namespace cgwd::bgp
