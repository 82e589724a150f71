// Requests the peer sends on an established IKE SA: INFORMATIONAL (liveness checks and Delete,
// RFC 7296 sections 1.4, 2.4) and CREATE_CHILD_SA (refused until rekeying is implemented).
#include <algorithm>
#include <string>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike {

void IkeSa::info_handle_request(const Header& h, const std::vector<Payload>& inner, TimePoint now) {
    if (h.exchange == ExchangeType::create_child_sa) {
        respond_encrypted(
            h, {Payload{PayloadType::notify, false,
                        NotifyPayload{ProtocolId::none, {}, NotifyType::no_additional_sas, {}}}});
        return;
    }
    for (const Payload& p : inner) {
        const auto* del = p.get<DeletePayload>();
        if (!del) continue;
        if (del->protocol == ProtocolId::ike) {
            respond_encrypted(h, {});  // section 1.4.1: empty answer, then the SA is gone
            fail("IKE SA deleted by peer", now);
            return;
        }
        if (del->protocol == ProtocolId::esp &&
            std::find(del->spis.begin(), del->spis.end(), esp_spi_out_) != del->spis.end()) {
            // Answer with the Delete of our inbound half (section 1.4.1).
            respond_encrypted(h, {Payload{PayloadType::del, false,
                                          DeletePayload{ProtocolId::esp, {esp_spi_in_}}}});
            actions_.push_back(ChildSaDeleted{esp_spi_in_, esp_spi_out_});
            esp_spi_in_ = esp_spi_out_ = 0;
            set_state(state_, "CHILD_SA deleted by peer");
            return;
        }
    }
    respond_encrypted(h, {});  // liveness check (DPD) or nothing we act on
}

bool IkeSa::send_liveness_check(TimePoint now) {
    if (state_ != SaState::established || pending_) return false;
    auto bytes = seal(header(ExchangeType::informational, false, next_request_id_), {});
    if (!bytes) return false;
    send_request(std::move(*bytes), ExchangeType::informational, now);
    return true;
}

void IkeSa::stop(TimePoint now) {
    initiator_role_ = false;
    retry_deadline_.reset();
    retry_delay_ = Millis{0};
    if (state_ == SaState::established) {
        auto bytes = seal(header(ExchangeType::informational, false, next_request_id_),
                          {Payload{PayloadType::del, false, DeletePayload{ProtocolId::ike, {}}}});
        if (bytes) datagrams_.push_back(std::move(*bytes));
    }
    if (state_ == SaState::idle) return;
    fail("stopped", now);
}

}  // namespace cgwd::ike
