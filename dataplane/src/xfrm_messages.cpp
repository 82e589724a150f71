#include "cgwd/dataplane/xfrm_messages.hpp"

#include <arpa/inet.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace cgwd::dataplane::xfrm {

namespace {

constexpr std::uint64_t inf = XFRM_INF;

std::uint64_t to_kernel(std::uint64_t limit) {
    return limit == 0 ? inf : limit;
}
std::uint64_t from_kernel(std::uint64_t limit) {
    return limit == inf ? 0 : limit;
}

void set_a4(xfrm_address_t& a, config::Ipv4Address v) {
    a.a4 = htonl(v.value);
}
config::Ipv4Address get_a4(const xfrm_address_t& a) {
    return config::Ipv4Address{ntohl(a.a4)};
}

void put_mark(nl::NlMessage& msg, std::optional<Mark> mark) {
    if (!mark) return;
    const xfrm_mark m{mark->value, mark->mask};
    msg.put(XFRMA_MARK, &m, sizeof m);
}

// The algorithm structures end in a flexible key array: header + key bytes in one attribute.
template <class Algo>
void put_algo(nl::NlMessage& msg, std::uint16_t type, const char* name,
              std::span<const std::uint8_t> key, const auto& fill) {
    void* p = msg.put_zeroed(type, sizeof(Algo) + key.size());
    auto* algo = static_cast<Algo*>(p);
    std::strncpy(algo->alg_name, name, sizeof algo->alg_name - 1);
    algo->alg_key_len = static_cast<unsigned>(key.size() * 8);
    fill(*algo);
    std::memcpy(static_cast<std::uint8_t*>(p) + sizeof(Algo), key.data(), key.size());
}

xfrm_selector selector(config::Ipv4Prefix src, config::Ipv4Prefix dst) {
    xfrm_selector sel{};
    sel.family = AF_INET;
    set_a4(sel.saddr, src.address);
    set_a4(sel.daddr, dst.address);
    sel.prefixlen_s = src.length;
    sel.prefixlen_d = dst.length;
    return sel;
}

std::uint8_t policy_dir(PolicyDirection d) {
    switch (d) {
        case PolicyDirection::in:
            return XFRM_POLICY_IN;
        case PolicyDirection::fwd:
            return XFRM_POLICY_FWD;
        case PolicyDirection::out:
            break;
    }
    return XFRM_POLICY_OUT;
}

void lifetime_to_kernel(const Lifetime& l, xfrm_lifetime_cfg& k) {
    k.soft_byte_limit = to_kernel(l.bytes.soft);
    k.hard_byte_limit = to_kernel(l.bytes.hard);
    k.soft_packet_limit = to_kernel(l.packets.soft);
    k.hard_packet_limit = to_kernel(l.packets.hard);
    k.soft_add_expires_seconds = l.seconds.soft;
    k.hard_add_expires_seconds = l.seconds.hard;
}

Lifetime lifetime_from_kernel(const xfrm_lifetime_cfg& k) {
    Lifetime l;
    l.bytes = {from_kernel(k.soft_byte_limit), from_kernel(k.hard_byte_limit)};
    l.packets = {from_kernel(k.soft_packet_limit), from_kernel(k.hard_packet_limit)};
    l.seconds = {k.soft_add_expires_seconds, k.hard_add_expires_seconds};
    return l;
}

// Reads the SA fields and the attributes we care about (if_id, mark) from a message whose
// fixed header starts with xfrm_usersa_info at `info`.
std::optional<SaInfo> decode_sa(const nlmsghdr* nlh, const xfrm_usersa_info& info,
                                std::size_t header) {
    if (info.family != AF_INET || info.id.proto != IPPROTO_ESP) return std::nullopt;
    SaInfo sa;
    sa.key = {ntohl(info.id.spi), get_a4(info.id.daddr)};
    sa.src = get_a4(info.saddr);
    sa.reqid = info.reqid;
    sa.stats.counters.bytes = info.curlft.bytes;
    sa.stats.counters.packets = info.curlft.packets;
    sa.stats.counters.replay_drops = std::uint64_t{info.stats.replay} + info.stats.replay_window;
    sa.stats.counters.integrity_failures = info.stats.integrity_failed;
    sa.stats.lifetime = lifetime_from_kernel(info.lft);
    sa.stats.add_time = info.curlft.add_time;
    sa.stats.use_time = info.curlft.use_time;
    nl::for_each_attr(nlh, header, [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
            case XFRMA_IF_ID:
                if (mnl_attr_get_payload_len(a) >= 4) sa.if_id = mnl_attr_get_u32(a);
                break;
            case XFRMA_MARK:
                if (const auto* m = nl::payload_as<xfrm_mark>(a)) sa.mark = Mark{m->v, m->m};
                break;
            default:
                break;
        }
    });
    return sa;
}

}  // namespace

const char* kernel_cipher_name(const config::Cipher& cipher) {
    if (cipher.id == config::encr::aes_gcm_16) return "rfc4106(gcm(aes))";
    if (cipher.id == config::encr::aes_cbc) return "cbc(aes)";
    return nullptr;
}

const char* kernel_integ_name(std::uint16_t integ) {
    switch (integ) {
        case config::integ::hmac_sha1_96:
            return "hmac(sha1)";
        case config::integ::hmac_sha2_256_128:
            return "hmac(sha256)";
        case config::integ::hmac_sha2_384_192:
            return "hmac(sha384)";
        case config::integ::hmac_sha2_512_256:
            return "hmac(sha512)";
        default:
            return nullptr;
    }
}

unsigned integ_trunc_bits(std::uint16_t integ) {
    return static_cast<unsigned>(config::integ_icv_bytes(integ) * 8);
}

ReplaySetting replay_setting(const SaConfig& sa) {
    // Outbound SAs never check replay; kernels before 6.10 refuse an ESN state whose window is
    // 0, so an outbound ESN SA gets a one-word window.
    const std::uint32_t window =
        sa.direction == Direction::inbound ? sa.replay_window : (sa.esn ? 32 : 0);
    ReplaySetting r;
    r.window = window;
    if (sa.esn || window > 32) {
        r.esn_attribute = true;
        r.bmp_len = (window + 31) / 32;
    }
    return r;
}

std::expected<nl::NlMessage, Error> build_sa(std::uint16_t type, const SaConfig& sa,
                                             std::optional<Mark> mark) {
    const char* cipher = kernel_cipher_name(sa.cipher);
    if (cipher == nullptr)
        return std::unexpected(Error{Errc::invalid_argument, "unsupported cipher", 0});
    const char* integ = sa.cipher.is_aead() ? nullptr : kernel_integ_name(sa.integ);
    if (!sa.cipher.is_aead() && integ == nullptr)
        return std::unexpected(Error{Errc::invalid_argument, "unsupported integrity", 0});

    nl::NlMessage msg(type, type == XFRM_MSG_NEWSA ? NLM_F_CREATE | NLM_F_EXCL : 0,
                      sizeof(xfrm_usersa_info));
    auto* info = msg.header_as<xfrm_usersa_info>();
    info->sel.family = AF_INET;  // 0.0.0.0/0 <-> 0.0.0.0/0: the policy decides what goes in
    set_a4(info->id.daddr, sa.dst);
    info->id.spi = htonl(sa.spi);
    info->id.proto = IPPROTO_ESP;
    set_a4(info->saddr, sa.src);
    lifetime_to_kernel(sa.lifetime, info->lft);
    info->reqid = sa.reqid;
    info->family = AF_INET;
    info->mode = XFRM_MODE_TUNNEL;
    const ReplaySetting replay = replay_setting(sa);
    info->replay_window = replay.esn_attribute ? 0 : static_cast<std::uint8_t>(replay.window);
    if (sa.esn) info->flags |= XFRM_STATE_ESN;

    if (sa.cipher.is_aead()) {
        put_algo<xfrm_algo_aead>(msg, XFRMA_ALG_AEAD, cipher, sa.enc_key.bytes(),
                                 [](xfrm_algo_aead& a) { a.alg_icv_len = gcm_icv_bits; });
    } else {
        put_algo<xfrm_algo>(msg, XFRMA_ALG_CRYPT, cipher, sa.enc_key.bytes(), [](xfrm_algo&) {});
        const unsigned trunc = integ_trunc_bits(sa.integ);
        put_algo<xfrm_algo_auth>(msg, XFRMA_ALG_AUTH_TRUNC, integ, sa.integ_key.bytes(),
                                 [trunc](xfrm_algo_auth& a) { a.alg_trunc_len = trunc; });
    }
    if (sa.encap) {
        xfrm_encap_tmpl encap{};
        encap.encap_type = UDP_ENCAP_ESPINUDP;
        encap.encap_sport = htons(sa.encap->src_port);
        encap.encap_dport = htons(sa.encap->dst_port);
        msg.put(XFRMA_ENCAP, &encap, sizeof encap);
    }
    if (replay.esn_attribute) {
        const std::size_t length = sizeof(xfrm_replay_state_esn) + replay.bmp_len * 4;
        auto* esn =
            static_cast<xfrm_replay_state_esn*>(msg.put_zeroed(XFRMA_REPLAY_ESN_VAL, length));
        esn->bmp_len = replay.bmp_len;
        esn->replay_window = replay.window;
    }
    if (sa.if_id != 0) msg.put_u32(XFRMA_IF_ID, sa.if_id);
    put_mark(msg, mark);
    return msg;
}

nl::NlMessage build_sa_id(std::uint16_t type, const SaKey& key, std::optional<Mark> mark) {
    nl::NlMessage msg(type, 0, sizeof(xfrm_usersa_id));
    auto* id = msg.header_as<xfrm_usersa_id>();
    set_a4(id->daddr, key.dst);
    id->spi = htonl(key.spi);
    id->family = AF_INET;
    id->proto = IPPROTO_ESP;
    put_mark(msg, mark);
    return msg;
}

nl::NlMessage build_sa_dump() {
    return nl::NlMessage(XFRM_MSG_GETSA, NLM_F_DUMP, 0);
}

nl::NlMessage build_policy_dump() {
    return nl::NlMessage(XFRM_MSG_GETPOLICY, NLM_F_DUMP, 0);
}

nl::NlMessage build_policy(const Policy& policy, std::optional<Mark> mark) {
    nl::NlMessage msg(XFRM_MSG_NEWPOLICY, NLM_F_CREATE | NLM_F_EXCL, sizeof(xfrm_userpolicy_info));
    auto* info = msg.header_as<xfrm_userpolicy_info>();
    info->sel = selector(policy.src, policy.dst);
    lifetime_to_kernel(Lifetime{}, info->lft);  // no limits
    info->priority = policy.priority;
    info->dir = policy_dir(policy.direction);
    info->action = XFRM_POLICY_ALLOW;
    info->share = XFRM_SHARE_ANY;

    xfrm_user_tmpl tmpl{};
    set_a4(tmpl.id.daddr, policy.tunnel_dst);
    tmpl.id.proto = IPPROTO_ESP;
    tmpl.family = AF_INET;
    set_a4(tmpl.saddr, policy.tunnel_src);
    tmpl.reqid = policy.reqid;
    tmpl.mode = XFRM_MODE_TUNNEL;
    tmpl.share = XFRM_SHARE_ANY;
    tmpl.aalgos = ~0U;
    tmpl.ealgos = ~0U;
    tmpl.calgos = ~0U;
    msg.put(XFRMA_TMPL, &tmpl, sizeof tmpl);
    if (policy.if_id != 0) msg.put_u32(XFRMA_IF_ID, policy.if_id);
    put_mark(msg, mark);
    return msg;
}

nl::NlMessage build_policy_delete(const PolicyKey& key, std::optional<Mark> mark) {
    nl::NlMessage msg(XFRM_MSG_DELPOLICY, 0, sizeof(xfrm_userpolicy_id));
    auto* id = msg.header_as<xfrm_userpolicy_id>();
    id->sel = selector(key.src, key.dst);
    id->dir = policy_dir(key.direction);
    if (key.if_id != 0) msg.put_u32(XFRMA_IF_ID, key.if_id);
    put_mark(msg, mark);
    return msg;
}

std::optional<SaInfo> parse_sa(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != XFRM_MSG_NEWSA && nlh->nlmsg_type != XFRM_MSG_UPDSA) return std::nullopt;
    const auto* info = nl::header_as<xfrm_usersa_info>(nlh);
    if (info == nullptr) return std::nullopt;
    return decode_sa(nlh, *info, sizeof(xfrm_usersa_info));
}

std::optional<PolicyInfo> parse_policy(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY) return std::nullopt;
    const auto* info = nl::header_as<xfrm_userpolicy_info>(nlh);
    if (info == nullptr || info->sel.family != AF_INET) return std::nullopt;
    if (info->sel.prefixlen_s > 32 || info->sel.prefixlen_d > 32) return std::nullopt;
    PolicyInfo p;
    switch (info->dir) {
        case XFRM_POLICY_IN:
            p.key.direction = PolicyDirection::in;
            break;
        case XFRM_POLICY_FWD:
            p.key.direction = PolicyDirection::fwd;
            break;
        case XFRM_POLICY_OUT:
            p.key.direction = PolicyDirection::out;
            break;
        default:
            return std::nullopt;  // socket policies
    }
    p.key.src = config::Ipv4Prefix::of(get_a4(info->sel.saddr), info->sel.prefixlen_s);
    p.key.dst = config::Ipv4Prefix::of(get_a4(info->sel.daddr), info->sel.prefixlen_d);
    nl::for_each_attr(nlh, sizeof(xfrm_userpolicy_info), [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == XFRMA_IF_ID && mnl_attr_get_payload_len(a) >= 4)
            p.key.if_id = mnl_attr_get_u32(a);
        if (mnl_attr_get_type(a) == XFRMA_MARK)
            if (const auto* m = nl::payload_as<xfrm_mark>(a)) p.mark = Mark{m->v, m->m};
    });
    return p;
}

std::optional<Expire> parse_expire(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != XFRM_MSG_EXPIRE) return std::nullopt;
    const auto* ue = nl::header_as<xfrm_user_expire>(nlh);
    if (ue == nullptr) return std::nullopt;
    auto sa = decode_sa(nlh, ue->state, sizeof(xfrm_user_expire));
    if (!sa) return std::nullopt;
    Expire e;
    e.sa = *sa;
    e.kind = ue->hard != 0 ? ExpiryKind::hard : ExpiryKind::soft;
    const bool hard = e.kind == ExpiryKind::hard;
    const Lifetime& l = sa->stats.lifetime;
    const std::uint64_t byte_limit = hard ? l.bytes.hard : l.bytes.soft;
    const std::uint64_t packet_limit = hard ? l.packets.hard : l.packets.soft;
    if (byte_limit != 0 && ue->state.curlft.bytes >= byte_limit) {
        e.cause = ExpiryCause::bytes;
    } else if (packet_limit != 0 && ue->state.curlft.packets >= packet_limit) {
        e.cause = ExpiryCause::packets;
    } else {
        e.cause = ExpiryCause::time;
    }
    return e;
}

}  // namespace cgwd::dataplane::xfrm
