#include "cgwd/daemon/tunnel_runner.hpp"

#include "cgwd/daemon/logging.hpp"
#include "cgwd/ike/keylog.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string esp_text(const config::Cipher& c, std::uint16_t integ, bool esn) {
    std::string s = config::cipher_name(c);
    if (integ != config::integ::none) s += "/" + config::integ_name(integ);
    return s + (esn ? "/ESN" : "");
}

std::string hex_spi(std::uint64_t spi, int digits) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%0*llx", digits, static_cast<unsigned long long>(spi));
    return buf;
}

dataplane::KeyBytes key_of(const ike::crypto::SecretBytes& s) {
    return dataplane::KeyBytes(s.reveal());
}

}  // namespace

TunnelRunner::TunnelRunner(asio::io_context& io, TunnelPlan plan, dataplane::Dataplane& dp,
                           IkeSockets& sockets, ike::crypto::Random& rng, UpHandler on_up)
    : plan_(std::move(plan)),
      dp_(dp),
      sockets_(sockets),
      rng_(rng),
      on_up_(std::move(on_up)),
      timer_(io) {
    sa_ = make_sa();
}

std::unique_ptr<ike::IkeSa> TunnelRunner::make_sa() {
    auto settings = ike::SaSettings::from_tunnel(plan_.tunnel, plan_.local_outside);
    if (plan_.local_id.value != 0 && plan_.local_id != plan_.local_outside)
        settings.local_id = plan_.local_id;
    settings.force_encap = plan_.force_encap;
    settings.natt_port = plan_.natt_port;
    if (!plan_.wireshark_keys.empty()) {
        settings.on_ike_keys = [keys = ike::keylog::WiresharkKeyLog(plan_.wireshark_keys),
                                key = plan_.key](const ike::IkeSaKeysDerived& k) {
            if (auto r = keys.write(k); !r) logger("ike")->warn("{}: {}", key, r.error());
        };
    }
    return std::make_unique<ike::IkeSa>(std::move(settings), rng_);
}

TunnelRunner::~TunnelRunner() {
    timer_.cancel();
}

bool TunnelRunner::start() {
    const auto& t = plan_.tunnel;
    // IKE_SA_INIT goes out first: its round trip overlaps the interface, policies and MSS clamp
    // being set up below (the answer is read by the loop, after this returns, and the first
    // CHILD_SA comes one exchange later still). A failure below stops the SA again.
    if (t.startup_action == config::StartupAction::add) {
        detail_ = "initiating";
        sa_->start(Clock::now());
        pump();
    } else {
        detail_ = "waiting for AWS to initiate";
    }
    dataplane::TunnelInterface ti{plan_.ifname, plan_.if_id,  t.mtu,
                                  t.cgw_inside, t.aws_inside, t.inside_cidr.length};
    if (auto r = dp_.create_tunnel(ti); !r) {
        const auto why = "tunnel interface " + plan_.ifname + ": " + r.error().message;
        logger("dataplane")->error("{}: {}", plan_.key, why);
        stop();
        detail_ = why;
        return false;
    }
    interface_made_ = true;
    // Route-based: everything routed into the interface is ours to protect (0.0.0.0/0 both
    // ways, bound by if_id), as AWS's tunnels do.
    for (const auto& p : policies()) {
        if (auto r = dp_.add_policy(p); !r) {
            const auto why = "policy for " + plan_.ifname + ": " + r.error().message;
            logger("dataplane")->error("{}: {}", plan_.key, why);
            stop();
            detail_ = why;
            return false;
        }
        policies_made_.push_back(dataplane::key_of(p));
    }
    if (auto r = dp_.set_mss_clamp(plan_.if_id, t.tcp_mss); !r)
        logger("dataplane")
            ->warn("{}: MSS clamp {} on {}: {}", plan_.key, t.tcp_mss, plan_.ifname,
                   r.error().message);
    logger("dataplane")
        ->info("{}: interface {} (if_id {}) {}/{} mtu {} mss {}", plan_.key, plan_.ifname,
               plan_.if_id, t.cgw_inside.to_string(), t.inside_cidr.length, t.mtu, t.tcp_mss);
    return true;
}

void TunnelRunner::stop() {
    drop_candidate("tunnel stopped");
    sa_->stop(Clock::now());
    pump();
    while (!children_.empty()) remove(children_.begin()->first);
    timer_.cancel();
    for (const auto& k : policies_made_) (void)dp_.del_policy(k);
    policies_made_.clear();
    if (interface_made_) {
        (void)dp_.set_mss_clamp(plan_.if_id, 0);
        if (auto r = dp_.delete_tunnel(plan_.if_id); !r)
            logger("dataplane")
                ->warn("{}: deleting {}: {}", plan_.key, plan_.ifname, r.error().message);
        interface_made_ = false;
    }
    ike_up_ = false;
    report_down();
    detail_ = "stopped";
}

void TunnelRunner::on_datagram(std::span<const std::uint8_t> ike, std::uint16_t from_port,
                               std::uint16_t local_port) {
    route(ike).on_datagram(ike, Clock::now(), local_port, from_port);
    pump();
}

void TunnelRunner::on_expiry(const dataplane::ExpiryEvent& e) {
    for (const auto& [spi_in, child] : children_) {
        if (child.in == e.sa || child.out == e.sa) {
            logger("dataplane")
                ->info("{}: SA {:08x} {} expiry", plan_.key, e.sa.spi,
                       e.kind == dataplane::ExpiryKind::hard ? "hard" : "soft");
            sa_->on_child_expired(spi_in, e.kind == dataplane::ExpiryKind::hard, Clock::now());
            pump();
            return;
        }
    }
}

bool TunnelRunner::rekey() {
    bool ok = sa_->rekey_child(Clock::now());
    pump();
    return ok;
}

void TunnelRunner::reset() {
    drop_candidate("tunnel reset");
    sa_->stop(Clock::now());
    pump();
    while (!children_.empty()) remove(children_.begin()->first);
    // The engine does not re-initiate after stop(): a fresh one starts over.
    sa_ = make_sa();
    detail_ = "reset by operator";
    sa_->start(Clock::now());
    pump();
}

std::vector<dataplane::Policy> TunnelRunner::policies() const {
    const auto any = config::Ipv4Prefix::of(config::Ipv4Address{}, 0);
    std::vector<dataplane::Policy> out;
    for (auto dir : {dataplane::PolicyDirection::out, dataplane::PolicyDirection::in,
                     dataplane::PolicyDirection::fwd}) {
        dataplane::Policy p;
        p.direction = dir;
        p.src = any;
        p.dst = any;
        bool outbound = dir == dataplane::PolicyDirection::out;
        p.tunnel_src = outbound ? plan_.local_outside : plan_.tunnel.aws_outside;
        p.tunnel_dst = outbound ? plan_.tunnel.aws_outside : plan_.local_outside;
        p.reqid = plan_.if_id;
        p.if_id = plan_.if_id;
        out.push_back(p);
    }
    return out;
}

void TunnelRunner::pump() {
    // Actions first: a CHILD_SA must be in the dataplane before the message that lets the peer
    // use it leaves (our IKE_AUTH or CREATE_CHILD_SA response, or the Delete of the old SA
    // after a rekey we initiated), or the peer's first ESP packets on it meet no SA.
    for (auto& a : sa_->take_actions()) apply(a);
    for (auto& d : sa_->take_outgoing())
        sockets_.send(d.bytes, plan_.tunnel.aws_outside, d.remote_port, d.local_port, d.keepalive);
    if (candidate_) pump_candidate();
    arm_timer();
}

void TunnelRunner::arm_timer() {
    auto deadline = sa_->next_deadline();
    // While established with DPD on, look at the ESP counters four times per DPD interval: the
    // liveness check then starts at most a quarter interval late after the peer falls silent
    // (with a check only at the deadline it could start up to a whole interval late).
    if (const auto dpd = sa_->dpd_interval();
        dpd.count() > 0 && sa_->state() == ike::SaState::established) {
        const auto poll = Clock::now() + dpd / 4;
        if (!deadline || poll < *deadline) deadline = poll;
    }
    if (candidate_) {
        if (auto c = candidate_->next_deadline(); c && (!deadline || *c < *deadline)) deadline = c;
    }
    if (!deadline) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(*deadline);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        note_peer_traffic();
        const auto now = Clock::now();
        sa_->on_timer(now);
        if (candidate_) candidate_->on_timer(now);  // (each engine ignores early calls)
        pump();
    });
}

ike::IkeSa& TunnelRunner::route(std::span<const std::uint8_t> datagram) {
    auto h = ike::decode_header(datagram);
    if (!h) return *sa_;  // NAT keepalive or garbage: the current SA's business
    if (candidate_ && h->spi_i == candidate_spi_i_) return *candidate_;
    // RFC 7296 section 2.4: a new IKE_SA_INIT from the peer while our IKE SA is established
    // (it restarted, or re-authenticates): a second engine answers it. A newer one replaces
    // an unfinished candidate (the peer gave that one up), so there is one at most.
    const bool new_init = h->exchange == ike::ExchangeType::ike_sa_init && !h->response &&
                          h->initiator && h->spi_r == 0 && h->message_id == 0 && h->spi_i != 0 &&
                          h->spi_i != sa_->info().spi_i;
    if (!new_init || sa_->state() != ike::SaState::established) return *sa_;
    if (candidate_) drop_candidate("replaced by a newer IKE_SA_INIT from the peer");
    candidate_ = make_sa();
    candidate_spi_i_ = h->spi_i;
    logger("ike")->info(
        "{}: new IKE_SA_INIT from the peer (SPIi {}) while our IKE SA is "
        "established: answering it as a replacement",
        plan_.key, hex_spi(h->spi_i, 16));
    return *candidate_;
}

void TunnelRunner::pump_candidate() {
    auto log = logger("ike");
    std::optional<ike::IkeSaUp> up;
    std::optional<std::string> down;
    for (auto& a : candidate_->take_actions()) {
        if (auto* c = std::get_if<ike::ChildSaReady>(&a)) {
            if (!plan_.wireshark_keys.empty()) {
                if (auto r = ike::keylog::WiresharkKeyLog(plan_.wireshark_keys).write(*c); !r)
                    log->warn("{}: {}", plan_.key, r.error());
            }
            if (install(*c, /*first_of_sa=*/true)) candidate_children_.insert(c->spi_in);
        } else if (auto* d = std::get_if<ike::ChildSaDeleted>(&a)) {
            if (candidate_children_.erase(d->spi_in)) remove(d->spi_in);
        } else if (auto* u = std::get_if<ike::IkeSaUp>(&a)) {
            up = *u;
        } else if (auto* dn = std::get_if<ike::IkeSaDown>(&a)) {
            down = dn->reason;
        } else if (auto* st = std::get_if<ike::StatusChanged>(&a)) {
            log->info("{}: replacement IKE SA: {} ({})", plan_.key, st->status,
                      ike::to_string(st->state));
        }
    }
    // After the actions, as in pump(): our IKE_AUTH response leaves once the CHILD_SA is in.
    for (auto& d : candidate_->take_outgoing())
        sockets_.send(d.bytes, plan_.tunnel.aws_outside, d.remote_port, d.local_port, d.keepalive);
    if (down) {
        drop_candidate(*down);
    } else if (up && candidate_->state() == ike::SaState::established) {
        promote(*up);
    } else if (candidate_->state() == ike::SaState::idle) {
        drop_candidate(candidate_->status());
    }
}

void TunnelRunner::drop_candidate(const std::string& why) {
    if (!candidate_) return;
    logger("ike")->info("{}: replacement IKE SA (SPIi {}) dropped: {}", plan_.key,
                        hex_spi(candidate_spi_i_, 16), why);
    for (auto spi : candidate_children_) remove(spi);
    candidate_children_.clear();
    candidate_.reset();
    candidate_spi_i_ = 0;
}

void TunnelRunner::promote(const ike::IkeSaUp& up) {
    auto log = logger("ike");
    const auto old_info = sa_->info();
    // The new CHILD_SA is installed (pump_candidate); the old IKE SA's CHILD_SAs go now.
    std::vector<std::uint32_t> old_children;
    for (const auto& [spi_in, child] : children_)
        if (!candidate_children_.count(spi_in)) old_children.push_back(spi_in);
    auto old = std::move(sa_);
    sa_ = std::move(candidate_);
    // We initiate this tunnel ("add"): the new SA, a responder so far, must re-initiate after
    // a failure as the old one would have.
    if (plan_.tunnel.startup_action == config::StartupAction::add) sa_->adopt_initiator_role();
    candidate_spi_i_ = 0;
    candidate_children_.clear();
    ++ike_replacements_;
    const std::string old_spis = hex_spi(old_info.spi_i, 16) + "_" + hex_spi(old_info.spi_r, 16);
    std::string what;
    if (up.initial_contact) {
        // RFC 7296 section 2.4: the peer has no other IKE SA with us: nothing to Delete there.
        for (auto spi : old_children) remove(spi);
        (void)old->take_actions();
        (void)old->take_outgoing();
        what = "IKE SA replaced (peer restarted, INITIAL_CONTACT)";
    } else {
        // The peer runs both; we keep the newest and delete the old one on it (one Delete).
        old->stop(Clock::now());
        for (auto& a : old->take_actions())
            if (auto* d = std::get_if<ike::ChildSaDeleted>(&a)) remove(d->spi_in);
        for (auto spi : old_children) remove(spi);  // anything the engine did not name
        for (auto& d : old->take_outgoing())
            sockets_.send(d.bytes, plan_.tunnel.aws_outside, d.remote_port, d.local_port,
                          d.keepalive);
        what = "IKE SA replaced by a new one from the peer (old one deleted)";
    }
    log->info("{}: {}: old IKE SA {} gone, {} old CHILD_SA(s) removed", plan_.key, what, old_spis,
              old_children.size());
    if (event_) event_(what);
    detail_ = "established";
    apply_up(up);
}

void TunnelRunner::note_peer_traffic() {
    std::uint64_t packets = 0;
    for (const auto& [spi_in, child] : children_)
        if (auto stats = dp_.query_sa(child.in)) packets += stats->counters.packets;
    if (packets != inbound_packets_) {
        inbound_packets_ = packets;
        if (packets != 0) sa_->on_peer_traffic(Clock::now());
    }
}

void TunnelRunner::apply(ike::Action& action) {
    auto log = logger("ike");
    if (auto* c = std::get_if<ike::ChildSaReady>(&action)) {
        if (!plan_.wireshark_keys.empty()) {
            if (auto r = ike::keylog::WiresharkKeyLog(plan_.wireshark_keys).write(*c); !r)
                log->warn("{}: {}", plan_.key, r.error());
        }
        install(*c);
    } else if (auto* d = std::get_if<ike::ChildSaDeleted>(&action)) {
        remove(d->spi_in);
    } else if (auto* u = std::get_if<ike::IkeSaUp>(&action)) {
        apply_up(*u);
    } else if (auto* down = std::get_if<ike::IkeSaDown>(&action)) {
        log->warn("{}: IKE SA down: {}", plan_.key, down->reason);
        if (event_) event_("IKE SA down: " + down->reason);
        while (!children_.empty()) remove(children_.begin()->first);
        ike_up_ = false;
        report_down();
    } else if (auto* s = std::get_if<ike::StatusChanged>(&action)) {
        detail_ = s->status;
        log->info("{}: {} ({})", plan_.key, s->status, ike::to_string(s->state));
    }
}

void TunnelRunner::apply_up(const ike::IkeSaUp& u) {
    nat_detected_ = u.nat_detected;
    logger("ike")->info(
        "{}: IKE SA {}_{} up ({}{}), {}{}", plan_.key, hex_spi(u.spi_i, 16), hex_spi(u.spi_r, 16),
        u.initiator ? "we initiated" : "AWS initiated",
        u.initial_contact ? ", INITIAL_CONTACT" : "",
        config::cipher_name(u.transforms.cipher) +
            (u.transforms.integ ? "/" + config::integ_name(u.transforms.integ) : "") + "/" +
            config::prf_name(u.transforms.prf) + "/" + config::dh_name(u.transforms.dh),
        u.nat_detected ? ", NAT detected" : "");
    if (event_) event_("IKE SA up" + std::string(u.nat_detected ? ", NAT detected" : ""));
    ike_up_ = true;
    report_up();
}

void TunnelRunner::report_up() {
    if (up_reported_ || !ike_up_ || children_.empty()) return;
    up_reported_ = true;
    if (on_up_) on_up_(true);
}

void TunnelRunner::report_down() {
    if (!up_reported_) return;
    up_reported_ = false;
    if (on_up_) on_up_(false);
}

bool TunnelRunner::install(const ike::ChildSaReady& c, bool first_of_sa) {
    dataplane::SaConfig in;
    in.direction = dataplane::Direction::inbound;
    in.spi = c.spi_in;
    in.src = c.remote;
    in.dst = c.local;
    in.cipher = c.cipher;
    in.integ = c.integ;
    in.esn = c.esn;
    in.replay_window = c.replay_window;
    in.reqid = plan_.if_id;
    in.if_id = plan_.if_id;
    // The engine rekeys ahead of the lifetime; the hard limit only catches a failed rekey.
    in.lifetime.seconds.hard = c.lifetime_s;
    dataplane::SaConfig out = in;
    out.direction = dataplane::Direction::outbound;
    out.spi = c.spi_out;
    out.src = c.local;
    out.dst = c.remote;
    in.enc_key = key_of(c.keys_in.encr);
    in.integ_key = key_of(c.keys_in.integ);
    out.enc_key = key_of(c.keys_out.encr);
    out.integ_key = key_of(c.keys_out.integ);
    if (c.encap_local_port != 0) {
        in.encap = dataplane::UdpEncap{c.encap_remote_port, c.encap_local_port};
        out.encap = dataplane::UdpEncap{c.encap_local_port, c.encap_remote_port};
    }
    auto algorithms = esp_text(c.cipher, c.integ, c.esn);
    // RFC 7296 section 2.8: as the responder of a rekey, keep sending on the old SA until
    // the initiator deletes it; the peer may not have installed its inbound half yet.
    // Not for the first CHILD_SA of a new IKE SA: the old SAs are not its predecessors.
    const bool defer_out = !first_of_sa && !c.exchange_initiator && !children_.empty();
    auto r = dp_.add_sa(in);
    if (r && !defer_out) {
        r = dp_.add_sa(out);
        if (!r) (void)dp_.del_sa(in.key());  // nothing half-installed
    }
    if (!r) {
        ++dataplane_errors_;
        last_error_ = r.error().message;
        logger("dataplane")
            ->error("{}: installing CHILD_SA in {:08x} out {:08x}: {}", plan_.key, c.spi_in,
                    c.spi_out, last_error_);
        return false;
    }
    ++child_installs_;
    const bool rekey = !first_of_sa && !children_.empty();  // make-before-break
    if (rekey) last_rekey_ = Clock::now();
    if (event_)
        event_("CHILD_SA in " + hex_spi(c.spi_in, 8) + " out " + hex_spi(c.spi_out, 8) + " " +
               algorithms +
               (first_of_sa ? " (new IKE SA)"
                : rekey     ? " (rekey)"
                            : ""));
    Child child{in.key(), out.key(), algorithms, Clock::now(), std::nullopt};
    if (defer_out) child.pending_out = out;
    children_[c.spi_in] = std::move(child);
    logger("dataplane")
        ->info("{}: CHILD_SA in {:08x} out {:08x} {} {} installed{}", plan_.key, c.spi_in,
               c.spi_out, algorithms, out.encap ? "UDP-encapsulated" : "raw ESP",
               defer_out ? " (outbound when the old SA is deleted)" : "");
    report_up();
    return true;
}

void TunnelRunner::install_pending_outbound() {
    for (auto& [spi_in, child] : children_) {
        if (!child.pending_out) continue;
        if (auto r = dp_.add_sa(*child.pending_out); !r) {
            ++dataplane_errors_;
            last_error_ = r.error().message;
            logger("dataplane")
                ->error("{}: installing outbound SA {:08x}: {}", plan_.key, child.out.spi,
                        last_error_);
        }
        child.pending_out.reset();
    }
}

void TunnelRunner::remove(std::uint32_t spi_in) {
    auto it = children_.find(spi_in);
    if (it == children_.end()) return;
    const bool out_installed = !it->second.pending_out;
    if (out_installed && children_.size() > 1) {
        // The SA being replaced goes: its successor sends from now on, then the old one is
        // removed (never a moment without an outbound SA).
        auto keep = std::move(it->second);
        children_.erase(it);
        install_pending_outbound();
        it = children_.emplace(spi_in, std::move(keep)).first;
    }
    std::vector<dataplane::SaKey> keys{it->second.in};
    if (out_installed) keys.push_back(it->second.out);
    for (const auto& key : keys)
        if (auto r = dp_.del_sa(key); !r)
            logger("dataplane")
                ->warn("{}: removing SA {:08x}: {}", plan_.key, key.spi, r.error().message);
    logger("dataplane")
        ->info("{}: CHILD_SA in {:08x} out {:08x} removed", plan_.key, it->second.in.spi,
               it->second.out.spi);
    children_.erase(it);
}

json TunnelRunner::status() const {
    json j;
    bool up = ike_up_ && !children_.empty();
    auto s = sa_->state();
    j["state"] = up                                                        ? "up"
                 : (s == ike::SaState::idle || s == ike::SaState::backoff) ? "down"
                                                                           : "connecting";
    j["detail"] = detail_;
    j["interface"] = plan_.ifname;
    j["nat_detected"] = nat_detected_;
    // 0.0.0.0: no route toward AWS to take a source address from; status shows the AWS file's.
    if (plan_.local_outside.value != 0) j["local_outside"] = plan_.local_outside.to_string();
    if (plan_.local_id.value != 0 && plan_.local_id != plan_.local_outside)
        j["ike_id"] = plan_.local_id.to_string();
    const auto info = sa_->info();
    const auto now = Clock::now();
    auto secs = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::seconds>(d).count();
    };
    if (info.established_at) {
        json ike{{"spi_i", hex_spi(info.spi_i, 16)},  {"spi_r", hex_spi(info.spi_r, 16)},
                 {"algorithms", info.ike_transforms}, {"initiator", info.initiator},
                 {"udp_encapsulation", info.floated}, {"age_s", secs(now - *info.established_at)},
                 {"ike_rekeys", info.ike_rekeys},     {"child_rekeys", info.child_rekeys}};
        if (info.next_ike_rekey) ike["next_rekey_s"] = secs(*info.next_ike_rekey - now);
        if (info.child && info.child->next_rekey)
            ike["next_child_rekey_s"] = secs(*info.child->next_rekey - now);
        if (info.last_dpd_sent) ike["last_dpd_s"] = secs(now - *info.last_dpd_sent);
        j["ike"] = std::move(ike);
    }
    json children = json::array();
    for (const auto& [spi_in, c] : children_) {
        json jc{
            {"spi_in", hex_spi(c.in.spi, 8)},
            {"spi_out", hex_spi(c.out.spi, 8)},
            {"algorithms", c.algorithms},
            {"age_s",
             std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c.installed).count()}};
        if (auto in = dp_.query_sa(c.in)) {
            jc["bytes_in"] = in->counters.bytes;
            jc["packets_in"] = in->counters.packets;
            jc["replay_drops"] = in->counters.replay_drops;
            jc["integrity_failures"] = in->counters.integrity_failures;
        }
        if (auto out = dp_.query_sa(c.out)) {
            jc["bytes_out"] = out->counters.bytes;
            jc["packets_out"] = out->counters.packets;
        }
        children.push_back(std::move(jc));
    }
    j["child_sas"] = std::move(children);
    j["child_sa_installs"] = child_installs_;
    if (last_rekey_) j["last_rekey_s"] = secs(now - *last_rekey_);
    // IKE SAs the peer replaced by a new one (restart, see the top), and one in progress.
    if (ike_replacements_) j["ike_replacements"] = ike_replacements_;
    if (candidate_)
        j["ike_replacement"] = {{"spi_i", hex_spi(candidate_spi_i_, 16)},
                                {"state", ike::to_string(candidate_->state())}};
    if (dataplane_errors_) j["dataplane_error"] = last_error_;
    return j;
}

}  // namespace cgwd::daemon
