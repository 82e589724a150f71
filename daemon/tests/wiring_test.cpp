// The daemon's wiring of the engines, on loopback with the in-memory dataplane: two
// TunnelRunners (one initiating, one answering like AWS) negotiate over real UDP sockets and
// install matching CHILD_SAs; and a reload that changes one connection leaves the other's
// tunnel interfaces and SAs alone.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <unistd.h>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cgwd/config/aws_import.hpp"
#include "cgwd/daemon/daemon.hpp"
#include "cgwd/daemon/ike_sockets.hpp"
#include "cgwd/daemon/tunnel_runner.hpp"
#include "cgwd/dataplane/fake_dataplane.hpp"

using namespace cgwd;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(CGWD_SOURCE_DIR) + "/config/tests/fixtures/";
const config::Ipv4Address kLoopback{0x7f000001};

config::Tunnel fixture_tunnel() {
    auto conns = config::import_aws_file(kFixtures + "vgw-bgp.xml");
    REQUIRE(conns);
    auto t = conns->front().tunnels[0];
    t.aws_outside = kLoopback;
    t.cgw_outside = kLoopback;
    return t;
}

// One side of a loopback pair: sockets on ephemeral ports, a runner, a fake dataplane.
struct Side {
    dataplane::FakeDataplane dp;
    ike::crypto::SystemRandom rng;
    std::unique_ptr<daemon::IkeSockets> sockets;
    std::unique_ptr<daemon::TunnelRunner> runner;
    int ups = 0;
    std::size_t sas_at_up = 0;  // SAs in the dataplane when the runner said "up"
};

void make_sockets(boost::asio::io_context& io, Side& s, const Side* peer) {
    daemon::IkeSockets::Options o;
    o.ike_port = 0;
    o.natt_bind_port = 0;
    if (peer) {  // address the peer's ephemeral ports where the engine says 500 / 4500
        o.peer_ike_port = peer->sockets->ike_port();
        o.peer_natt_port = peer->sockets->natt_port();
    }
    s.sockets = std::make_unique<daemon::IkeSockets>(
        io, o,
        [&s](std::span<const std::uint8_t> d, config::Ipv4Address, std::uint16_t port,
             std::uint16_t local) { s.runner->on_datagram(d, port, local); });
}

void make_runner(boost::asio::io_context& io, Side& s, config::StartupAction action,
                 bool force_encap, const std::string& wireshark_keys = "") {
    daemon::TunnelPlan plan;
    plan.key = "vpn-test/1";
    plan.ifname = "test-t1";
    plan.if_id = 77;
    plan.tunnel = fixture_tunnel();
    plan.tunnel.startup_action = action;
    plan.local_outside = kLoopback;
    plan.force_encap = force_encap;
    plan.wireshark_keys = wireshark_keys;
    s.runner =
        std::make_unique<daemon::TunnelRunner>(io, plan, s.dp, *s.sockets, s.rng, [&s](bool up) {
            if (!up) return;
            ++s.ups;
            s.sas_at_up = s.dp.sa_count();
        });
}

}  // namespace

TEST_CASE("two tunnel runners negotiate over loopback UDP and install crosswise CHILD_SAs") {
    const bool encap = GENERATE(false, true);
    CAPTURE(encap);
    boost::asio::io_context io;
    Side aws, cgw;
    make_sockets(io, aws, nullptr);
    make_sockets(io, cgw, &aws);
    make_runner(io, aws, config::StartupAction::start, false);
    make_runner(io, cgw, config::StartupAction::add, encap);
    REQUIRE(aws.runner->start());
    REQUIRE(cgw.runner->start());
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(aws.runner->up() && cgw.runner->up()) && std::chrono::steady_clock::now() < give_up)
        io.run_for(std::chrono::milliseconds(20));
    REQUIRE(aws.runner->up());
    REQUIRE(cgw.runner->up());
    CHECK(cgw.ups == 1);
    // "Up" (BGP starts on it) only once the CHILD_SA is in: a SYN sent before would be lost.
    CHECK(cgw.sas_at_up == 2);
    CHECK(aws.sas_at_up == 2);

    // Interface, MSS clamp, and one inbound + one outbound SA on each side, keys crosswise.
    REQUIRE(cgw.dp.find_tunnel(77));
    CHECK(cgw.dp.find_tunnel(77)->mtu == 1436);
    CHECK(cgw.dp.mss_clamp(77) == std::optional<std::uint16_t>{1379});
    REQUIRE(cgw.dp.sa_count() == 2);
    REQUIRE(aws.dp.sa_count() == 2);
    auto st = cgw.runner->status();
    REQUIRE(st["child_sas"].size() == 1);
    CHECK(st["state"] == "up");
    CHECK(st["child_sas"][0]["algorithms"] == "AES-128-CBC/HMAC-SHA1-96");
    REQUIRE(st.contains("ike"));
    CHECK(st["ike"]["algorithms"] == "AES-128-CBC/HMAC-SHA1-96/PRF-HMAC-SHA1/MODP-1024");
    CHECK(st["ike"]["initiator"] == true);
    CHECK(st["ike"]["udp_encapsulation"] == true);
    // Rekeyed ahead of AWS's lifetimes (28800 s IKE, 3600 s ESP) by 270-540 s.
    CHECK(st["ike"]["next_rekey_s"].get<long>() <= 28800 - 270);
    CHECK(st["ike"]["next_rekey_s"].get<long>() >= 28800 - 541);
    CHECK(st["ike"]["next_child_rekey_s"].get<long>() <= 3600 - 270);
    CHECK(st["ike"]["next_child_rekey_s"].get<long>() >= 3600 - 541);
    const auto spi_in = std::stoul(st["child_sas"][0]["spi_in"].get<std::string>(), nullptr, 16);
    const auto spi_out = std::stoul(st["child_sas"][0]["spi_out"].get<std::string>(), nullptr, 16);
    const auto* in = cgw.dp.find_sa({static_cast<std::uint32_t>(spi_in), kLoopback});
    const auto* peer_out = aws.dp.find_sa({static_cast<std::uint32_t>(spi_in), kLoopback});
    REQUIRE(in);
    REQUIRE(peer_out);
    // Both sides run on 127.0.0.1, so the SA key alone does not tell the direction.
    const auto* out = cgw.dp.find_sa({static_cast<std::uint32_t>(spi_out), kLoopback});
    REQUIRE(out);
    CHECK(in->direction == dataplane::Direction::inbound);
    CHECK(out->direction == dataplane::Direction::outbound);
    CHECK(in->if_id == 77);
    CHECK(in->enc_key.size() == 16);
    CHECK(in->integ_key.size() == 20);
    // On loopback the peer's ports are ephemeral, not 500: NAT detection sees a port
    // translation, so both cases float to the NAT-T sockets and encapsulate in UDP, from the
    // peer's real NAT-T port to what the engine calls port 4500 here.
    REQUIRE(in->encap.has_value());
    CHECK(in->encap->src_port == aws.sockets->natt_port());
    CHECK(in->encap->dst_port == 4500);
    REQUIRE(out->encap.has_value());
    CHECK(out->encap->dst_port == aws.sockets->natt_port());

    // A rekey we start: both sides end with the new pair only; on each side the new outbound
    // SA is installed before the old one is removed (make-before-break), and the responder
    // adds its new outbound half only when the old SA is deleted (RFC 7296 section 2.8).
    aws.dp.clear_calls();
    cgw.dp.clear_calls();
    const auto old_out = static_cast<std::uint32_t>(spi_out);
    REQUIRE(cgw.runner->rekey());
    const auto rekey_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < rekey_until &&
           !(cgw.dp.sa_count() == 2 && aws.dp.sa_count() == 2 &&
             !cgw.dp.find_sa({old_out, kLoopback})))
        io.run_for(std::chrono::milliseconds(20));
    REQUIRE(cgw.dp.sa_count() == 2);
    REQUIRE(aws.dp.sa_count() == 2);
    CHECK_FALSE(cgw.dp.find_sa({old_out, kLoopback}));
    for (auto* side : {&cgw, &aws}) {
        long add_in = -1, add_out = -1, del_old_out = -1, i = 0;
        for (const auto& call : side->dp.calls()) {
            if (auto* a = std::get_if<dataplane::call::AddSa>(&call)) {
                if (a->sa.direction == dataplane::Direction::inbound && add_in < 0) add_in = i;
                if (a->sa.direction == dataplane::Direction::outbound && add_out < 0) add_out = i;
            }
            if (auto* d = std::get_if<dataplane::call::DelSa>(&call))
                if (del_old_out < 0 &&
                    (d->key.spi == old_out || d->key.spi == static_cast<std::uint32_t>(spi_in)))
                    del_old_out = i;
            ++i;
        }
        CAPTURE(side == &cgw, add_in, add_out, del_old_out);
        CHECK(add_in >= 0);
        CHECK(add_out > add_in);
        CHECK(del_old_out > add_out);
    }
    CHECK(cgw.runner->status()["ike"]["child_rekeys"] == 1);

    // stop(): SAs and the interface are gone from our dataplane; the peer hears the Delete.
    cgw.runner->stop();
    CHECK(cgw.dp.sa_count() == 0);
    CHECK(cgw.dp.tunnel_count() == 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (aws.runner->up() && std::chrono::steady_clock::now() < until)
        io.run_for(std::chrono::milliseconds(20));
    CHECK_FALSE(aws.runner->up());
    CHECK(aws.dp.sa_count() == 0);
}

TEST_CASE("[debug] wireshark_keys: the runner writes its IKE SA and both ESP SAs, mode 0600") {
    const fs::path dir = fs::temp_directory_path() / ("cgwd-keys-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    boost::asio::io_context io;
    Side aws, cgw;
    make_sockets(io, aws, nullptr);
    make_sockets(io, cgw, &aws);
    make_runner(io, aws, config::StartupAction::start, false);
    make_runner(io, cgw, config::StartupAction::add, false, dir.string());
    REQUIRE(aws.runner->start());
    REQUIRE(cgw.runner->start());
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(aws.runner->up() && cgw.runner->up()) && std::chrono::steady_clock::now() < give_up)
        io.run_for(std::chrono::milliseconds(20));
    REQUIRE(cgw.runner->up());
    const auto st = cgw.runner->status();
    auto read = [&](const char* name) {
        std::ifstream f(dir / name);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    const std::string ike = read("ikev2_decryption_table"), esp = read("esp_sa");
    // One IKE SA record with both SPIs, the cipher and integrity by Wireshark's names.
    CHECK(std::count(ike.begin(), ike.end(), '\n') == 1);
    CHECK(ike.find(st["ike"]["spi_i"].get<std::string>()) == 0);
    CHECK(ike.find(st["ike"]["spi_r"].get<std::string>()) != std::string::npos);
    CHECK(ike.find("AES-CBC-128 [RFC3602]") != std::string::npos);
    CHECK(ike.find("HMAC_SHA1_96 [RFC2404]") != std::string::npos);
    // Two ESP records, inbound and outbound SPI.
    CHECK(std::count(esp.begin(), esp.end(), '\n') == 2);
    for (const char* spi : {"spi_in", "spi_out"})
        CHECK(esp.find("\"0x" + st["child_sas"][0][spi].get<std::string>() + "\"") !=
              std::string::npos);
    for (const char* name : {"ikev2_decryption_table", "esp_sa"})
        CHECK((fs::status(dir / name).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write));
    // The peer, without the setting, wrote nothing anywhere.
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 2);
    fs::remove_all(dir);
}

TEST_CASE("reload restarts the changed connection only - the other's interfaces and SAs stay") {
    char tmpl[] = "/tmp/cgwd-wiring-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    fs::copy_file(kFixtures + "two-connections.json", dir + "/aws.json");
    ::chmod((dir + "/aws.json").c_str(), 0600);
    auto write = [&](const std::string& psk) {
        std::ofstream(dir + "/cgwd.toml")
            << "[daemon]\ncontrol_socket = \"" << dir << "/s.sock\"\n[outside]\nlocal_address = "
            << "\"127.0.0.1\"\n[[vpn]]\nname = \"a\"\naws_file = \"aws.json\"\nconnections = "
            << "[\"vpn-0a1b2c3d4e5f60718\"]\n"
            << psk << "[[vpn]]\nname = \"b\"\naws_file = \"aws.json\"\nconnections = "
            << "[\"vpn-0d0d0d0d0d0d0d0d0\"]\n";
        ::chmod((dir + "/cgwd.toml").c_str(), 0600);
    };
    write("");
    auto cfg = config::load_daemon_config(dir + "/cgwd.toml");
    REQUIRE(cfg);
    boost::asio::io_context io;
    // The daemon owns its dataplane and destroys it in stop(): the fake reports what it still
    // held at that moment (reading it after stop() would be a use after free).
    struct RecordingFake : dataplane::FakeDataplane {
        std::optional<std::size_t>* tunnels_at_end;
        explicit RecordingFake(std::optional<std::size_t>* out) : tunnels_at_end(out) {}
        ~RecordingFake() override { *tunnels_at_end = tunnel_count(); }
    };
    std::optional<std::size_t> tunnels_at_end;
    dataplane::FakeDataplane* fake = nullptr;
    daemon::DaemonOptions opts;
    opts.make_dataplane = [&] {
        auto f = std::make_unique<RecordingFake>(&tunnels_at_end);
        fake = f.get();
        return f;
    };
    opts.ike_port = 0;
    opts.natt_port = 0;
    daemon::Daemon d(io, dir + "/cgwd.toml", std::move(*cfg), opts);
    d.start();
    REQUIRE(fake);
    CHECK(fake->tunnel_count() == 4);
    auto* b1 = d.runner("vpn-0d0d0d0d0d0d0d0d0/1");
    auto* a1 = d.runner("vpn-0a1b2c3d4e5f60718/1");
    REQUIRE(b1);
    REQUIRE(a1);
    const auto b_if = b1->plan().if_id, a_if = a1->plan().if_id;
    CHECK(b1->plan().ifname == "b-t1");
    fake->clear_calls();

    write("tunnel1_psk = \"Another.Key_for_t1\"\n");
    auto r = d.reload();
    REQUIRE(r.result == daemon::ResultCode::success);
    CHECK(r.text == "reloaded: 1 unchanged, 1 changed, 0 added, 0 removed");
    CHECK(d.runner("vpn-0d0d0d0d0d0d0d0d0/1") == b1);  // the very same runner
    CHECK(fake->find_tunnel(b_if));
    CHECK_FALSE(fake->find_tunnel(a_if));  // a's old interface removed, a new one made
    CHECK(fake->tunnel_count() == 4);
    for (const auto& call : fake->calls()) {
        if (auto* del = std::get_if<dataplane::call::DeleteTunnel>(&call))
            CHECK(del->if_id != b_if);
    }
    d.stop();
    fake = nullptr;  // destroyed by stop()
    REQUIRE(tunnels_at_end);
    CHECK(*tunnels_at_end == 0);
    fs::remove_all(dir);
}
