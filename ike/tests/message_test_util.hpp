// Helpers shared by the IKEv2 codec tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cgwd/ike/message.hpp"

namespace cgwd::ike::test {

// "01 02 0a" -> {1, 2, 10}; spaces, newlines and '|' are ignored.
inline std::vector<std::uint8_t> hex(std::string_view text) {
    std::vector<std::uint8_t> out;
    int high = -1;
    for (char c : text) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) continue;
        const int v = std::isdigit(static_cast<unsigned char>(c))
                          ? c - '0'
                          : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high * 16 + v));
            high = -1;
        }
    }
    return out;
}

inline std::vector<std::uint8_t> filled(std::size_t n, std::uint8_t value) {
    return std::vector<std::uint8_t>(n, value);
}

inline std::vector<std::uint8_t> counting(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i);
    return out;
}

inline Payload make(PayloadType type, PayloadBody body, bool critical = false) {
    return Payload{type, critical, std::move(body)};
}

}  // namespace cgwd::ike::test
