// The control socket's transport in a running Daemon (control surface only, no engines):
// pipelined requests are answered in turn, at most 32 connections are served at once, and a
// connection that sends nothing is closed after the idle timeout.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/daemon/control.hpp"
#include "cgwd/daemon/daemon.hpp"

using namespace cgwd;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Running {
    std::string dir;
    std::string sock;
    boost::asio::io_context io;
    std::optional<daemon::Daemon> d;

    explicit Running(std::chrono::milliseconds idle) {
        char tmpl[] = "/tmp/cgwd-control-test-XXXXXX";
        dir = ::mkdtemp(tmpl);
        sock = dir + "/s.sock";
        fs::copy_file(std::string(CGWD_SOURCE_DIR) + "/config/tests/fixtures/vgw-bgp.xml",
                      dir + "/vgw-bgp.xml");
        ::chmod((dir + "/vgw-bgp.xml").c_str(), 0600);
        std::ofstream(dir + "/cgwd.toml")
            << "[daemon]\ncontrol_socket = \"" << sock << "\"\n[[vpn]]\nname = \"lab\"\n"
            << "aws_file = \"vgw-bgp.xml\"\n";
        ::chmod((dir + "/cgwd.toml").c_str(), 0600);
        auto cfg = config::load_daemon_config(dir + "/cgwd.toml");
        REQUIRE(cfg);
        daemon::DaemonOptions opts;
        opts.engines = false;
        opts.control_idle_timeout = idle;
        d.emplace(io, dir + "/cgwd.toml", std::move(*cfg), opts);
        d->start();
    }
    ~Running() {
        d->stop();
        d.reset();
        fs::remove_all(dir);
    }

    // Runs the daemon's loop for a while (the clients below never block on it).
    void run(std::chrono::milliseconds t) {
        io.restart();
        io.run_for(t);
    }

    int connect() {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, sock.c_str());
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        return fd;
    }

    // Every complete answer on `fd`, running the loop until `want` came or 5 s passed.
    // `closed` is set when the daemon closed the connection.
    std::vector<json> answers(int fd, std::size_t want, bool* closed = nullptr) {
        daemon::FrameReader reader(daemon::kMaxAnswer);
        std::vector<json> got;
        const auto end = std::chrono::steady_clock::now() + 5s;
        while (got.size() < want && std::chrono::steady_clock::now() < end) {
            run(20ms);
            char buf[65536];
            for (;;) {
                auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n == 0) {
                    if (closed) *closed = true;
                    return got;
                }
                if (n < 0) break;
                auto frames = reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
                REQUIRE(frames);
                for (const auto& f : *frames) got.push_back(json::parse(f));
            }
        }
        return got;
    }
};

std::string request(const std::string& command) {
    return daemon::encode_frame(json{{"command", command}, {"arguments", json::object()}}.dump());
}

}  // namespace

TEST_CASE("control socket: 100 pipelined requests are answered in turn on one connection") {
    Running r(60s);
    int fd = r.connect();
    std::string all;
    for (int i = 0; i < 50; ++i) all += request("status") + request("version");
    REQUIRE(::send(fd, all.data(), all.size(), 0) == static_cast<ssize_t>(all.size()));
    auto got = r.answers(fd, 100);
    REQUIRE(got.size() == 100);
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i]["result"] == 0);
        // In the order asked: status answers carry tunnels, version answers a version.
        CHECK(got[i]["arguments"].contains(i % 2 == 0 ? "tunnels_total" : "version"));
    }
    ::close(fd);
}

TEST_CASE("control socket: at most 32 connections at once, one more is told and closed") {
    Running r(60s);
    std::vector<int> fds;
    for (int i = 0; i < 32; ++i) {
        fds.push_back(r.connect());
        r.run(5ms);  // accepted (the listen backlog is 16)
    }
    r.run(100ms);
    int extra = r.connect();
    bool closed = false;
    auto told = r.answers(extra, 1, &closed);
    REQUIRE(told.size() == 1);
    CHECK(told[0]["result"] == 1);
    CHECK(told[0]["text"] == "too many control connections (32)");
    r.answers(extra, 2, &closed);
    CHECK(closed);
    ::close(extra);
    // The 32 are still served.
    const auto v = request("version");
    REQUIRE(::send(fds[31], v.data(), v.size(), 0) == static_cast<ssize_t>(v.size()));
    auto ok = r.answers(fds[31], 1);
    REQUIRE(ok.size() == 1);
    CHECK(ok[0]["result"] == 0);
    // One goes: a new connection is served again.
    ::close(fds.back());
    fds.pop_back();
    r.run(100ms);
    int again = r.connect();
    REQUIRE(::send(again, v.data(), v.size(), 0) == static_cast<ssize_t>(v.size()));
    auto served = r.answers(again, 1);
    REQUIRE(served.size() == 1);
    CHECK(served[0]["result"] == 0);
    ::close(again);
    for (int fd : fds) ::close(fd);
}

TEST_CASE("control socket: a connection that sends nothing is closed after the idle timeout") {
    Running r(300ms);
    int idle = r.connect();
    int busy = r.connect();
    const auto v = request("version");
    // `busy` asks every 100 ms and stays open; `idle` never asks and is closed.
    bool idle_closed = false, busy_closed = false;
    for (int i = 0; i < 8; ++i) {
        REQUIRE(::send(busy, v.data(), v.size(), 0) == static_cast<ssize_t>(v.size()));
        CHECK(r.answers(busy, 1, &busy_closed).size() == 1);
        r.run(100ms);
    }
    r.answers(idle, 1, &idle_closed);
    CHECK(idle_closed);
    CHECK_FALSE(busy_closed);
    ::close(idle);
    ::close(busy);
}
