// Truncated HMAC integrity check values for ESP (RFC 2404 HMAC-SHA1-96, RFC 4868
// HMAC-SHA2-256-128 / -384-192 / -512-256).
//
// One IcvHmac per SA direction: the OpenSSL EVP_MAC context is keyed once and re-initialised
// per packet without reallocation. compute() covers `data` followed, when ESN is on, by the
// high-order 32 bits of the sequence number (RFC 4303 section 2.2.1: included in the ICV
// computation, never transmitted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>

#include "cgwd/dataplane/error.hpp"

namespace cgwd::dataplane {

class IcvHmac {
  public:
    // `integ`: config::integ::hmac_* id; `key` must have the hash output length.
    [[nodiscard]] static std::expected<IcvHmac, Error> create(std::uint16_t integ,
                                                              std::span<const std::uint8_t> key);
    IcvHmac(IcvHmac&&) noexcept;
    IcvHmac& operator=(IcvHmac&&) noexcept;
    ~IcvHmac();

    std::size_t icv_length() const { return icv_len_; }  // 12, 16, 24 or 32
    // Writes icv_length() bytes to `icv`; false if the crypto library failed.
    [[nodiscard]] bool compute(std::span<const std::uint8_t> data,
                               std::optional<std::uint32_t> esn_high, std::uint8_t* icv);

  private:
    struct State;
    IcvHmac() = default;
    std::unique_ptr<State> state_;
    std::size_t icv_len_ = 0;
};

}  // namespace cgwd::dataplane
