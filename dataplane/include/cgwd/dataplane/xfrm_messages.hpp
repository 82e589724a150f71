// XFRM netlink messages (Linux <linux/xfrm.h>) for RFC 4303 ESP tunnel-mode SAs and RFC 4301
// SPD entries: built here without I/O (KernelDataplane sends them), and the kernel's replies,
// dumps and expire notifications decoded back into dataplane types.
//
// SA (XFRM_MSG_NEWSA / UPDSA): xfrm_usersa_info (tunnel mode, ESP, lifetimes with 0 -> XFRM_INF)
// plus, by transform:
//   AES-GCM-16 (RFC 4106)  XFRMA_ALG_AEAD  "rfc4106(gcm(aes))", key = AES key + 4-byte salt,
//                                          ICV 128 bits
//   AES-CBC (RFC 3602)     XFRMA_ALG_CRYPT "cbc(aes)" and XFRMA_ALG_AUTH_TRUNC with
//                          "hmac(sha1)" 96 (RFC 2404), "hmac(sha256)" 128, "hmac(sha384)" 192,
//                          "hmac(sha512)" 256 (RFC 4868)
// XFRMA_ENCAP (UDP_ENCAP_ESPINUDP, RFC 3948) for NAT-T; XFRMA_REPLAY_ESN_VAL whenever the window
// exceeds the legacy 32-packet field or ESN (RFC 4303 section 2.2.1) is on (flag
// XFRM_STATE_ESN; the legacy replay_window field is then 0, as the kernel requires);
// XFRMA_IF_ID binds the SA to its XFRM interface; XFRMA_MARK when the daemon uses a mark.
// Policy (XFRM_MSG_NEWPOLICY / DELPOLICY): selector + one ESP tunnel template (any algorithm),
// XFRMA_IF_ID, XFRMA_MARK.
// Expire (XFRM_MSG_EXPIRE on group XFRMNLGRP_EXPIRE): the SA and the soft/hard flag; the cause
// is inferred from which limit the current lifetime reached (the kernel does not say).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>

#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/netlink.hpp"

namespace cgwd::dataplane::xfrm {

// An XFRM mark (value, mask): matched against the packet mark on lookups.
struct Mark {
    std::uint32_t value = 0;
    std::uint32_t mask = 0xffffffff;
    friend bool operator==(const Mark&, const Mark&) = default;
};

// Kernel algorithm names and lengths for a transform (nullptr name: unsupported).
const char* kernel_cipher_name(const config::Cipher& cipher);  // "rfc4106(gcm(aes))" / "cbc(aes)"
const char* kernel_integ_name(std::uint16_t integ);            // "hmac(sha1)", ...
unsigned integ_trunc_bits(std::uint16_t integ);                // 96, 128, 192, 256
inline constexpr unsigned gcm_icv_bits = 128;                  // AES-GCM-16: 16-byte ICV

// The replay window the kernel gets, and whether it needs XFRMA_REPLAY_ESN_VAL.
struct ReplaySetting {
    bool esn_attribute = false;
    std::uint32_t window = 0;   // packets
    std::uint32_t bmp_len = 0;  // 32-bit words of the bitmap (esn_attribute only)
};
ReplaySetting replay_setting(const SaConfig& sa);

// type: XFRM_MSG_NEWSA or XFRM_MSG_UPDSA. The SA must have passed validate().
[[nodiscard]] std::expected<nl::NlMessage, Error> build_sa(std::uint16_t type, const SaConfig& sa,
                                                           std::optional<Mark> mark);
// XFRM_MSG_DELSA or XFRM_MSG_GETSA of one SA.
nl::NlMessage build_sa_id(std::uint16_t type, const SaKey& key, std::optional<Mark> mark);
nl::NlMessage build_sa_dump();      // XFRM_MSG_GETSA, NLM_F_DUMP
nl::NlMessage build_policy_dump();  // XFRM_MSG_GETPOLICY, NLM_F_DUMP

nl::NlMessage build_policy(const Policy& policy, std::optional<Mark> mark);  // NEWPOLICY
nl::NlMessage build_policy_delete(const PolicyKey& key, std::optional<Mark> mark);

// An SA as the kernel reports it (GETSA reply, dump entry, expire notification).
struct SaInfo {
    SaKey key;
    config::Ipv4Address src;
    std::uint32_t reqid = 0;
    std::uint32_t if_id = 0;
    std::optional<Mark> mark;
    SaStats stats;
};
// Decodes an XFRM_MSG_NEWSA message (reply or dump); nullopt for other families/protocols.
std::optional<SaInfo> parse_sa(const nlmsghdr* nlh);

struct PolicyInfo {
    PolicyKey key;
    std::optional<Mark> mark;
};
// Decodes an XFRM_MSG_NEWPOLICY message (dump entry); nullopt for non-IPv4 selectors.
std::optional<PolicyInfo> parse_policy(const nlmsghdr* nlh);

struct Expire {
    SaInfo sa;
    ExpiryKind kind = ExpiryKind::soft;
    ExpiryCause cause = ExpiryCause::time;
};
// Decodes an XFRM_MSG_EXPIRE notification.
std::optional<Expire> parse_expire(const nlmsghdr* nlh);

}  // namespace cgwd::dataplane::xfrm
