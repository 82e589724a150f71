#include "cgwd/config/secret.hpp"

#include <string.h>  // explicit_bzero

namespace cgwd::config {

Secret& Secret::operator=(const Secret& other) {
    if (this != &other) {
        wipe();
        value_ = other.value_;
    }
    return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        wipe();
        value_ = std::move(other.value_);
        other.wipe();
    }
    return *this;
}

void Secret::wipe() noexcept {
    // Wipe the whole buffer, including a short-string buffer, before the string lets go of it.
    if (value_.capacity() > 0) explicit_bzero(value_.data(), value_.capacity());
    value_.clear();
}

}  // namespace cgwd::config
