// Test helpers for the BGP codec tests: hex literals and message framing.
#pragma once

#include <cctype>
#include <string_view>

#include "cgwd/bgp/message.hpp"

namespace cgwd::bgp::test {

// "ff 00 1a" -> bytes; whitespace ignored.
inline Bytes hex(std::string_view s) {
    Bytes out;
    int hi = -1;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        const int v =
            std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

inline Bytes cat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

inline const char* kMarker = "ffffffffffffffffffffffffffffffff";

}  // namespace cgwd::bgp::test
