#include "cgwd/bgp/framer.hpp"

#include <algorithm>

namespace cgwd::bgp {
namespace {

bool length_fits_type(MessageType type, std::size_t len) {
    switch (type) {
        case MessageType::Open:
            return len >= 29;
        case MessageType::Update:
            return len >= 23;
        case MessageType::Notification:
            return len >= 21;
        case MessageType::Keepalive:
            return len == 19;
        case MessageType::RouteRefresh:
            return len == 23;
    }
    return false;
}

}  // namespace

void Framer::feed(ByteView bytes) {
    if (error_) return;
    // Compact once the consumed prefix dominates, keeping the buffer bounded.
    if (start_ > 0 && start_ >= buf_.size() / 2) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(start_));
        start_ = 0;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

std::expected<std::optional<RawMessage>, Notification> Framer::next() {
    if (error_) return std::unexpected(*error_);
    const ByteView avail = ByteView(buf_).subspan(start_);
    // The marker is checked as soon as its octets arrive, so garbage is rejected early.
    const std::size_t marker_seen = std::min(avail.size(), kMarkerSize);
    if (!std::all_of(avail.begin(), avail.begin() + static_cast<long>(marker_seen),
                     [](std::uint8_t b) { return b == 0xff; })) {
        error_ =
            Notification::make(ErrorCode::MessageHeader, header_error::kConnectionNotSynchronized);
        return std::unexpected(*error_);
    }
    if (avail.size() < kHeaderSize) return std::nullopt;
    Reader r(avail.subspan(kMarkerSize, 3));
    const std::uint16_t length = r.u16();
    const std::uint8_t type = r.u8();
    if (length < kHeaderSize || length > max_size_) {
        error_ = Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageLength,
                                    {avail[16], avail[17]});
        return std::unexpected(*error_);
    }
    if (type < 1 || type > 5) {
        error_ =
            Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageType, {type});
        return std::unexpected(*error_);
    }
    if (!length_fits_type(static_cast<MessageType>(type), length)) {
        error_ = Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageLength,
                                    {avail[16], avail[17]});
        return std::unexpected(*error_);
    }
    if (avail.size() < length) return std::nullopt;
    RawMessage msg;
    msg.type = static_cast<MessageType>(type);
    msg.body.assign(avail.begin() + kHeaderSize, avail.begin() + length);
    start_ += length;
    if (start_ == buf_.size()) {
        buf_.clear();
        start_ = 0;
    }
    return msg;
}

}  // namespace cgwd::bgp
