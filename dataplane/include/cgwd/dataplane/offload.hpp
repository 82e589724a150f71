// Segmentation offloads for the userspace tunnel path: the virtio-net header a TUN device with
// IFF_VNET_HDR puts before every packet (include/uapi/linux/virtio_net.h, legacy 10-byte
// layout), TCP/IPv4 segmentation of the large packets the kernel hands over when TSO is
// offered on the TUN device (TUNSETOFFLOAD TUN_F_TSO4), completion of partial checksums
// (TUN_F_CSUM), and the reverse on the receive side: coalescing consecutive TCP/IPv4 segments
// of one flow into one large packet for a single TUN write (what GRO does in the kernel).
//
// Why: without offloads every 1.4 kB packet costs a TUN read or write and a trip through the
// kernel's TCP stack on both ends; with them one syscall and one stack traversal carry up to
// 64 kB. ESP still encrypts every segment on its own (RFC 4303 has no large-segment mode).
//
// Nothing here allocates; segments and coalesced packets go into caller buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace cgwd::dataplane::offload {

// struct virtio_net_hdr (without num_buffers): what TUNSETVNETHDRSZ's default of 10 bytes
// selects. Little-endian, as the TUN driver reads and writes it on little-endian hosts.
constexpr std::size_t vnet_header_size = 10;
constexpr std::uint8_t vnet_flag_needs_csum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t vnet_flag_data_valid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr std::uint8_t gso_none = 0;              // VIRTIO_NET_HDR_GSO_NONE
constexpr std::uint8_t gso_tcpv4 = 1;             // VIRTIO_NET_HDR_GSO_TCPV4
constexpr std::uint8_t gso_ecn = 0x80;            // VIRTIO_NET_HDR_GSO_ECN (ORed in)

struct VnetHeader {
    std::uint8_t flags = 0;
    std::uint8_t gso_type = gso_none;
    std::uint16_t header_length = 0;  // hdr_len: bytes of headers before the payload
    std::uint16_t gso_size = 0;       // payload bytes per segment
    std::uint16_t csum_start = 0;     // where the partial checksum's coverage starts
    std::uint16_t csum_offset = 0;    // where the checksum goes, from csum_start
    friend bool operator==(const VnetHeader&, const VnetHeader&) = default;
};
// `in` and `out` hold at least vnet_header_size bytes.
VnetHeader decode_vnet(std::span<const std::uint8_t> in);
void encode_vnet(const VnetHeader& header, std::span<std::uint8_t> out);

enum class OffloadError : std::uint8_t {
    malformed,    // not the IPv4/TCP packet the header describes, or bad offsets
    unsupported,  // a GSO type other than TCPv4 (we offer only TSO4 to the kernel)
    buffer_too_small,
};

// One's complement sum (RFC 1071) of `data` added to `sum`, unfolded, with big-endian words
// (an odd final byte is the high byte of a word). Fast: 8 bytes per step. `data` must start on
// a 16-bit word boundary of the range being summed.
std::uint64_t checksum_add(std::span<const std::uint8_t> data, std::uint64_t sum = 0);
// Folds a sum to 16 bits (not complemented).
std::uint16_t checksum_fold(std::uint64_t sum);
// Sum of the TCP/UDP pseudo header of IPv4 (RFC 793 section 3.1): addresses, protocol, length.
std::uint64_t pseudo_header_sum(std::uint32_t source, std::uint32_t destination,
                                std::uint8_t protocol, std::uint16_t length);

// VIRTIO_NET_HDR_F_NEEDS_CSUM: the field at csum_start + csum_offset holds the pseudo-header
// sum; sums from csum_start to the end of `packet` and stores the complement (0 as 0xFFFF, as
// the kernel's skb_checksum_help does).
[[nodiscard]] std::expected<void, OffloadError> complete_checksum(std::span<std::uint8_t> packet,
                                                                  std::uint16_t csum_start,
                                                                  std::uint16_t csum_offset);

// Whether the TCP checksum of an IPv4/TCP packet (whole packet, headers checked) is right.
bool tcp_checksum_valid(std::span<const std::uint8_t> packet);

// Splits a TCP/IPv4 packet read with gso_type TCPV4 into segments of at most gso_size payload
// bytes, as the kernel's tcp_gso_segment would: IPv4 total length, identification (+1 per
// segment) and header checksum per segment; sequence number advanced; FIN and PSH only on the
// last segment, CWR only on the first; the TCP checksum computed in full (the partial one from
// the kernel is ignored).
class TcpSegmenter {
  public:
    [[nodiscard]] static std::expected<TcpSegmenter, OffloadError> create(
        std::span<const std::uint8_t> packet, const VnetHeader& header);

    std::size_t segment_count() const { return count_; }
    bool done() const { return index_ >= count_; }
    // Largest segment: headers + gso_size.
    std::size_t max_segment_size() const { return headers_ + gso_size_; }
    // Writes the next segment into `out`; returns its length.
    [[nodiscard]] std::expected<std::size_t, OffloadError> next(std::span<std::uint8_t> out);

  private:
    TcpSegmenter() = default;
    std::span<const std::uint8_t> packet_;
    std::size_t ip_header_ = 0;
    std::size_t headers_ = 0;  // IPv4 + TCP headers
    std::size_t gso_size_ = 0;
    std::size_t count_ = 0;
    std::size_t index_ = 0;
};

// The receive side's GRO: gathers inner packets bound for TUN devices (a `sink` is the caller's
// handle for one, e.g. its fd) and merges TCP/IPv4 segments of one flow that continue each
// other into one packet with a GSO_TCPV4 virtio-net header, which the kernel re-segments where
// needed. Merged only when nothing is lost: IPv4 without options, not a fragment, headers and
// both checksums valid, only ACK (and PSH on the last) set, the same ACK number, window, TCP
// options, TOS, TTL and DF, sequence numbers contiguous, every segment but the last of the
// group's first segment's size, at most 64 kB in all. Everything else passes through as it
// came, with a zero virtio-net header. Order within a flow is kept.
class Coalescer {
  public:
    static constexpr std::size_t slot_size = vnet_header_size + 65535;
    // `slots` packets (merged or not) are held before add() asks for a flush.
    explicit Coalescer(std::size_t slots);

    // Takes a copy of `packet`. False when every slot is in use (flush, then add again).
    bool add(int sink, std::span<const std::uint8_t> packet);
    bool empty() const { return used_ == 0; }

    // Hands every held packet to `write(sink, bytes)` (bytes start with the virtio-net header)
    // in the order the groups were opened, and empties the coalescer.
    template <class Write>
    void flush(Write&& write) {
        for (std::size_t i = 0; i < used_; ++i) write(groups_[i].sink, finish(groups_[i]));
        used_ = 0;
    }

    // Segments appended to a group since the last call.
    std::uint64_t take_merged_segments() { return std::exchange(merged_, 0); }

  private:
    struct Group {
        int sink = -1;
        bool open = false;         // mergeable and still accepting segments
        std::size_t length = 0;    // bytes of packet after the virtio-net header
        std::size_t headers = 0;   // IPv4 + TCP header bytes (mergeable groups)
        std::size_t gso_size = 0;  // payload of the first segment
        std::size_t segments = 0;
        std::uint32_t next_seq = 0;
        bool push = false;
    };
    std::span<const std::uint8_t> finish(Group& group);
    std::uint8_t* slot(std::size_t i) { return storage_.get() + i * slot_size; }
    bool try_merge(Group& group, std::span<const std::uint8_t> packet, std::size_t headers);

    std::unique_ptr<std::uint8_t[]> storage_;  // not value-initialised: pages touched when used
    std::vector<Group> groups_;
    std::size_t used_ = 0;
    std::uint64_t merged_ = 0;
};

}  // namespace cgwd::dataplane::offload
