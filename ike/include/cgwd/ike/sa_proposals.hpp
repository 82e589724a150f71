// IKEv2 proposal construction and selection (RFC 7296 sections 2.7, 3.3).
//
// Turns the configured proposals (config::Proposal, transform ids) into SA payload proposals,
// lets a responder choose (the first of the peer's proposals that one of our proposals accepts;
// within it, the peer's first acceptable transform of each type) and lets an initiator check
// that the responder's choice is a single proposal made of transforms it offered.
//
// A transform with an attribute other than Key Length, or an ENCR transform whose key length is
// not one we configured, is not acceptable (RFC 7296 section 3.3.6). A proposal carrying a
// transform type we did not configure is rejected, except INTEG "none" (id 0) with AEAD and,
// in IKE_AUTH, KE transforms, which are ignored (`ignore_ke`: the first CHILD_SA has no KE).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/ike/codec_payloads.hpp"

namespace cgwd::ike {

// The transforms negotiated for one SA (IKE or ESP). For ESP, `prf` is unused and `dh` is 0
// when no PFS group was negotiated.
struct ChosenTransforms {
    config::Cipher cipher;
    std::uint16_t integ = config::integ::none;
    std::uint16_t prf = 0;
    std::uint16_t dh = 0;
    bool esn = false;
    friend bool operator==(const ChosenTransforms&, const ChosenTransforms&) = default;
};

// SA payload proposals numbered 1..n from the configured ones. `spi`: empty for an initial IKE
// SA, the 4-byte inbound SPI for ESP. `include_ke` false drops KE transforms (first CHILD_SA).
[[nodiscard]] std::vector<Proposal> make_proposals(std::span<const config::Proposal> configured,
                                                   ProtocolId protocol, const Bytes& spi,
                                                   bool include_ke = true);

struct Selection {
    Proposal chosen;  // one transform per type, the peer's proposal number and SPI
    ChosenTransforms transforms;
};

// Responder: the first of `offered` that one of `configured` accepts, or nullopt.
// `ike_spi_size`: the SPI size an IKE proposal must carry (0 in IKE_SA_INIT, 8 when rekeying
// the IKE SA in CREATE_CHILD_SA, RFC 7296 section 3.3.1).
[[nodiscard]] std::optional<Selection> select_proposal(std::span<const Proposal> offered,
                                                       std::span<const config::Proposal> configured,
                                                       ProtocolId protocol, bool ignore_ke = false,
                                                       std::size_t ike_spi_size = 0);

// Initiator: checks the responder's SA payload (exactly one proposal, a number we sent, one
// transform per type, each offered by us in that proposal). Returns the chosen transforms.
[[nodiscard]] std::optional<Selection> check_chosen(const SaPayload& answer,
                                                    std::span<const Proposal> sent,
                                                    ProtocolId protocol,
                                                    std::size_t ike_spi_size = 0);

// The KE group the initiator guesses first: the first DH group of the first proposal.
[[nodiscard]] std::uint16_t first_dh_group(std::span<const config::Proposal> configured);
// Whether `group` appears in any configured proposal.
[[nodiscard]] bool offers_group(std::span<const config::Proposal> configured, std::uint16_t group);

}  // namespace cgwd::ike
