#include "cgwd/bgp/update.hpp"

#include <algorithm>

namespace cgwd::bgp {
namespace {

SessionReset reset(std::uint8_t subcode, std::string_view reason) {
    return SessionReset{Notification::make(ErrorCode::UpdateMessage, subcode), reason};
}

}  // namespace

Severity Update::disposition() const {
    Severity s = Severity::None;
    for (const auto& e : errors) s = std::max(s, severity(e));
    return s;
}

std::vector<Prefix> Update::routes_withdrawn() const {
    std::vector<Prefix> out = withdrawn;
    if (attributes.mp_unreach) {
        out.insert(out.end(), attributes.mp_unreach->withdrawn.begin(),
                   attributes.mp_unreach->withdrawn.end());
    }
    if (treat_as_withdraw()) {
        out.insert(out.end(), nlri.begin(), nlri.end());
        if (attributes.mp_reach) {
            out.insert(out.end(), attributes.mp_reach->nlri.begin(),
                       attributes.mp_reach->nlri.end());
        }
    }
    return out;
}

std::vector<Prefix> Update::routes_announced() const {
    if (treat_as_withdraw()) return {};
    std::vector<Prefix> out = nlri;
    if (attributes.mp_reach) {
        out.insert(out.end(), attributes.mp_reach->nlri.begin(), attributes.mp_reach->nlri.end());
    }
    return out;
}

std::optional<AfiSafi> Update::end_of_rib() const {
    if (!withdrawn.empty() || !nlri.empty()) return std::nullopt;
    if (attributes == PathAttributes{}) return kIpv4Unicast;
    PathAttributes only_unreach;
    only_unreach.mp_unreach = attributes.mp_unreach;
    if (attributes.mp_unreach && attributes.mp_unreach->withdrawn.empty() &&
        attributes == only_unreach) {
        return attributes.mp_unreach->af;
    }
    return std::nullopt;
}

std::expected<Update, SessionReset> decode_update(ByteView body, const UpdateContext& ctx) {
    Reader r(body);
    // RFC 7606 section 3(b) / RFC 4271 section 6.3: field lengths inconsistent with the
    // message length leave nothing trustworthy: Malformed Attribute List.
    if (!r.has(2))
        return std::unexpected(reset(update_error::kMalformedAttributeList, "UPDATE too short"));
    const std::size_t withdrawn_len = r.u16();
    if (!r.has(withdrawn_len + 2)) {
        return std::unexpected(reset(update_error::kMalformedAttributeList,
                                     "Withdrawn Routes Length exceeds message"));
    }
    const ByteView withdrawn_field = r.bytes(withdrawn_len);
    const std::size_t attrs_len = r.u16();
    if (!r.has(attrs_len)) {
        return std::unexpected(reset(update_error::kMalformedAttributeList,
                                     "Total Path Attribute Length exceeds message"));
    }
    const ByteView attrs_field = r.bytes(attrs_len);
    const ByteView nlri_field = r.rest();

    Update u;
    // RFC 7606 section 3(i) and 5.3: Withdrawn Routes are checked like the NLRI field.
    auto withdrawn = decode_prefixes(withdrawn_field, Afi::Ipv4);
    if (!withdrawn) {
        return std::unexpected(
            reset(update_error::kInvalidNetworkField, "Withdrawn Routes field malformed"));
    }
    u.withdrawn = std::move(withdrawn->prefixes);

    auto walk = decode_path_attributes(attrs_field, ctx);
    if (!walk) return std::unexpected(std::move(walk.error()));
    u.attributes = std::move(walk->attributes);
    u.errors = std::move(walk->errors);

    // RFC 7606 sections 3(j) and 5.3: an NLRI field that cannot be parsed means
    // treat-as-withdraw is impossible, so the session is reset.
    auto nlri = decode_prefixes(nlri_field, Afi::Ipv4);
    if (!nlri) {
        return std::unexpected(reset(update_error::kInvalidNetworkField, "NLRI field malformed"));
    }
    u.nlri = std::move(nlri->prefixes);
    if (nlri->host_bits_set || walk->nlri_host_bits_set) {
        u.errors.emplace_back(TreatAsWithdraw{0, "NLRI prefix has host bits set"});
    }

    // RFC 7606 section 3(d): a missing well-known mandatory attribute is treat-as-withdraw.
    // They are mandatory only when the UPDATE carries reachable NLRI; NEXT_HOP only for the
    // IPv4 NLRI field (RFC 4760 section 3 puts the next hop of MP routes in MP_REACH_NLRI).
    const bool has_mp_nlri = u.attributes.mp_reach && !u.attributes.mp_reach->nlri.empty();
    if (!u.nlri.empty() || has_mp_nlri) {
        for (std::uint8_t t : {attr_type::kOrigin, attr_type::kAsPath, attr_type::kNextHop}) {
            if (t == attr_type::kNextHop && u.nlri.empty()) continue;
            if (!walk->present.test(t)) {
                u.errors.emplace_back(TreatAsWithdraw{t, "missing well-known attribute"});
            }
        }
    }
    return u;
}

std::optional<Bytes> encode_update(const Update& update, const UpdateContext& ctx) {
    Bytes body;
    Writer w(body);
    w.u16(0);
    for (const auto& p : update.withdrawn) encode_prefix(w, p);
    w.patch_u16(0, static_cast<std::uint16_t>(body.size() - 2));
    const std::size_t attrs_at = body.size();
    w.u16(0);
    encode_path_attributes(w, update.attributes, ctx);
    const std::size_t attrs_len = body.size() - attrs_at - 2;
    if (attrs_len > 0xffff) return std::nullopt;
    w.patch_u16(attrs_at, static_cast<std::uint16_t>(attrs_len));
    for (const auto& p : update.nlri) encode_prefix(w, p);
    if (body.size() + kHeaderSize > kMaxMessageSize) return std::nullopt;
    return encode_message(MessageType::Update, body);
}

Bytes encode_end_of_rib(AfiSafi af) {
    Update u;
    if (af != kIpv4Unicast) u.attributes.mp_unreach = MpUnreach{af, {}};
    return *encode_update(u, UpdateContext{});
}

}  // namespace cgwd::bgp
