// Proposal construction and selection; see sa_proposals.hpp.
#include "cgwd/ike/sa_proposals.hpp"

#include <algorithm>

namespace cgwd::ike {
namespace {

bool contains(std::span<const std::uint16_t> ids, std::uint16_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Only the Key Length attribute is defined (RFC 7296 section 3.3.5); anything else makes the
// transform unacceptable (section 3.3.6).
bool only_key_length(const Transform& t) {
    return std::all_of(t.attributes.begin(), t.attributes.end(),
                       [](const Attribute& a) { return a.tv && a.type == attribute_key_length; });
}

std::vector<std::uint16_t> esn_list(const config::Proposal& c) {
    if (c.esn.empty()) return {config::esn::no};
    return c.esn;
}

// Tries one of the peer's proposals against one of ours.
std::optional<Selection> match(const Proposal& p, const config::Proposal& c, ProtocolId protocol,
                               bool ignore_ke) {
    std::optional<Transform> encr, prf, integ, dh, esn;
    bool offered_prf = false, offered_integ = false, offered_dh = false, offered_esn = false;
    const bool ike = protocol == ProtocolId::ike;
    const auto esns = esn_list(c);
    for (const Transform& t : p.transforms) {
        if (!only_key_length(t)) continue;
        switch (t.type) {
            case TransformType::encr: {
                if (encr) break;
                const auto bits = t.key_length();
                if (!bits) break;  // AES needs an explicit key length (RFC 3602, RFC 5282)
                for (const config::Cipher& ours : c.ciphers) {
                    if (ours.id == t.id && ours.key_bits == *bits) encr = t;
                }
                break;
            }
            case TransformType::prf:
                if (!ike) return std::nullopt;
                offered_prf = true;
                if (!prf && contains(c.prf, t.id)) prf = t;
                break;
            case TransformType::integ:
                offered_integ = true;
                if (integ) break;
                if (c.integ.empty() ? t.id == config::integ::none : contains(c.integ, t.id)) {
                    integ = t;
                }
                break;
            case TransformType::dh:
                if (ignore_ke) break;
                offered_dh = true;
                if (dh) break;
                if (c.dh.empty() ? t.id == 0 : contains(c.dh, t.id)) dh = t;
                break;
            case TransformType::esn:
                if (ike) return std::nullopt;
                offered_esn = true;
                if (!esn && contains(esns, t.id)) esn = t;
                break;
            default:
                return std::nullopt;  // a transform type we do not know
        }
    }
    if (!encr) return std::nullopt;
    if (offered_prf && !prf) return std::nullopt;
    if (offered_integ && !integ) return std::nullopt;
    if (offered_dh && !dh) return std::nullopt;
    if (offered_esn && !esn) return std::nullopt;
    if (ike && (!prf || !dh)) return std::nullopt;
    if (!ike && !ignore_ke && !c.dh.empty() && !dh) return std::nullopt;

    Selection s;
    s.transforms.cipher = config::Cipher{encr->id, *encr->key_length()};
    const bool aead = s.transforms.cipher.is_aead();
    const std::uint16_t integ_id = integ ? integ->id : config::integ::none;
    if (aead != (integ_id == config::integ::none)) return std::nullopt;  // RFC 5282 section 8
    s.transforms.integ = integ_id;
    s.transforms.prf = prf ? prf->id : 0;
    s.transforms.dh = dh ? dh->id : 0;
    s.transforms.esn = esn && esn->id == config::esn::yes;

    s.chosen.number = p.number;
    s.chosen.protocol = protocol;
    s.chosen.spi = p.spi;
    s.chosen.transforms.push_back(*encr);
    if (prf) s.chosen.transforms.push_back(*prf);
    if (!aead) s.chosen.transforms.push_back(*integ);
    if (dh && dh->id != 0) s.chosen.transforms.push_back(*dh);
    if (!ike) {
        s.chosen.transforms.push_back(esn ? *esn
                                          : Transform::make(TransformType::esn, config::esn::no));
    }
    return s;
}

}  // namespace

std::vector<Proposal> make_proposals(std::span<const config::Proposal> configured,
                                     ProtocolId protocol, const Bytes& spi, bool include_ke) {
    std::vector<Proposal> out;
    const bool ike = protocol == ProtocolId::ike;
    for (std::size_t i = 0; i < configured.size(); ++i) {
        const config::Proposal& c = configured[i];
        Proposal p;
        p.number = static_cast<std::uint8_t>(i + 1);
        p.protocol = protocol;
        p.spi = spi;
        for (const config::Cipher& cipher : c.ciphers) {
            p.transforms.push_back(
                Transform::make(TransformType::encr, cipher.id, cipher.key_bits));
        }
        if (ike) {
            for (auto id : c.prf) p.transforms.push_back(Transform::make(TransformType::prf, id));
        }
        for (auto id : c.integ) p.transforms.push_back(Transform::make(TransformType::integ, id));
        if (include_ke) {
            for (auto id : c.dh) p.transforms.push_back(Transform::make(TransformType::dh, id));
        }
        if (!ike) {
            for (auto id : esn_list(c)) {
                p.transforms.push_back(Transform::make(TransformType::esn, id));
            }
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::optional<Selection> select_proposal(std::span<const Proposal> offered,
                                         std::span<const config::Proposal> configured,
                                         ProtocolId protocol, bool ignore_ke,
                                         std::size_t ike_spi_size) {
    for (const Proposal& p : offered) {
        if (p.protocol != protocol) continue;
        if (p.spi.size() != (protocol == ProtocolId::ike ? ike_spi_size : 4)) continue;
        for (const config::Proposal& c : configured) {
            if (auto s = match(p, c, protocol, ignore_ke)) return s;
        }
    }
    return std::nullopt;
}

std::optional<Selection> check_chosen(const SaPayload& answer, std::span<const Proposal> sent,
                                      ProtocolId protocol, std::size_t ike_spi_size) {
    if (answer.proposals.size() != 1) return std::nullopt;
    const Proposal& a = answer.proposals.front();
    if (a.protocol != protocol) return std::nullopt;
    if (a.spi.size() != (protocol == ProtocolId::ike ? ike_spi_size : 4)) return std::nullopt;
    const auto ours = std::find_if(sent.begin(), sent.end(),
                                   [&](const Proposal& p) { return p.number == a.number; });
    if (ours == sent.end()) return std::nullopt;

    std::optional<Transform> encr, prf, integ, dh, esn;
    for (const Transform& t : a.transforms) {
        if (std::find(ours->transforms.begin(), ours->transforms.end(), t) ==
            ours->transforms.end()) {
            return std::nullopt;  // not something we offered in that proposal
        }
        std::optional<Transform>* slot = nullptr;
        switch (t.type) {
            case TransformType::encr:
                slot = &encr;
                break;
            case TransformType::prf:
                slot = &prf;
                break;
            case TransformType::integ:
                slot = &integ;
                break;
            case TransformType::dh:
                slot = &dh;
                break;
            case TransformType::esn:
                slot = &esn;
                break;
            default:
                return std::nullopt;
        }
        if (*slot) return std::nullopt;  // two transforms of one type
        *slot = t;
    }
    if (!encr || !encr->key_length()) return std::nullopt;
    Selection s;
    s.chosen = a;
    s.transforms.cipher = config::Cipher{encr->id, *encr->key_length()};
    s.transforms.integ = integ ? integ->id : config::integ::none;
    if (s.transforms.cipher.is_aead() != (s.transforms.integ == config::integ::none)) {
        return std::nullopt;
    }
    s.transforms.prf = prf ? prf->id : 0;
    s.transforms.dh = dh ? dh->id : 0;
    s.transforms.esn = esn && esn->id == config::esn::yes;
    if (protocol == ProtocolId::ike && (!prf || !dh)) return std::nullopt;
    return s;
}

std::uint16_t first_dh_group(std::span<const config::Proposal> configured) {
    for (const auto& c : configured) {
        if (!c.dh.empty()) return c.dh.front();
    }
    return 0;
}

bool offers_group(std::span<const config::Proposal> configured, std::uint16_t group) {
    return std::any_of(configured.begin(), configured.end(),
                       [&](const config::Proposal& c) { return contains(c.dh, group); });
}

}  // namespace cgwd::ike
