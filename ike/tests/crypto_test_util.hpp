// Helpers for the crypto unit tests: hex decoding of RFC-formatted vectors and a
// deterministic Random.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cgwd/ike/crypto.hpp"

namespace cgwd::ike::crypto::test {

// Hex to bytes; whitespace is skipped so RFC text ("C88F01F5 10D9AC3F ...") can be pasted.
inline Bytes hex(std::string_view text) {
    Bytes out;
    int high = -1;
    for (char ch : text) {
        int v;
        if (ch >= '0' && ch <= '9') {
            v = ch - '0';
        } else if (ch >= 'a' && ch <= 'f') {
            v = ch - 'a' + 10;
        } else if (ch >= 'A' && ch <= 'F') {
            v = ch - 'A' + 10;
        } else if (ch == ' ' || ch == '\n' || ch == '\t') {
            continue;
        } else {
            throw std::invalid_argument("bad hex digit");
        }
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0) throw std::invalid_argument("odd hex length");
    return out;
}

inline Bytes ascii(std::string_view text) {
    return Bytes(text.begin(), text.end());
}

inline Bytes repeat(std::uint8_t byte, std::size_t n) {
    return Bytes(n, byte);
}

inline Bytes to_bytes(ByteView v) {
    return Bytes(v.begin(), v.end());
}
inline Bytes to_bytes(const SecretBytes& s) {
    return to_bytes(s.reveal());
}

inline Bytes concat(std::initializer_list<ByteView> parts) {
    Bytes out;
    for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Yields queued byte strings first, then a counter pattern 0x00 0x01 0x02 ...
class ScriptedRandom final : public Random {
  public:
    void queue(Bytes bytes) { queued_.insert(queued_.end(), bytes.begin(), bytes.end()); }
    void fail_next() { fail_ = true; }
    bool fill(std::span<std::uint8_t> out) override {
        if (fail_) {
            fail_ = false;
            return false;
        }
        for (auto& b : out) {
            if (!queued_.empty()) {
                b = queued_.front();
                queued_.pop_front();
            } else {
                b = counter_++;
            }
        }
        return true;
    }

  private:
    std::deque<std::uint8_t> queued_;
    std::uint8_t counter_ = 0;
    bool fail_ = false;
};

}  // namespace cgwd::ike::crypto::test
