#include "cgwd/dataplane/nl_batch.hpp"

#include <cstring>

namespace cgwd::dataplane::nl {

BatchBuffer::BatchBuffer(std::size_t max_bytes, std::size_t max_messages)
    : max_bytes_(max_bytes), max_messages_(max_messages == 0 ? 1 : max_messages) {
    buffer_.reserve(max_bytes_);
}

void BatchBuffer::reset(std::uint32_t first_seq) {
    buffer_.clear();
    count_ = 0;
    first_seq_ = first_seq;
}

bool BatchBuffer::append(const NlMessage& msg) {
    const auto bytes = msg.bytes();
    const std::size_t aligned = NLMSG_ALIGN(bytes.size());
    if (count_ >= max_messages_) return false;
    if (count_ > 0 && buffer_.size() + aligned > max_bytes_) return false;
    const std::size_t at = buffer_.size();
    buffer_.resize(at + aligned, 0);  // the alignment padding stays zero
    std::memcpy(buffer_.data() + at, bytes.data(), bytes.size());
    nlmsghdr h{};
    std::memcpy(&h, buffer_.data() + at, sizeof h);
    h.nlmsg_flags = static_cast<std::uint16_t>(h.nlmsg_flags | NLM_F_REQUEST | NLM_F_ACK);
    h.nlmsg_seq = first_seq_ + static_cast<std::uint32_t>(count_);
    h.nlmsg_pid = 0;
    std::memcpy(buffer_.data() + at, &h, sizeof h);
    ++count_;
    return true;
}

AckTracker::AckTracker(std::uint32_t first_seq, std::size_t count, std::uint32_t portid)
    : first_seq_(first_seq), portid_(portid), results_(count) {}

bool AckTracker::feed(std::span<const std::uint8_t> datagram) {
    return for_each_message(datagram, [&](const nlmsghdr* nlh) {
        if (nlh->nlmsg_type != NLMSG_ERROR) return;
        if (portid_ != 0 && nlh->nlmsg_pid != portid_) return;
        const std::uint32_t index = nlh->nlmsg_seq - first_seq_;  // wraps for older sequences
        if (index >= results_.size()) return;
        const auto* err = header_as<nlmsgerr>(nlh);
        if (err == nullptr) return;
        if (results_[index]) return;  // a duplicate
        results_[index] = -err->error;
        ++acknowledged_;
    });
}

}  // namespace cgwd::dataplane::nl
