#include "cgwd/bgp/open.hpp"

#include <algorithm>
#include <array>

namespace cgwd::bgp {
namespace {

constexpr std::uint8_t kParamCapabilities = 2;
constexpr std::uint8_t kParamExtended = 255;  // RFC 9072 Non-Ext OP Type

Notification open_error_n(std::uint8_t sub, Bytes data = {}) {
    return Notification::make(ErrorCode::OpenMessage, sub, std::move(data));
}

// One row per known capability code: exact or modular length rule plus a parser. A capability
// whose length breaks its rule is an OPEN Message Error (subcode 0, data = the capability).
struct CapabilityRule {
    std::uint8_t code;
    std::size_t min_length;
    std::size_t modulus;  // length must be min_length + k*modulus (modulus 0: exactly min_length)
    void (*parse)(Reader&, Capabilities&);
};

void parse_mp(Reader& r, Capabilities& caps) {
    AfiSafi af;
    af.afi = r.u16();
    (void)r.u8();  // reserved
    af.safi = r.u8();
    if (std::find(caps.multiprotocol.begin(), caps.multiprotocol.end(), af) ==
        caps.multiprotocol.end()) {
        caps.multiprotocol.push_back(af);
    }
}

void parse_route_refresh(Reader&, Capabilities& caps) {
    caps.route_refresh = true;
}

void parse_four_octet_as(Reader& r, Capabilities& caps) {
    caps.four_octet_as = r.u32();
}

void parse_graceful_restart(Reader& r, Capabilities& caps) {
    GracefulRestart gr;
    const std::uint16_t head = r.u16();
    gr.restart_state = (head & 0x8000) != 0;
    gr.notification = (head & 0x4000) != 0;
    gr.restart_time = head & 0x0fff;
    while (r.has(4)) {
        GracefulRestart::Family f;
        f.af.afi = r.u16();
        f.af.safi = r.u8();
        f.forwarding_preserved = (r.u8() & 0x80) != 0;
        gr.families.push_back(f);
    }
    caps.graceful_restart = std::move(gr);
}

constexpr std::array<CapabilityRule, 4> kCapabilityTable{{
    {capability_code::kMultiprotocol, 4, 0, parse_mp},
    {capability_code::kRouteRefresh, 0, 0, parse_route_refresh},
    {capability_code::kGracefulRestart, 2, 4, parse_graceful_restart},
    {capability_code::kFourOctetAs, 4, 0, parse_four_octet_as},
}};

std::expected<void, Notification> parse_capabilities(ByteView value, Capabilities& caps) {
    Reader r(value);
    while (!r.empty()) {
        if (!r.has(2)) return std::unexpected(open_error_n(open_error::kUnspecific));
        const std::uint8_t code = r.u8();
        const std::uint8_t len = r.u8();
        if (!r.has(len)) return std::unexpected(open_error_n(open_error::kUnspecific));
        const ByteView cap_value = r.bytes(len);
        const auto* rule = std::find_if(kCapabilityTable.begin(), kCapabilityTable.end(),
                                        [code](const CapabilityRule& c) { return c.code == code; });
        if (rule == kCapabilityTable.end()) {
            caps.unknown.push_back({code, Bytes(cap_value.begin(), cap_value.end())});
            continue;
        }
        const bool length_ok =
            rule->modulus == 0
                ? len == rule->min_length
                : len >= rule->min_length && (len - rule->min_length) % rule->modulus == 0;
        if (!length_ok) {
            Bytes data{code, len};
            data.insert(data.end(), cap_value.begin(), cap_value.end());
            return std::unexpected(open_error_n(open_error::kUnspecific, std::move(data)));
        }
        Reader cr(cap_value);
        rule->parse(cr, caps);
    }
    return {};
}

void write_capability(Writer& w, std::uint8_t code, const Bytes& value) {
    w.u8(code);
    w.u8(static_cast<std::uint8_t>(value.size()));
    w.bytes(value);
}

Bytes encode_capabilities(const Open& open) {
    const Capabilities& caps = open.capabilities;
    Bytes out;
    Writer w(out);
    for (const AfiSafi& af : caps.multiprotocol) {
        Bytes v;
        Writer vw(v);
        vw.u16(af.afi);
        vw.u8(0);
        vw.u8(af.safi);
        write_capability(w, capability_code::kMultiprotocol, v);
    }
    if (caps.route_refresh) write_capability(w, capability_code::kRouteRefresh, {});
    if (caps.graceful_restart) {
        const GracefulRestart& gr = *caps.graceful_restart;
        Bytes v;
        Writer vw(v);
        vw.u16(static_cast<std::uint16_t>((gr.restart_state ? 0x8000 : 0) |
                                          (gr.notification ? 0x4000 : 0) |
                                          (gr.restart_time & 0x0fff)));
        for (const auto& f : gr.families) {
            vw.u16(f.af.afi);
            vw.u8(f.af.safi);
            vw.u8(f.forwarding_preserved ? 0x80 : 0);
        }
        write_capability(w, capability_code::kGracefulRestart, v);
    }
    if (caps.four_octet_as) {
        Bytes v;
        Writer(v).u32(open.local_as);
        write_capability(w, capability_code::kFourOctetAs, v);
    }
    for (const auto& u : caps.unknown) write_capability(w, u.code, u.value);
    return out;
}

}  // namespace

bool Capabilities::supports(AfiSafi af) const {
    // RFC 4760 section 8: without any MP capability, IPv4 unicast is implied.
    if (multiprotocol.empty()) return af == kIpv4Unicast;
    return std::find(multiprotocol.begin(), multiprotocol.end(), af) != multiprotocol.end();
}

Bytes encode_open(const Open& open) {
    Bytes body;
    Writer w(body);
    w.u8(open.version);
    w.u16(open.local_as > 0xffff ? kAsTrans : static_cast<std::uint16_t>(open.local_as));
    w.u16(open.hold_time);
    w.u32(open.bgp_identifier);
    const Bytes caps = encode_capabilities(open);
    if (caps.empty()) {
        w.u8(0);
    } else if (caps.size() + 2 <= 255) {
        w.u8(static_cast<std::uint8_t>(caps.size() + 2));
        w.u8(kParamCapabilities);
        w.u8(static_cast<std::uint8_t>(caps.size()));
        w.bytes(caps);
    } else {
        // RFC 9072: one capabilities parameter that needs a 2-octet parameter length. All
        // capabilities go in that one parameter (RFC 5492 allows them in a single parameter).
        w.u8(255);
        w.u8(kParamExtended);
        w.u16(static_cast<std::uint16_t>(caps.size() + 3));
        w.u8(kParamCapabilities);
        w.u16(static_cast<std::uint16_t>(caps.size()));
        w.bytes(caps);
    }
    return encode_message(MessageType::Open, body);
}

std::expected<Open, Notification> decode_open(ByteView body) {
    Reader r(body);
    if (!r.has(10)) {
        // The framer guarantees 29 octets; reaching here means a caller skipped it.
        return std::unexpected(
            Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageLength));
    }
    Open open;
    open.version = r.u8();
    open.my_as_field = r.u16();
    open.hold_time = r.u16();
    open.bgp_identifier = r.u32();
    std::size_t params_len = r.u8();
    bool extended = false;
    // RFC 9072 section 2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255.
    if (params_len == 255 && r.has(3) && body[10] == kParamExtended) {
        (void)r.u8();
        params_len = r.u16();
        extended = true;
    }
    if (r.remaining() != params_len) return std::unexpected(open_error_n(open_error::kUnspecific));
    Reader params(r.bytes(params_len));
    while (!params.empty()) {
        const std::size_t head = extended ? 3 : 2;
        if (!params.has(head)) return std::unexpected(open_error_n(open_error::kUnspecific));
        const std::uint8_t type = params.u8();
        const std::size_t len = extended ? params.u16() : params.u8();
        if (!params.has(len)) return std::unexpected(open_error_n(open_error::kUnspecific));
        const ByteView value = params.bytes(len);
        if (type != kParamCapabilities) {
            return std::unexpected(open_error_n(open_error::kUnsupportedOptionalParameter));
        }
        if (auto ok = parse_capabilities(value, open.capabilities); !ok) {
            return std::unexpected(std::move(ok.error()));
        }
    }
    open.local_as = open.effective_as();
    return open;
}

std::expected<void, Notification> validate_open(const Open& open, const OpenPolicy& policy) {
    if (open.version != kBgpVersion) {
        // RFC 4271 section 6.2: data is the largest locally supported version number.
        Bytes data;
        Writer(data).u16(kBgpVersion);
        return std::unexpected(open_error_n(open_error::kUnsupportedVersion, std::move(data)));
    }
    const std::uint32_t peer_as = open.effective_as();
    // RFC 7607: AS 0 is never acceptable; RFC 6793: AS_TRANS is not a real AS in the capability.
    if (peer_as == 0 || (open.capabilities.four_octet_as && peer_as == kAsTrans) ||
        (policy.peer_as != 0 && peer_as != policy.peer_as)) {
        return std::unexpected(open_error_n(open_error::kBadPeerAs));
    }
    if (open.bgp_identifier == 0 || open.bgp_identifier == policy.local_bgp_identifier) {
        return std::unexpected(open_error_n(open_error::kBadBgpIdentifier));
    }
    if (open.hold_time == 1 || open.hold_time == 2) {
        return std::unexpected(open_error_n(open_error::kUnacceptableHoldTime));
    }
    return {};
}

}  // namespace cgwd::bgp
