// Key material for one SA direction (encryption key incl. GCM salt, or integrity key).
//
// A fixed-capacity buffer so the bytes are never reallocated behind our back; every copy is
// independent and every destructor, move and assignment wipes with OPENSSL_cleanse. There is
// no printing operator: the only access is `bytes()`, easy to audit with grep.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cgwd::dataplane {

class KeyBytes {
  public:
    // Largest key we carry: HMAC-SHA2-512 key (64 bytes); AES-256-GCM is 32 + 4 salt.
    static constexpr std::size_t capacity = 64;

    KeyBytes() = default;
    // Copies `bytes`; more than `capacity` bytes leave the key empty and valid() false.
    explicit KeyBytes(std::span<const std::uint8_t> bytes);
    KeyBytes(const KeyBytes& other);
    KeyBytes(KeyBytes&& other) noexcept;
    KeyBytes& operator=(const KeyBytes& other);
    KeyBytes& operator=(KeyBytes&& other) noexcept;
    ~KeyBytes();

    std::span<const std::uint8_t> bytes() const { return {data_.data(), size_}; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool valid() const { return valid_; }

    // Constant-time comparison (for tests and for update_sa change detection).
    friend bool operator==(const KeyBytes& a, const KeyBytes& b);

  private:
    void wipe() noexcept;
    std::array<std::uint8_t, capacity> data_{};
    std::size_t size_ = 0;
    bool valid_ = true;
};

}  // namespace cgwd::dataplane
