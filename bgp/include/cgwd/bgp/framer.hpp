// BGP message framer: TCP bytes in (any chunking), whole messages out.
//
// RFC 4271 section 4.1 (header) and 6.1 (Message Header error handling). Header checks, in
// order: Marker all ones (else 1/1 Connection Not Synchronized), Length 19..max (else 1/2 Bad
// Message Length, data = the Length field), Type 1..5 (else 1/3 Bad Message Type, data = the
// Type field), and the per-type length rule of RFC 4271 section 6.1 / RFC 2918 section 3
// (OPEN >= 29, UPDATE >= 23, KEEPALIVE == 19, NOTIFICATION >= 21, ROUTE-REFRESH == 23; else 1/2).
// A header error is sticky: the session is over once one has been seen.
#pragma once

#include <expected>
#include <optional>

#include "cgwd/bgp/message.hpp"
#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

struct RawMessage {
    MessageType type = MessageType::Keepalive;
    Bytes body;  // the octets after the 19-octet header
    friend bool operator==(const RawMessage&, const RawMessage&) = default;
};

class Framer {
  public:
    explicit Framer(std::size_t max_message_size = kMaxMessageSize) : max_size_(max_message_size) {}

    // Appends received octets; cheap, no parsing.
    void feed(ByteView bytes);
    // The next whole message, nullopt when more octets are needed, or the NOTIFICATION to send.
    [[nodiscard]] std::expected<std::optional<RawMessage>, Notification> next();
    [[nodiscard]] std::size_t buffered() const { return buf_.size() - start_; }

  private:
    Bytes buf_;
    std::size_t start_ = 0;
    std::size_t max_size_;
    std::optional<Notification> error_;
};

}  // namespace cgwd::bgp
