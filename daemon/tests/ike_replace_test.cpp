// A restarted peer's new IKE SA replaces the old one at once (RFC 7296 section 2.4), on
// loopback with the in-memory dataplane: a TunnelRunner (our side, waiting for AWS to
// initiate) and a bare ike::IkeSa initiator playing the AWS endpoint over real UDP sockets.
// The "restart" is a fresh initiator that knows nothing of the first IKE SA: the runner must
// end with its IKE SA and CHILD_SA only, install the new CHILD_SA before removing the old one,
// and never send anything on the old IKE SA (no Delete into the void). A candidate that fails
// leaves the old SA alone; a newer IKE_SA_INIT replaces an unfinished candidate. Without
// INITIAL_CONTACT (the peer's IKE_AUTH re-encrypted without it) the new SA is taken too and the
// old one is deleted with an INFORMATIONAL Delete sent on it.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <memory>

#include "cgwd/config/aws_import.hpp"
#include "cgwd/daemon/ike_sockets.hpp"
#include "cgwd/daemon/tunnel_runner.hpp"
#include "cgwd/dataplane/fake_dataplane.hpp"
#include "cgwd/ike/message.hpp"

using namespace cgwd;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kFixtures = std::string(CGWD_SOURCE_DIR) + "/config/tests/fixtures/";
const config::Ipv4Address kLoopback{0x7f000001};

config::Tunnel fixture_tunnel() {
    auto conns = config::import_aws_file(kFixtures + "vgw-bgp.xml");
    REQUIRE(conns);
    auto t = conns->front().tunnels[0];
    t.aws_outside = kLoopback;
    t.cgw_outside = kLoopback;
    t.startup_action = config::StartupAction::start;  // AWS initiates
    return t;
}

// Our side: sockets on ephemeral ports, the runner, the fake dataplane, its events.
struct Cgw {
    dataplane::FakeDataplane dp;
    ike::crypto::SystemRandom rng;
    std::unique_ptr<daemon::IkeSockets> sockets;
    std::unique_ptr<daemon::TunnelRunner> runner;
    int ups = 0, downs = 0;
    std::vector<std::string> events;
};

// The AWS endpoint: one IkeSa initiator at a time on its own sockets. Every datagram it
// receives is kept (to check what the runner sent on which IKE SA).
// The keys of the peer's IKE SA (SaSettings::on_ike_keys), to rewrite its IKE_AUTH request.
struct PeerKeys {
    config::Cipher cipher;
    std::uint16_t integ = config::integ::none;
    ike::Bytes sk_ei, sk_ai;
};

ike::crypto::SkCipher sk_cipher(const PeerKeys& k) {
    auto c = ike::crypto::SkCipher::create(k.cipher, k.integ, k.sk_ei, k.sk_ai);
    REQUIRE(c.has_value());
    return std::move(*c);
}

// The peer's IKE_AUTH request again without N(INITIAL_CONTACT), sealed with the same keys
// (AUTH does not cover the notifies, RFC 7296 section 2.15). Anything else passes unchanged.
ike::Bytes strip_initial_contact(const PeerKeys& k, const ike::Bytes& datagram,
                                 ike::crypto::Random& rng, bool& stripped) {
    auto h = ike::decode_header(datagram);
    if (!h || h->exchange != ike::ExchangeType::ike_auth || h->response) return datagram;
    auto m = ike::decode_message(datagram);
    auto layout = ike::encrypted_layout(datagram);
    REQUIRE(m.has_value());
    REQUIRE(layout.has_value());
    const auto* sk = m->payloads.back().get<ike::SkPayload>();
    REQUIRE(sk);  // unfragmented (small)
    const std::span<const std::uint8_t> bytes(datagram);
    auto plaintext =
        sk_cipher(k).open(bytes.first(layout->body_offset), bytes.subspan(layout->body_offset));
    REQUIRE(plaintext.has_value());
    auto inner = ike::decode_payloads(sk->first_inner, *plaintext);
    REQUIRE(inner.has_value());
    const auto before = inner->size();
    std::erase_if(*inner, [](const ike::Payload& p) {
        const auto* n = p.get<ike::NotifyPayload>();
        return n && n->type == ike::NotifyType::initial_contact;
    });
    REQUIRE(inner->size() == before - 1);
    auto chain = ike::encode_payloads(*inner);
    REQUIRE(chain.has_value());
    auto cipher = sk_cipher(k);
    ike::Message out;
    out.header = *h;
    out.payloads.push_back(ike::Payload{
        ike::PayloadType::sk, false,
        ike::SkPayload{inner->front().type, ike::Bytes(cipher.sealed_size(chain->size()))}});
    auto sealed = ike::encode_message(out);
    REQUIRE(sealed.has_value());
    auto out_layout = ike::encrypted_layout(*sealed);
    REQUIRE(out_layout.has_value());
    auto body = cipher.seal(std::span<const std::uint8_t>(*sealed).first(out_layout->body_offset),
                            *chain, rng);
    REQUIRE(body.has_value());
    REQUIRE(body->size() == sealed->size() - out_layout->body_offset);
    std::copy(body->begin(), body->end(),
              sealed->begin() + static_cast<std::ptrdiff_t>(out_layout->body_offset));
    stripped = true;
    return *sealed;
}

struct Peer {
    ike::crypto::SystemRandom rng;
    bool no_initial_contact = false;  // strip N(INITIAL_CONTACT) from the IKE_AUTH request
    bool stripped = false;
    PeerKeys keys;
    std::unique_ptr<daemon::IkeSockets> sockets;
    std::unique_ptr<ike::IkeSa> sa;
    bool deaf = false;  // received datagrams are recorded but not given to `sa`
    std::vector<ike::Header> received;
    std::vector<ike::Action> actions;

    void pump() {
        for (auto& a : sa->take_actions()) actions.push_back(std::move(a));
        for (auto& d : sa->take_outgoing()) {
            if (no_initial_contact && !d.keepalive)
                d.bytes = strip_initial_contact(keys, d.bytes, rng, stripped);
            sockets->send(d.bytes, kLoopback, d.remote_port, d.local_port, d.keepalive);
        }
    }
    // A fresh endpoint (the restarted charon): a new engine with no memory of the old SA.
    void restart(const config::Tunnel& t, std::string psk = "") {
        auto s = ike::SaSettings::from_tunnel(t, kLoopback);
        if (!psk.empty()) s.psk = config::Secret(std::move(psk));
        s.on_ike_keys = [this](const ike::IkeSaKeysDerived& k) {
            keys.cipher = k.cipher;
            keys.integ = k.integ;
            keys.sk_ei = ike::Bytes(k.keys->sk_ei.reveal().begin(), k.keys->sk_ei.reveal().end());
            keys.sk_ai = ike::Bytes(k.keys->sk_ai.reveal().begin(), k.keys->sk_ai.reveal().end());
        };
        sa = std::make_unique<ike::IkeSa>(std::move(s), rng);
        actions.clear();
        sa->start(Clock::now());
        pump();
    }
};

void setup(boost::asio::io_context& io, Cgw& cgw, Peer& peer, const config::Tunnel& t) {
    daemon::IkeSockets::Options o;
    o.ike_port = 0;
    o.natt_bind_port = 0;
    cgw.sockets = std::make_unique<daemon::IkeSockets>(
        io, o,
        [&cgw](std::span<const std::uint8_t> d, config::Ipv4Address, std::uint16_t port,
               std::uint16_t local) { cgw.runner->on_datagram(d, port, local); });
    daemon::IkeSockets::Options po = o;  // the engine's 500 / 4500 are the runner's ports
    po.peer_ike_port = cgw.sockets->ike_port();
    po.peer_natt_port = cgw.sockets->natt_port();
    peer.sockets = std::make_unique<daemon::IkeSockets>(
        io, po,
        [&peer](std::span<const std::uint8_t> d, config::Ipv4Address, std::uint16_t port,
                std::uint16_t local) {
            if (auto h = ike::decode_header(d)) peer.received.push_back(*h);
            if (peer.deaf || !peer.sa) return;
            peer.sa->on_datagram(d, Clock::now(), local, port);
            peer.pump();
        });
    daemon::TunnelPlan plan;
    plan.key = "vpn-test/1";
    plan.ifname = "test-t1";
    plan.if_id = 77;
    plan.tunnel = t;
    plan.local_outside = kLoopback;
    cgw.runner = std::make_unique<daemon::TunnelRunner>(
        io, plan, cgw.dp, *cgw.sockets, cgw.rng,
        [&cgw](bool up) { (up ? cgw.ups : cgw.downs) += 1; });
    cgw.runner->set_event_sink([&cgw](const std::string& e) { cgw.events.push_back(e); });
}

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::seconds limit) {
    const auto give_up = Clock::now() + limit;
    while (!done() && Clock::now() < give_up) io.run_for(std::chrono::milliseconds(10));
    return done();
}

std::string hex16(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

bool runner_has_ike(const Cgw& cgw, const ike::SaInfo& peer) {
    auto st = cgw.runner->status();
    return st.contains("ike") && st["ike"]["spi_i"] == hex16(peer.spi_i) &&
           st["ike"]["spi_r"] == hex16(peer.spi_r);
}

// Brings the tunnel up with the peer's first IKE SA; returns that SA's info.
ike::SaInfo first_sa(boost::asio::io_context& io, Cgw& cgw, Peer& peer, const config::Tunnel& t) {
    REQUIRE(cgw.runner->start());
    peer.restart(t);
    REQUIRE(run_until(
        io,
        [&] {
            return cgw.runner->up() && peer.sa->state() == ike::SaState::established &&
                   cgw.dp.sa_count() == 2;
        },
        std::chrono::seconds(10)));
    auto info = peer.sa->info();
    REQUIRE(runner_has_ike(cgw, info));
    REQUIRE(cgw.ups == 1);
    return info;
}

// The CHILD_SA the peer's engine announced, from our side: our inbound SPI is its outbound.
ike::ChildSaReady peer_child(const Peer& peer) {
    for (const auto& a : peer.actions)
        if (const auto* c = std::get_if<ike::ChildSaReady>(&a)) return *c;
    FAIL("the peer announced no CHILD_SA");
    return {};
}

}  // namespace

TEST_CASE("a restarted peer's new IKE SA (INITIAL_CONTACT) replaces the old one at once") {
    boost::asio::io_context io;
    Cgw cgw;
    Peer peer;
    const auto t = fixture_tunnel();
    setup(io, cgw, peer, t);
    const auto old_ike = first_sa(io, cgw, peer, t);
    const auto old_child = peer_child(peer);
    REQUIRE(cgw.dp.find_sa({old_child.spi_out, kLoopback}));

    // The endpoint restarts: a new engine (new SPIi), INITIAL_CONTACT in its IKE_AUTH.
    cgw.dp.clear_calls();
    cgw.events.clear();
    peer.received.clear();
    const auto t0 = Clock::now();
    peer.restart(t);
    REQUIRE(run_until(
        io,
        [&] {
            return peer.sa->state() == ike::SaState::established &&
                   runner_has_ike(cgw, peer.sa->info()) && cgw.dp.sa_count() == 2;
        },
        std::chrono::seconds(10)));
    // At once, not after DPD (10 s + retransmissions): loopback takes milliseconds.
    CHECK(Clock::now() - t0 < std::chrono::seconds(5));
    const auto new_ike = peer.sa->info();
    CHECK(new_ike.spi_i != old_ike.spi_i);
    const auto new_child = peer_child(peer);

    // One IKE SA (the new one), the tunnel stayed up throughout, the replacement is visible.
    auto st = cgw.runner->status();
    CHECK(cgw.runner->up());
    CHECK(st["state"] == "up");
    CHECK(st["ike"]["spi_i"] == hex16(new_ike.spi_i));
    CHECK(st["ike"]["spi_r"] == hex16(new_ike.spi_r));
    CHECK(st["ike"]["initiator"] == false);
    CHECK(st["ike_replacements"] == 1);
    CHECK_FALSE(st.contains("ike_replacement"));  // no candidate left
    CHECK_FALSE(cgw.runner->half_open());
    REQUIRE(st["child_sas"].size() == 1);
    CHECK(cgw.ups == 1);
    CHECK(cgw.downs == 0);
    CHECK(std::find(cgw.events.begin(), cgw.events.end(),
                    "IKE SA replaced (peer restarted, INITIAL_CONTACT)") != cgw.events.end());

    // The dataplane holds the new CHILD_SA's two SAs only (our inbound = the peer's outbound).
    CHECK(cgw.dp.sa_count() == 2);
    const auto* in = cgw.dp.find_sa({new_child.spi_out, kLoopback});
    const auto* out = cgw.dp.find_sa({new_child.spi_in, kLoopback});
    REQUIRE(in);
    REQUIRE(out);
    CHECK(in->direction == dataplane::Direction::inbound);
    CHECK(out->direction == dataplane::Direction::outbound);
    CHECK_FALSE(cgw.dp.find_sa({old_child.spi_out, kLoopback}));
    CHECK_FALSE(cgw.dp.find_sa({old_child.spi_in, kLoopback}));

    // Make-before-break: both new SAs were added before the first old one was deleted, and
    // exactly the old two were deleted.
    long last_add = -1, first_del = -1, i = 0;
    std::vector<std::uint32_t> deleted;
    for (const auto& call : cgw.dp.calls()) {
        if (std::get_if<dataplane::call::AddSa>(&call)) last_add = i;
        if (const auto* d = std::get_if<dataplane::call::DelSa>(&call)) {
            if (first_del < 0) first_del = i;
            deleted.push_back(d->key.spi);
        }
        ++i;
    }
    CAPTURE(last_add, first_del);
    CHECK(last_add >= 0);
    CHECK(first_del > last_add);
    std::sort(deleted.begin(), deleted.end());
    std::vector<std::uint32_t> old_spis{old_child.spi_in, old_child.spi_out};
    std::sort(old_spis.begin(), old_spis.end());
    CHECK(deleted == old_spis);

    // Nothing was sent on the old IKE SA after the restart (no Delete toward the peer), not
    // even a moment later.
    io.run_for(std::chrono::milliseconds(200));
    for (const auto& h : peer.received) {
        CAPTURE(hex16(h.spi_i), static_cast<int>(h.exchange), h.response);
        CHECK(h.spi_i != old_ike.spi_i);
    }
    CHECK(std::count_if(peer.received.begin(), peer.received.end(), [&](const ike::Header& h) {
              return h.spi_i == new_ike.spi_i;
          }) == 2);  // the IKE_SA_INIT and IKE_AUTH responses

    // stop() deletes the (new) IKE SA at the peer: the runner really drives the new engine.
    cgw.runner->stop();
    CHECK(cgw.dp.sa_count() == 0);
    CHECK(run_until(
        io, [&] { return peer.sa->state() != ike::SaState::established; },
        std::chrono::seconds(5)));
}

TEST_CASE("a failed replacement IKE SA leaves the established one alone") {
    boost::asio::io_context io;
    Cgw cgw;
    Peer peer;
    const auto t = fixture_tunnel();
    setup(io, cgw, peer, t);
    const auto old_ike = first_sa(io, cgw, peer, t);
    cgw.dp.clear_calls();

    // A new IKE SA with the wrong PSK: the candidate's IKE_AUTH fails (AUTHENTICATION_FAILED).
    peer.restart(t, "not the tunnel's key");
    REQUIRE(run_until(
        io,
        [&] {
            auto s = peer.sa->state();
            return s != ike::SaState::init_sent && s != ike::SaState::auth_sent;
        },
        std::chrono::seconds(10)));
    CHECK(peer.sa->state() != ike::SaState::established);
    io.run_for(std::chrono::milliseconds(100));
    auto st = cgw.runner->status();
    CHECK(cgw.runner->up());
    CHECK(st["ike"]["spi_i"] == hex16(old_ike.spi_i));
    CHECK(st["ike"]["spi_r"] == hex16(old_ike.spi_r));
    CHECK_FALSE(st.contains("ike_replacement"));
    CHECK_FALSE(st.contains("ike_replacements"));
    CHECK_FALSE(cgw.runner->half_open());
    // The old CHILD_SA was not touched, nothing was added (status() only queries counters).
    for (const auto& call : cgw.dp.calls()) {
        CHECK_FALSE(std::holds_alternative<dataplane::call::AddSa>(call));
        CHECK_FALSE(std::holds_alternative<dataplane::call::DelSa>(call));
    }
    CHECK(cgw.dp.sa_count() == 2);
    CHECK(cgw.downs == 0);
}

TEST_CASE("a newer IKE_SA_INIT replaces an unfinished replacement candidate") {
    boost::asio::io_context io;
    Cgw cgw;
    Peer peer;
    const auto t = fixture_tunnel();
    setup(io, cgw, peer, t);
    (void)first_sa(io, cgw, peer, t);

    // An IKE_SA_INIT whose answer is lost: the candidate waits for IKE_AUTH (half-open).
    peer.deaf = true;
    peer.restart(t);
    REQUIRE(run_until(
        io, [&] { return cgw.runner->status().contains("ike_replacement"); },
        std::chrono::seconds(5)));
    const auto abandoned = peer.sa->info().spi_i;
    auto st = cgw.runner->status();
    CHECK(st["ike_replacement"]["spi_i"] == hex16(abandoned));
    CHECK(st["ike_replacement"]["state"] == "InitReplied");
    CHECK(cgw.runner->half_open());

    // The endpoint tries again with a new SPIi: that one replaces the candidate and wins.
    peer.deaf = false;
    peer.restart(t);
    REQUIRE(run_until(
        io,
        [&] {
            return peer.sa->state() == ike::SaState::established &&
                   runner_has_ike(cgw, peer.sa->info());
        },
        std::chrono::seconds(10)));
    st = cgw.runner->status();
    CHECK(st["ike_replacements"] == 1);
    CHECK_FALSE(st.contains("ike_replacement"));
    CHECK(st["child_sas"].size() == 1);
    CHECK(cgw.dp.sa_count() == 2);
    CHECK(cgw.runner->up());
}

TEST_CASE("a new IKE SA without INITIAL_CONTACT replaces the old one, which is deleted") {
    boost::asio::io_context io;
    Cgw cgw;
    Peer peer;
    const auto t = fixture_tunnel();
    setup(io, cgw, peer, t);
    const auto old_ike = first_sa(io, cgw, peer, t);
    const auto old_child = peer_child(peer);
    cgw.dp.clear_calls();
    cgw.events.clear();
    peer.received.clear();

    peer.no_initial_contact = true;
    peer.restart(t);
    REQUIRE(run_until(
        io,
        [&] {
            return peer.sa->state() == ike::SaState::established &&
                   runner_has_ike(cgw, peer.sa->info()) && cgw.dp.sa_count() == 2;
        },
        std::chrono::seconds(10)));
    CHECK(peer.stripped);
    const auto new_child = peer_child(peer);
    auto st = cgw.runner->status();
    CHECK(st["ike_replacements"] == 1);
    CHECK(cgw.runner->up());
    CHECK(cgw.downs == 0);
    CHECK(std::find(cgw.events.begin(), cgw.events.end(),
                    "IKE SA replaced by a new one from the peer (old one deleted)") !=
          cgw.events.end());
    CHECK(cgw.dp.find_sa({new_child.spi_out, kLoopback}));
    CHECK(cgw.dp.find_sa({new_child.spi_in, kLoopback}));
    CHECK_FALSE(cgw.dp.find_sa({old_child.spi_out, kLoopback}));
    CHECK_FALSE(cgw.dp.find_sa({old_child.spi_in, kLoopback}));
    long last_add = -1, first_del = -1, i = 0;
    for (const auto& call : cgw.dp.calls()) {
        if (std::get_if<dataplane::call::AddSa>(&call)) last_add = i;
        if (std::get_if<dataplane::call::DelSa>(&call) && first_del < 0) first_del = i;
        ++i;
    }
    CHECK(last_add >= 0);
    CHECK(first_del > last_add);

    // One INFORMATIONAL request went out on the old IKE SA: its Delete.
    io.run_for(std::chrono::milliseconds(200));
    auto on_old = std::count_if(peer.received.begin(), peer.received.end(),
                                [&](const ike::Header& h) { return h.spi_i == old_ike.spi_i; });
    CHECK(on_old == 1);
    for (const auto& h : peer.received) {
        if (h.spi_i != old_ike.spi_i) continue;
        CHECK(h.exchange == ike::ExchangeType::informational);
        CHECK_FALSE(h.response);
        CHECK(h.spi_r == old_ike.spi_r);
    }
}
