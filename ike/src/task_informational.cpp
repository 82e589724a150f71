// INFORMATIONAL exchanges on an established IKE SA (RFC 7296 sections 1.4, 2.4): liveness
// checks and Delete of the IKE SA or of CHILD_SAs, as responder and as initiator.
#include <algorithm>
#include <string>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike {

void IkeSa::info_handle_request(const Header& h, const std::vector<Payload>& inner, TimePoint now) {
    std::vector<std::uint32_t> ours;  // inbound SPIs of the CHILD_SAs the peer deleted
    for (const Payload& p : inner) {
        const auto* del = p.get<DeletePayload>();
        if (!del) continue;
        if (del->protocol == ProtocolId::ike) {
            respond_encrypted(h, {});  // section 1.4.1: empty answer, then the SA is gone
            if (ike_candidate_) {
                // A rekey collision the peer won (2.8.1): it deletes the old IKE SA, the
                // SA its exchange created takes over.
                install_ike(std::move(ike_candidate_));
                ike_collision_.reset();
                ++ike_rekeys_;
                return;
            }
            fail("IKE SA deleted by peer", now);
            return;
        }
        if (del->protocol != ProtocolId::esp) continue;
        for (std::uint32_t spi : del->spis) {
            if (const Child* c = find_child_out(spi)) ours.push_back(c->spi_in);
        }
    }
    if (ours.empty()) {
        respond_encrypted(h, {});  // liveness check (DPD) or nothing we act on
        return;
    }
    // Answer with the Delete of our inbound halves (section 1.4.1).
    respond_encrypted(h, {Payload{PayloadType::del, false, DeletePayload{ProtocolId::esp, ours}}});
    bool replaced = true;
    for (std::uint32_t spi : ours) {
        const Child* c = find_child_in(spi);
        replaced = replaced && c && c->replaced;
        remove_child(spi);
        if (exchange_ && exchange_->task == Task::rekey_child && exchange_->child_spi_in == spi) {
            exchange_->child_spi_in = 0;  // our rekey of it is moot
        }
    }
    if (!replaced) set_state(state_, "CHILD_SA deleted by peer");
}

bool IkeSa::send_liveness_check(TimePoint now) {
    now_ = now;
    if (state_ != SaState::established || pending_) return false;
    auto bytes = seal(header(ExchangeType::informational, false, next_request_id_), {});
    if (!bytes) return false;
    send_request(std::move(*bytes), ExchangeType::informational, now, /*liveness=*/true);
    last_dpd_sent_ = now;
    return true;
}

// An INFORMATIONAL Delete of our CHILD_SA `spi_in` (section 1.4.1); ChildSaDeleted when the
// peer answers.
void IkeSa::delete_child_send(std::uint32_t spi_in, TimePoint now) {
    auto bytes = seal(header(ExchangeType::informational, false, next_request_id_),
                      {Payload{PayloadType::del, false, DeletePayload{ProtocolId::esp, {spi_in}}}});
    if (!bytes) return;
    send_request(std::move(*bytes), ExchangeType::informational, now);
    Exchange x;
    x.task = Task::delete_child;
    x.child_spi_in = spi_in;
    exchange_ = std::move(x);
}

void IkeSa::delete_handle_response(const Exchange& x, TimePoint) {
    if (x.task == Task::delete_child) remove_child(x.child_spi_in);
}

void IkeSa::stop(TimePoint now) {
    now_ = now;
    initiator_role_ = false;
    retry_deadline_.reset();
    retry_delay_ = Millis{0};
    if (state_ == SaState::established) {
        auto bytes = seal(header(ExchangeType::informational, false, next_request_id_),
                          {Payload{PayloadType::del, false, DeletePayload{ProtocolId::ike, {}}}});
        if (bytes) emit(std::move(*bytes));
    }
    if (state_ == SaState::idle) return;
    fail("stopped", now);
}

}  // namespace cgwd::ike
