// Writes the generated seed corpora of the fuzz targets: valid inputs made by the project's own
// encoders and engines, so the fuzzer starts past the first length check.
//   fuzz_make_seeds DIR      (DIR is normally fuzz/corpus; writes DIR/<target>/gen-*)
// Deterministic except where OpenSSL's own generator is used: IKE key exchange values (and
// so everything encrypted after IKE_SA_INIT) differ from run to run; everything else is the same
// bytes every time. Hand-made and captured seeds (not gen-*) are left alone.
//   ike_message_fuzz    every datagram of a handshake, CHILD_SA and IKE SA rekeys, a liveness
//                       check and a Delete between two IkeSa engines; one with the UDP/4500
//                       non-ESP marker
//   ike_responder_fuzz  scripts (fixtures.hpp IkeOp) that establish the responder and then
//                       rekey, lose, replay, corrupt, rebind, expire and stop; and the same
//                       handshake as raw recorded datagrams. Each is run here and must leave
//                       the responder in the state its name says.
//   bgp_message_fuzz    OPEN, UPDATE (IPv4 NLRI, MP_REACH IPv6, withdrawals, communities),
//                       KEEPALIVE, NOTIFICATION (RFC 9003 shutdown), ROUTE-REFRESH, End-of-RIB
//   bfd_fuzz            scripts that bring the session Up and then poll, time out, go
//                       AdminDown; raw Control packets
//   rib_fuzz            scripts (fixtures.hpp RibOp): ECMP across two peers, a flap within one
//                       batch, graceful restart with re-announcement and flush, max-prefix
//                       reset, drop-excess and RFC 8212, IPv6 routes, remove_peer and add_peer,
//                       originate and export. Each is run here and must end as its name says.
//   esp_decap_fuzz      packets our outbound EspSa encapsulated with the fixed keys, per
//                       transform, including a replayed one
//   netlink_fuzz        the kernel backend's own builders' NEWSA / NEWPOLICY / NEWLINK /
//                       NEWADDR / NEWROUTE messages, IPv4 and IPv6 (same layout as the
//                       kernel's replies and dumps), an XFRM_MSG_EXPIRE, and a multi-message
//                       dump with NLMSG_DONE
//   control_fuzz        framed requests for every control command
//   offload_fuzz        TCP segments of one flow as TcpSegmenter cuts them from a TSO packet
//                       (with the TSO packet itself), two interleaved flows, a flow broken by a
//                       FIN, a pure ACK and a UDP datagram, and segments that differ only in
//                       the IPv4 reserved flag (must not merge)
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "cgwd/bgp/bfd.hpp"
#include "cgwd/bgp/message.hpp"
#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/update.hpp"
#include "cgwd/daemon/control.hpp"
#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/ipv4.hpp"
#include "cgwd/dataplane/offload.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "cgwd/dataplane/xfrm_messages.hpp"
#include "cgwd/ike/message.hpp"
#include "cgwd/ike/sa.hpp"
#include "targets/fixtures.hpp"

namespace {

namespace fs = std::filesystem;
using namespace cgwd;
using namespace cgwd::fuzz;
using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", what.c_str());
    std::exit(1);
}

fs::path root;
int written = 0;

void write(const std::string& target, const std::string& name, std::span<const std::uint8_t> b) {
    const fs::path dir = root / target;
    fs::create_directories(dir);
    std::ofstream out(dir / ("gen-" + name), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) die("cannot write " + (dir / name).string());
    ++written;
}
void write(const std::string& target, const std::string& name, std::string_view s) {
    write(target, name, std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

void put16(Bytes& b, std::size_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

// --- IKE --------------------------------------------------------------------------------------

// Two engines with the fuzz settings handing datagrams across until both are quiet; records
// everything each side sent.
struct Pair {
    FuzzRandom rng_i{ike_seed_initiator}, rng_r{ike_seed_responder};
    ike::IkeSa i{ike_fuzz_settings(false), rng_i};
    ike::IkeSa r{ike_fuzz_settings(true), rng_r};
    ike::TimePoint now = ike_fuzz_epoch();
    std::vector<ike::OutDatagram> from_i, from_r;

    void pump() {
        for (int round = 0; round < 50; ++round) {
            auto oi = i.take_outgoing();
            auto orr = r.take_outgoing();
            (void)i.take_actions();
            (void)r.take_actions();
            if (oi.empty() && orr.empty()) return;
            for (auto& d : oi) {
                from_i.push_back(d);
                r.on_datagram(d.bytes, now, d.remote_port, d.local_port);
            }
            for (auto& d : orr) {
                from_r.push_back(d);
                i.on_datagram(d.bytes, now, d.remote_port, d.local_port);
            }
        }
        die("IKE ping-pong did not settle");
    }
};

void ike_message_seeds() {
    Pair p;
    p.i.start(p.now);
    p.pump();
    if (p.r.state() != ike::SaState::established) die("IKE handshake failed");
    if (!p.i.rekey_child(p.now)) die("rekey_child refused");
    p.pump();
    if (!p.r.rekey_ike(p.now)) die("rekey_ike refused");
    p.pump();
    if (!p.i.send_liveness_check(p.now)) die("liveness refused");
    p.pump();
    p.i.stop(p.now);
    p.pump();
    std::vector<ike::Bytes> all;
    for (std::size_t n = 0; n < std::max(p.from_i.size(), p.from_r.size()); ++n) {
        if (n < p.from_i.size()) all.push_back(p.from_i[n].bytes);
        if (n < p.from_r.size()) all.push_back(p.from_r[n].bytes);
    }
    int n = 0;
    for (const auto& b : all) {
        auto m = ike::decode_message(b);
        if (!m) die("engine sent an undecodable message");
        char name[64];
        std::snprintf(name, sizeof name, "%02d-%s-%s", n++, ike::to_string(m->header.exchange),
                      m->header.response ? "response" : "request");
        write("ike_message_fuzz", name, b);
    }
    // The first IKE_AUTH request as it arrives on UDP/4500: non-ESP marker first.
    Bytes marked{0, 0, 0, 0};
    marked.insert(marked.end(), all.at(2).begin(), all.at(2).end());
    write("ike_message_fuzz", "natt-marker-ike-auth", marked);
}

// A script of IkeOp records.
struct IkeScript {
    Bytes b;
    IkeScript& op(IkeOp o) {
        b.push_back(static_cast<std::uint8_t>(o));
        return *this;
    }
    IkeScript& cmd(IkeCommand c) {
        op(IkeOp::command);
        b.push_back(static_cast<std::uint8_t>(c));
        return *this;
    }
    IkeScript& advance(std::size_t amount, bool seconds) {
        op(IkeOp::advance);
        put16(b, amount);
        b.push_back(seconds ? 1 : 0);
        return *this;
    }
    IkeScript& exchange() {  // one request from the initiator and its response
        return op(IkeOp::to_responder).op(IkeOp::to_initiator);
    }
    IkeScript& exchange_from_responder() {
        op(IkeOp::to_initiator);
        return op(IkeOp::to_responder);
    }
    IkeScript& handshake() { return cmd(IkeCommand::start).exchange().exchange(); }
};

void ike_seed(const std::string& name, const IkeScript& s, ike::SaState state,
              std::size_t children) {
    const auto r = run_ike_script(s.b.data(), s.b.size());
    if (r.state != state || r.child_sas != children) {
        die("ike_responder seed " + name + " ends in " + ike::to_string(r.state) + " with " +
            std::to_string(r.child_sas) + " CHILD_SAs");
    }
    write("ike_responder_fuzz", name, s.b);
}

void ike_responder_seeds() {
    using ike::SaState;
    ike_seed("established", IkeScript{}.handshake(), SaState::established, 1);
    ike_seed("init-only", IkeScript{}.cmd(IkeCommand::start).exchange(), SaState::init_replied, 0);
    ike_seed("half-open-timeout", IkeScript{}.cmd(IkeCommand::start).exchange().advance(31, true),
             SaState::idle, 0);
    // The rekey's initiator sends the Delete of the old CHILD_SA as a third request.
    ike_seed("initiator-rekeys-child",
             IkeScript{}.handshake().cmd(IkeCommand::initiator_rekey_child).exchange().exchange(),
             SaState::established, 1);
    ike_seed("initiator-rekeys-ike",
             IkeScript{}.handshake().cmd(IkeCommand::initiator_rekey_ike).exchange().exchange(),
             SaState::established, 1);
    ike_seed("responder-rekeys-child",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::responder_rekey_child)
                 .exchange_from_responder()
                 .exchange_from_responder(),
             SaState::established, 1);
    ike_seed("responder-rekeys-ike",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::responder_rekey_ike)
                 .exchange_from_responder()
                 .exchange_from_responder(),
             SaState::established, 1);
    ike_seed("both-rekey-child",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::initiator_rekey_child)
                 .cmd(IkeCommand::responder_rekey_child)
                 .op(IkeOp::to_responder)
                 .op(IkeOp::to_initiator)
                 .op(IkeOp::to_initiator)
                 .op(IkeOp::to_responder)
                 .exchange()
                 .exchange_from_responder()
                 .exchange()
                 .exchange_from_responder(),
             SaState::established, 1);
    ike_seed("liveness-both-ways",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::initiator_liveness)
                 .exchange()
                 .cmd(IkeCommand::responder_liveness)
                 .exchange_from_responder(),
             SaState::established, 1);
    ike_seed("initiator-deletes",
             IkeScript{}.handshake().cmd(IkeCommand::initiator_stop).exchange(), SaState::idle, 0);
    ike_seed("responder-deletes", IkeScript{}.handshake().cmd(IkeCommand::responder_stop),
             SaState::idle, 0);
    ike_seed("dpd-peer-dead", IkeScript{}.handshake().advance(200, true), SaState::idle, 0);
    {
        // 30-second steps for 600 s: DPD, the CHILD_SA and the IKE SA rekeys on schedule.
        IkeScript s = IkeScript{}.handshake();
        for (int n = 0; n < 20; ++n) s.advance(30, true).op(IkeOp::pump);
        ike_seed("scheduled-rekeys", s, SaState::established, 1);
    }
    ike_seed("soft-expiry-rekey",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::responder_child_soft_expired)
                 .exchange_from_responder()
                 .exchange_from_responder(),
             SaState::established, 1);
    ike_seed("hard-expiry-delete",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::responder_child_hard_expired)
                 .exchange_from_responder(),
             SaState::established, 0);
    {
        // Lost IKE_AUTH response: the initiator retransmits, the responder answers from its
        // cache; then a replayed IKE_SA_INIT and a corrupted IKE_AUTH retransmission.
        IkeScript s;
        s.cmd(IkeCommand::start).exchange().op(IkeOp::to_responder).op(IkeOp::drop_to_initiator);
        s.advance(1000, false).exchange();
        s.op(IkeOp::replay).b.push_back(0);
        s.advance(2000, false).op(IkeOp::mutated);
        put16(s.b, 40);
        s.b.push_back(0x80);
        ike_seed("lost-auth-response", s, SaState::established, 1);
    }
    ike_seed("nat-rebinding",
             IkeScript{}
                 .handshake()
                 .cmd(IkeCommand::initiator_liveness)
                 .op(IkeOp::rebind)
                 .op(IkeOp::to_initiator),
             SaState::established, 1);
    {
        // A recorded handshake's requests as raw datagrams. The key exchange values come from
        // OpenSSL's generator, not the injected Random, so the responder derives other keys and
        // the recorded IKE_AUTH fails its integrity check: this seed starts the fuzzer on the
        // raw IKE_SA_INIT path and on SK handling up to the ICV.
        Pair p;
        p.i.start(p.now);
        p.pump();
        IkeScript s;
        for (std::size_t n = 0; n < 2 && n < p.from_i.size(); ++n) {
            s.op(IkeOp::raw);
            s.b.push_back(0);
            put16(s.b, p.from_i[n].bytes.size());
            s.b.insert(s.b.end(), p.from_i[n].bytes.begin(), p.from_i[n].bytes.end());
        }
        ike_seed("raw-recorded-requests", s, SaState::init_replied, 0);
    }
}

// --- BGP --------------------------------------------------------------------------------------

void bgp_message_seeds() {
    using namespace cgwd::bgp;
    Open open;
    open.local_as = 65000;
    open.hold_time = 30;
    open.bgp_identifier = 0xa9fe0b02;
    open.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
    open.capabilities.route_refresh = true;
    open.capabilities.four_octet_as = 4200000001;
    open.capabilities.graceful_restart = GracefulRestart{false, false, 120, {{kIpv4Unicast, true}}};
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path =
        AsPath{AsPathSegment{AsPathSegment::Type::Sequence, {4200000001, 64512}}};
    u.attributes.next_hop = 0xa9fe0b02;
    u.attributes.med = 100;
    u.attributes.communities = {(7224u << 16) | 7300u};
    u.attributes.large_communities = {LargeCommunity{4200000001, 1, 2}};
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
    MpReach mp;
    mp.af = kIpv6Unicast;
    mp.next_hop = Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    mp.nlri = {Prefix::v6(v6, 48)};
    u.attributes.mp_reach = mp;
    u.nlri = {Prefix::v4(0x0a0a0000, 16), Prefix::v4(0x0a140000, 16)};
    Update withdraw;
    withdraw.withdrawn = {Prefix::v4(0x0a0a0000, 16), Prefix::v4(0xc0a80000, 24)};

    struct Msg {
        const char* name;
        Bytes bytes;
    };
    std::vector<Msg> msgs;
    msgs.push_back({"open", encode_open(open)});
    for (bool four : {false, true}) {
        auto e = encode_update(u, UpdateContext{four, true});
        if (!e) die("UPDATE encode failed");
        msgs.push_back({four ? "update-as4" : "update-as2", *e});
    }
    auto w = encode_update(withdraw, UpdateContext{true, true});
    if (!w) die("withdraw encode failed");
    msgs.push_back({"update-withdraw", *w});
    msgs.push_back({"end-of-rib", encode_end_of_rib(kIpv4Unicast)});
    msgs.push_back({"keepalive", encode_keepalive()});
    msgs.push_back({"notification-shutdown",
                    encode_notification(make_shutdown_notification(2, "maintenance window"))});
    msgs.push_back({"route-refresh", encode_route_refresh(RouteRefresh{})});
    // Byte 0 of the target's input is the chunk size - 1 the rest is fed in.
    Bytes session{0xff};
    for (const auto& m : msgs) {
        Bytes one{0xff};
        one.insert(one.end(), m.bytes.begin(), m.bytes.end());
        write("bgp_message_fuzz", m.name, one);
        session.insert(session.end(), m.bytes.begin(), m.bytes.end());
    }
    session[0] = 6;  // a session's messages in 7-byte pieces
    write("bgp_message_fuzz", "session-stream", session);
}

// --- BFD --------------------------------------------------------------------------------------

struct BfdScript {
    Bytes b;
    BfdScript& op(BfdOp o) {
        b.push_back(static_cast<std::uint8_t>(o));
        return *this;
    }
    BfdScript& advance(std::size_t ms) {
        op(BfdOp::advance);
        put16(b, ms);
        return *this;
    }
    BfdScript& both() { return op(BfdOp::from_peer).op(BfdOp::to_peer); }
    BfdScript& up() {  // Down/Down -> Init -> Up on both sides, then the fast rate
        return op(BfdOp::pump).advance(1000).op(BfdOp::pump).advance(300).op(BfdOp::pump);
    }
};

void bfd_seed(const std::string& name, const BfdScript& s, bgp::BfdState want) {
    const auto got = run_bfd_script(s.b.data(), s.b.size());
    if (got != want) die("bfd seed " + name + " ends in " + bgp::to_string(got));
    write("bfd_fuzz", name, s.b);
}

void bfd_seeds() {
    using bgp::BfdState;
    bfd_seed("up", BfdScript{}.up(), BfdState::Up);
    {
        BfdScript s = BfdScript{}.up();
        s.op(BfdOp::command).b.insert(s.b.end(), {2, 9, 9, 4});  // set_parameters: poll
        s.op(BfdOp::pump).advance(200).op(BfdOp::pump);
        bfd_seed("poll-sequence", s, BfdState::Up);
    }
    bfd_seed("detection-timeout", BfdScript{}.up().advance(5000), BfdState::Down);
    {
        BfdScript s = BfdScript{}.up();
        s.op(BfdOp::command).b.push_back(0x80);  // the peer goes AdminDown
        s.op(BfdOp::pump);
        bfd_seed("peer-admin-down", s, BfdState::Down);
    }
    {
        BfdScript s = BfdScript{}.up();
        s.op(BfdOp::command).b.push_back(0);  // we go AdminDown, then back
        s.op(BfdOp::pump).op(BfdOp::command).b.push_back(1);
        s.op(BfdOp::pump).advance(1000).op(BfdOp::pump);
        bfd_seed("admin-down-and-up", s, BfdState::Up);
    }
    {
        bgp::BfdControl c;
        c.state = bgp::BfdState::Init;
        c.detect_mult = 3;
        c.my_discriminator = bfd_disc_peer;
        c.your_discriminator = bfd_disc_local;
        c.desired_min_tx_us = 1'000'000;
        c.required_min_rx_us = 300'000;
        BfdScript s;
        const Bytes p = bgp::encode_bfd_control(c);
        s.op(BfdOp::raw).b.push_back(static_cast<std::uint8_t>(p.size()));
        s.b.insert(s.b.end(), p.begin(), p.end());
        c.state = bgp::BfdState::Up;
        c.poll = true;
        const Bytes q = bgp::encode_bfd_control(c);
        s.op(BfdOp::raw).b.push_back(static_cast<std::uint8_t>(q.size()));
        s.b.insert(s.b.end(), q.begin(), q.end());
        bfd_seed("raw-init-then-up-poll", s, BfdState::Up);
    }
}

// --- RIB --------------------------------------------------------------------------------------

// A script of RibOp records; byte 0 configures the Rib (fixtures.hpp).
struct RibScript {
    Bytes b;
    explicit RibScript(std::uint8_t config) : b{config} {}
    RibScript& op(RibOp o, std::initializer_list<int> operands = {}) {
        b.push_back(static_cast<std::uint8_t>(o));
        for (int v : operands) b.push_back(static_cast<std::uint8_t>(v));
        return *this;
    }
    // attrs: a0, a1, a2 (rib.cpp); v4 / v6: prefix indices (IPv6 ones counted from 0).
    RibScript& announce(int slot, std::array<int, 3> attrs, const std::vector<int>& v4,
                        const std::vector<int>& v6 = {}, const std::vector<int>& w4 = {}) {
        const bool w = !w4.empty();
        op(RibOp::announce, {slot, attrs[0], attrs[1], attrs[2],
                             static_cast<int>(v4.size() | v6.size() << 3 | (w ? 0x20u : 0u))});
        if (w) b.push_back(static_cast<std::uint8_t>(w4.size()));
        for (const auto* list : {&v4, &v6, &w4})
            for (int i : *list) b.push_back(static_cast<std::uint8_t>(i));
        return *this;
    }
    RibScript& withdraw(int slot, const std::vector<int>& v4, const std::vector<int>& v6 = {}) {
        op(RibOp::withdraw, {slot, static_cast<int>(v4.size() | v6.size() << 3)});
        for (const auto* list : {&v4, &v6})
            for (int i : *list) b.push_back(static_cast<std::uint8_t>(i));
        return *this;
    }
    RibScript& up(int slot, int caps = 1) { return op(RibOp::peer_up, {slot, caps}); }
    RibScript& fib() { return op(RibOp::take_fib); }
    RibScript& updates(int slot) { return op(RibOp::take_updates, {slot}); }
};

// AS_PATH of one AS, ORIGIN IGP, NEXT_HOP kNextHops[nh] (rib.cpp); MP_REACH next hop 16 octets.
constexpr std::array<int, 3> rib_attrs(int nh, int a2 = 0) {
    return {0x01, nh, a2};
}

void rib_seed(const std::string& name, const RibScript& s,
              const std::function<bool(const RibScriptResult&)>& want) {
    const auto r = run_rib_script(s.b.data(), s.b.size());
    if (!want(r)) die("rib seed " + name + " does not end as its name says");
    write("rib_fuzz", name, s.b);
}

void rib_seeds() {
    constexpr int warn3 = 0x08;  // slot 3 imports with max-prefix 4 Warn (RFC 8212 without)
    {
        RibScript s(0x01 | warn3);  // max_paths 2
        s.up(0).up(1).up(2).announce(0, rib_attrs(0), {1, 2}).announce(1, rib_attrs(1), {1, 2});
        s.fib().updates(2).updates(0).op(RibOp::best, {1});
        rib_seed("ecmp-two-peers", s, [](const RibScriptResult& r) {
            return r.widest_fib_change == 2 && r.fib_size == 2 && r.updates_sent > 0;
        });
    }
    {
        RibScript s(warn3);
        s.up(0).announce(0, rib_attrs(0), {3}).fib();
        s.withdraw(0, {3}).announce(0, rib_attrs(0), {3});                // down and up again
        s.announce(0, rib_attrs(4), {3}).announce(0, rib_attrs(0), {3});  // elsewhere and back
        s.fib();
        rib_seed("flap-within-one-batch", s, [](const RibScriptResult& r) {
            return r.last_fib_changes == 0 && r.fib_size == 1;
        });
    }
    {
        RibScript s(warn3);
        s.up(0).up(2).announce(0, rib_attrs(0), {0, 1, 2}, {0, 1}).fib().updates(2);
        s.op(RibOp::graceful_down, {0, 1}).fib().updates(2);  // IPv4 kept as stale
        s.up(0).announce(0, rib_attrs(0), {0}).fib();
        s.op(RibOp::flush_stale, {0, 3}).fib().updates(2);
        rib_seed("graceful-restart-reannounce-flush", s, [](const RibScriptResult& r) {
            return r.flushed == 2 && r.stale[0] == 0 && r.routes[0] == 1 && r.fib_size == 1;
        });
    }
    {
        RibScript s(warn3);
        s.up(0).up(2).announce(2, rib_attrs(3), {0, 1, 2, 3, 4, 5, 6}).fib();
        s.announce(2, rib_attrs(3), {7, 8, 9, 10, 11}).fib().updates(0);
        rib_seed("max-prefix-reset", s, [](const RibScriptResult& r) {
            return r.resets == 1 && !r.up[2] && r.routes[2] == 0 && r.fib_size == 0;
        });
    }
    {
        RibScript s(0x02 | warn3);  // max_paths 3
        s.up(0).up(3).up(1);
        s.announce(0, rib_attrs(6, 0x00), {}, {0, 1, 6});  // no NEXT_HOP: MP_REACH only
        s.announce(3, rib_attrs(6, 0x05), {}, {0, 2});     // 32-octet next hop
        s.announce(1, rib_attrs(6, 0x08), {}, {5, 6});     // 2001:db8:5::/48 denied by slot 1
        s.fib().updates(1).updates(3).withdraw(3, {}, {2}).fib().updates(1);
        rib_seed("ipv6-routes", s,
                 [](const RibScriptResult& r) { return r.ipv6_in_fib == 3 && r.routes[1] == 1; });
    }
    {
        RibScript s(warn3);
        s.up(0).up(2).announce(0, rib_attrs(0), {0, 1}).announce(2, rib_attrs(3), {1, 2}).fib();
        s.op(RibOp::remove_peer, {0}).fib().updates(2).op(RibOp::add_peer, {0});
        s.up(0).announce(0, rib_attrs(1), {2}).fib().updates(0);
        rib_seed("remove-peer-and-add-again", s, [](const RibScriptResult& r) {
            return r.removed_peers == 1 && r.up[0] && r.routes[0] == 1 && r.fib_size == 2;
        });
    }
    {
        RibScript s(0x00);  // slot 3 without import policy: RFC 8212
        s.up(1).announce(1, rib_attrs(1), {0, 1, 2, 3, 4, 5, 6}).fib();
        s.up(3).announce(3, rib_attrs(2), {7, 8}).fib();
        rib_seed("drop-excess-and-rfc8212", s, [](const RibScriptResult& r) {
            return r.dropped_excess == 1 && r.routes[1] == 6 && r.routes[3] == 0;
        });
    }
    {
        RibScript s(warn3);
        s.op(RibOp::originate, {16, 0}).op(RibOp::originate, {25, 2}).up(0).up(2).up(3);
        s.announce(0, rib_attrs(0), {16, 17}).fib().updates(0).updates(2).updates(3);
        s.op(RibOp::withdraw_local, {16}).fib().updates(0).updates(2).updates(3);
        rib_seed("originate-and-export", s,
                 [](const RibScriptResult& r) { return r.updates_sent >= 5 && r.fib_size == 2; });
    }
}

// --- ESP --------------------------------------------------------------------------------------

void esp_seeds() {
    Bytes inner{0x45, 0, 0,  28, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 0,
                0,    1, 10, 0,  0, 2, 8,    0, 0,  0, 0, 1, 0,  1};
    for (unsigned pick = 0; pick < 4; ++pick) {
        const bool gcm = (pick & 1u) != 0, esn = (pick & 2u) != 0;
        auto sa = dataplane::EspSa::create(esp_fuzz_config(gcm, esn));
        if (!sa) die("EspSa::create failed");
        std::vector<Bytes> packets;
        for (int n = 0; n < 3; ++n) {
            Bytes out(sa->encapsulated_size(inner.size()));
            auto len = sa->encapsulate(inner, out);
            if (!len) die("encapsulate failed");
            out.resize(*len);
            packets.push_back(out);
        }
        // pick, then packets 1, 3, 2 and 3 again (a replay) with length prefixes.
        Bytes in{static_cast<std::uint8_t>(pick)};
        for (int n : {0, 2, 1, 2}) {
            put16(in, packets[static_cast<std::size_t>(n)].size());
            in.insert(in.end(), packets[static_cast<std::size_t>(n)].begin(),
                      packets[static_cast<std::size_t>(n)].end());
        }
        std::string name = std::string(gcm ? "gcm" : "cbc-sha256") + (esn ? "-esn" : "");
        write("esp_decap_fuzz", name + "-reordered-replayed", in);
        Bytes one{static_cast<std::uint8_t>(pick)};
        one.insert(one.end(), packets[0].begin(), packets[0].end());
        write("esp_decap_fuzz", name + "-one", one);
    }
}

// --- netlink ----------------------------------------------------------------------------------

Bytes bytes_of(const dataplane::nl::NlMessage& m) {
    return Bytes(m.bytes().begin(), m.bytes().end());
}

void netlink_seeds() {
    using namespace cgwd::dataplane;
    std::vector<std::pair<std::string, Bytes>> msgs;
    for (bool gcm : {true, false}) {
        SaConfig sa = esp_fuzz_config(gcm, !gcm, Direction::inbound);
        sa.src = config::Ipv4Address{0xCB007105};
        sa.dst = config::Ipv4Address{0xC0000201};
        sa.encap = gcm ? std::optional<UdpEncap>{} : std::optional<UdpEncap>{UdpEncap{}};
        sa.if_id = 7;
        sa.lifetime.seconds = {3000, 3600};
        auto m = xfrm::build_sa(XFRM_MSG_NEWSA, sa, xfrm::Mark{0x42, 0xff});
        if (!m) die("build_sa failed");
        msgs.emplace_back(gcm ? "xfrm-newsa-gcm" : "xfrm-newsa-cbc-encap-esn", bytes_of(*m));
        if (gcm) {
            // XFRM_MSG_EXPIRE: xfrm_user_expire (the SA, then hard) with the same attributes.
            const Bytes newsa = bytes_of(*m);
            nl::NlMessage e(XFRM_MSG_EXPIRE, 0, sizeof(xfrm_user_expire));
            auto* ue = e.header_as<xfrm_user_expire>();
            std::memcpy(&ue->state, newsa.data() + sizeof(nlmsghdr), sizeof(xfrm_usersa_info));
            ue->state.curlft.add_time = 1000;
            ue->hard = 0;
            e.put_u32(XFRMA_IF_ID, 7);
            msgs.emplace_back("xfrm-expire-soft", bytes_of(e));
        }
    }
    Policy pol;
    pol.direction = PolicyDirection::in;
    pol.src = config::Ipv4Prefix::of(config::Ipv4Address{0}, 0);
    pol.dst = config::Ipv4Prefix::of(config::Ipv4Address{0x0a000000}, 8);
    pol.tunnel_src = config::Ipv4Address{0xCB007105};
    pol.tunnel_dst = config::Ipv4Address{0xC0000201};
    pol.if_id = 7;
    msgs.emplace_back("xfrm-newpolicy", bytes_of(xfrm::build_policy(pol, xfrm::Mark{1, 1})));
    msgs.emplace_back("rtm-newlink-xfrm",
                      bytes_of(rtnl::build_xfrm_link(rtnl::XfrmLink{"cgwd-vpn1", 7, 2, 1436})));
    msgs.emplace_back("rtm-newlink-vlan",
                      bytes_of(rtnl::build_vlan_link(rtnl::VlanLink{"dx.100", 2, 100, 1500})));
    msgs.emplace_back("rtm-newaddr",
                      bytes_of(rtnl::build_address(5, config::Ipv4Address{0xa9fe0b02}, 30)));
    rtnl::RouteMessage single;
    single.destination = config::Ipv4Prefix::of(config::Ipv4Address{0x0a000000}, 16);
    single.hops = {{5, config::Ipv4Address{0xa9fe0b01}, 1}};
    single.metric = 100;
    single.protocol = 188;
    msgs.emplace_back("rtm-newroute-single", bytes_of(rtnl::build_route_replace(single)));
    rtnl::RouteMessage ecmp = single;
    ecmp.hops = {{5, std::nullopt, 1}, {6, config::Ipv4Address{0xa9fe0b05}, 3}};
    msgs.emplace_back("rtm-newroute-ecmp", bytes_of(rtnl::build_route_replace(ecmp)));
    // IPv6: a Direct Connect session's /125 (with IFA_FLAGS) and an ECMP route over two
    // 16-byte gateways, one link-local.
    const config::Ipv6Address v6 = *config::Ipv6Address::parse("2001:db8:100::1");
    msgs.emplace_back("rtm-newaddr-v6", bytes_of(rtnl::build_address(5, v6, 125)));
    rtnl::RouteMessage ecmp6 = single;
    ecmp6.destination = *config::IpPrefix::parse("2001:db8:50::/48");
    ecmp6.metric = 1024;
    ecmp6.hops = {{5, *config::IpAddress::parse("fe80::1"), 1},
                  {6, *config::IpAddress::parse("2001:db8:100::2"), 3}};
    msgs.emplace_back("rtm-newroute-v6-ecmp", bytes_of(rtnl::build_route_replace(ecmp6)));

    // Request builders set NLM_F_REQUEST; the kernel's replies carry their own flags, which the
    // parsers ignore. Each message alone, then all of them as one dump ending in NLMSG_DONE.
    Bytes dump;
    for (auto& [name, b] : msgs) {
        write("netlink_fuzz", name, b);
        dump.insert(dump.end(), b.begin(), b.end());
        while (dump.size() % 4 != 0) dump.push_back(0);
    }
    nl::NlMessage done(NLMSG_DONE, NLM_F_MULTI, 4);
    const Bytes d = bytes_of(done);
    dump.insert(dump.end(), d.begin(), d.end());
    write("netlink_fuzz", "dump-all-then-done", dump);
}

// --- control ----------------------------------------------------------------------------------

void control_seeds() {
    const char* requests[] = {
        R"({"command": "status"})",
        R"({"command": "version"})",
        R"({"command": "list-commands"})",
        R"({"command": "events", "arguments": {"since": 0}})",
        R"({"command": "reload"})",
        R"({"command": "rekey", "arguments": {"tunnel": "vpn-0a1b2c3d4e5f60718/1"}})",
        R"({"command": "reset", "arguments": {"tunnel": "vpn-0a1b2c3d4e5f60718/2"}})",
        R"({"command": "log-level", "arguments": {"component": "ike", "level": "debug"}})",
        R"({"command": "no-such-command", "arguments": null})",
        R"({"command": "status", "extra": 1})",
        R"([1, 2, {"command": "status"}])",
    };
    std::string all(1, '\x0f');  // 16-byte pieces
    int n = 0;
    for (const char* r : requests) {
        const std::string framed = daemon::encode_frame(r);
        write("control_fuzz", "request-" + std::to_string(n++), std::string(1, '\xff') + framed);
        all += framed;
    }
    write("control_fuzz", "session", all);
}

// --- offload ----------------------------------------------------------------------------------

// A TCP/IPv4 packet (ACK, timestamps) with valid checksums.
Bytes tcp_packet(std::uint16_t sport, std::uint32_t seq, std::uint8_t flags, std::size_t payload,
                 std::uint8_t ip_flags = 0x40) {
    Bytes p(52 + payload, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[6] = ip_flags;
    p[8] = 64;
    p[9] = 6;
    const std::uint8_t addrs[8] = {10, 10, 0, 5, 10, 0, 0, 9};
    std::memcpy(p.data() + 12, addrs, sizeof addrs);
    std::uint8_t* t = p.data() + 20;
    t[0] = static_cast<std::uint8_t>(sport >> 8);
    t[1] = static_cast<std::uint8_t>(sport);
    t[2] = 0x01;
    t[3] = 0xbb;
    for (int i = 0; i < 4; ++i) t[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
    t[8] = 0x2a;
    t[12] = 0x80;
    t[13] = flags;
    t[14] = 0x01;
    t[15] = 0xf5;
    const std::uint8_t ts[12] = {1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 7};
    std::memcpy(t + 20, ts, sizeof ts);
    for (std::size_t i = 52; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 31);
    const std::uint16_t ip = dataplane::ipv4::internet_checksum(std::span(p).first(20));
    p[10] = static_cast<std::uint8_t>(ip >> 8);
    p[11] = static_cast<std::uint8_t>(ip);
    const auto sum = dataplane::offload::checksum_add(
        std::span(p).subspan(20),
        dataplane::offload::pseudo_header_sum(0x0a0a0005, 0x0a000009, 6,
                                              static_cast<std::uint16_t>(p.size() - 20)));
    const auto c = static_cast<std::uint16_t>(~dataplane::offload::checksum_fold(sum));
    t[16] = static_cast<std::uint8_t>(c >> 8);
    t[17] = static_cast<std::uint8_t>(c);
    return p;
}

void add_record(Bytes& in, int sink, const Bytes& packet) {
    in.push_back(static_cast<std::uint8_t>(sink));
    put16(in, packet.size());
    in.insert(in.end(), packet.begin(), packet.end());
}

void offload_seeds() {
    constexpr std::uint8_t ack = 0x10, psh = 0x08, fin = 0x01;
    // One flow: a 10 x 1388-byte TSO packet and the segments TcpSegmenter makes of it.
    const Bytes tso = tcp_packet(40000, 1000, ack | psh, 10 * 1388);
    dataplane::offload::VnetHeader h;
    h.gso_type = dataplane::offload::gso_tcpv4;
    h.gso_size = 1388;
    auto segmenter = dataplane::offload::TcpSegmenter::create(tso, h);
    if (!segmenter) die("TcpSegmenter::create failed");
    std::vector<Bytes> segments;
    Bytes buffer(segmenter->max_segment_size());
    while (!segmenter->done()) {
        auto n = segmenter->next(buffer);
        if (!n) die("TcpSegmenter::next failed");
        segments.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    Bytes flow{173};  // TcpSegmenter size 1 + 8 * 173 = 1385
    add_record(flow, 0, tso);
    for (const Bytes& s : segments) add_record(flow, 1, s);
    write("offload_fuzz", "tso-packet-and-its-segments", flow);

    Bytes two{173};
    for (std::uint32_t i = 0; i < 6; ++i) {
        add_record(two, 2, tcp_packet(40000, 1000 + i * 1200, ack, 1200));
        add_record(two, 2, tcp_packet(40001, 9000 + i * 1200, ack, 1200));
    }
    write("offload_fuzz", "two-interleaved-flows", two);

    Bytes mixed{9};
    add_record(mixed, 0, tcp_packet(40000, 1000, ack, 1000));
    add_record(mixed, 0, tcp_packet(40000, 2000, ack, 1000));
    add_record(mixed, 0, tcp_packet(40000, 3000, ack, 0));          // pure ACK
    add_record(mixed, 0, tcp_packet(40000, 3000, ack | fin, 500));  // FIN
    add_record(mixed, 0, tcp_packet(40000, 3501, ack, 1000));
    Bytes udp = tcp_packet(53, 0, 0, 40);
    udp[9] = 17;
    add_record(mixed, 3, udp);
    write("offload_fuzz", "flow-with-ack-fin-and-udp", mixed);

    Bytes reserved{173};
    add_record(reserved, 1, tcp_packet(40000, 1000, ack, 1000));
    add_record(reserved, 1, tcp_packet(40000, 2000, ack, 1000, 0xc0));  // reserved bit and DF
    add_record(reserved, 1, tcp_packet(40000, 3000, ack, 1000));
    write("offload_fuzz", "reserved-flag-differs", reserved);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) die("usage: fuzz_make_seeds DIR   (normally fuzz/corpus)");
    root = argv[1];
    ike_message_seeds();
    ike_responder_seeds();
    bgp_message_seeds();
    bfd_seeds();
    rib_seeds();
    esp_seeds();
    netlink_seeds();
    control_seeds();
    offload_seeds();
    std::printf("fuzz_make_seeds: %d files written under %s\n", written, root.c_str());
    return 0;
}
