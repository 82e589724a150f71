#include "cgwd/dataplane/keys.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "cgwd/dataplane/error.hpp"

namespace cgwd::dataplane {

const char* to_string(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
            return "invalid argument";
        case Errc::not_found:
            return "not found";
        case Errc::already_exists:
            return "already exists";
        case Errc::unsupported:
            return "unsupported";
        case Errc::system:
            return "system error";
        case Errc::crypto:
            return "crypto error";
    }
    return "unknown";
}

KeyBytes::KeyBytes(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > capacity) {
        valid_ = false;
        return;
    }
    std::copy(bytes.begin(), bytes.end(), data_.begin());
    size_ = bytes.size();
}

KeyBytes::KeyBytes(const KeyBytes& other)
    : data_(other.data_), size_(other.size_), valid_(other.valid_) {}

KeyBytes::KeyBytes(KeyBytes&& other) noexcept
    : data_(other.data_), size_(other.size_), valid_(other.valid_) {
    other.wipe();
}

KeyBytes& KeyBytes::operator=(const KeyBytes& other) {
    if (this != &other) {
        wipe();
        data_ = other.data_;
        size_ = other.size_;
        valid_ = other.valid_;
    }
    return *this;
}

KeyBytes& KeyBytes::operator=(KeyBytes&& other) noexcept {
    if (this != &other) {
        wipe();
        data_ = other.data_;
        size_ = other.size_;
        valid_ = other.valid_;
        other.wipe();
    }
    return *this;
}

KeyBytes::~KeyBytes() {
    wipe();
}

void KeyBytes::wipe() noexcept {
    OPENSSL_cleanse(data_.data(), data_.size());
    size_ = 0;
    valid_ = true;
}

bool operator==(const KeyBytes& a, const KeyBytes& b) {
    if (a.size_ != b.size_ || a.valid_ != b.valid_) return false;
    return CRYPTO_memcmp(a.data_.data(), b.data_.data(), a.size_) == 0;
}

}  // namespace cgwd::dataplane
