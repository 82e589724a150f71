// Batched netlink requests (RFC 3549 section 2.3 message format; Linux processes every
// message of one sendmsg() in order and acknowledges each one that carries NLM_F_ACK with an
// NLMSG_ERROR message, error 0 for success, echoing the request's sequence number).
//
// BatchBuffer: several requests packed back to back into one send buffer (each aligned to
// NLMSG_ALIGNTO), with NLM_F_ACK added and consecutive sequence numbers, bounded by a byte and a
// message budget (KernelRoutes::apply uses 64 KiB / 256 messages per send).
// AckTracker: matches received acknowledgements to the batch's messages by sequence number
// (and port id); replies outside the batch are ignored. Both are free of I/O, so unit tests
// decode exactly what would be sent and feed hand-made acknowledgements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "cgwd/dataplane/netlink.hpp"

namespace cgwd::dataplane::nl {

class BatchBuffer {
  public:
    static constexpr std::size_t default_max_bytes = 65536;
    static constexpr std::size_t default_max_messages = 256;

    BatchBuffer(std::size_t max_bytes = default_max_bytes,
                std::size_t max_messages = default_max_messages);

    // Starts a new batch whose first message gets sequence number `first_seq`.
    void reset(std::uint32_t first_seq);
    // Appends a copy of `msg` with NLM_F_ACK, sequence number first_seq + count() and port id 0.
    // False (nothing appended) when the batch is full: the message budget is used up or the
    // message does not fit into the byte budget (a message alone always fits).
    [[nodiscard]] bool append(const NlMessage& msg);

    std::span<const std::uint8_t> bytes() const { return buffer_; }
    std::size_t count() const { return count_; }
    bool empty() const { return count_ == 0; }
    std::uint32_t first_seq() const { return first_seq_; }

  private:
    std::size_t max_bytes_;
    std::size_t max_messages_;
    std::vector<std::uint8_t> buffer_;
    std::size_t count_ = 0;
    std::uint32_t first_seq_ = 0;
};

class AckTracker {
  public:
    // A batch of `count` requests numbered first_seq.. sent from port id `portid`.
    AckTracker(std::uint32_t first_seq, std::size_t count, std::uint32_t portid);

    // Consumes one received datagram. Acknowledgements (NLMSG_ERROR) of the batch's requests
    // are recorded; anything else (other sequence numbers or ports, data messages) is
    // ignored. False when the datagram is malformed (a message overruns it).
    bool feed(std::span<const std::uint8_t> datagram);

    // The i-th request's outcome: nullopt while unacknowledged, else 0 (done) or the errno the
    // kernel reported (positive).
    std::optional<int> result(std::size_t i) const { return results_.at(i); }
    std::size_t acknowledged() const { return acknowledged_; }
    bool complete() const { return acknowledged_ == results_.size(); }
    std::size_t size() const { return results_.size(); }

  private:
    std::uint32_t first_seq_;
    std::uint32_t portid_;
    std::vector<std::optional<int>> results_;
    std::size_t acknowledged_ = 0;
};

}  // namespace cgwd::dataplane::nl
