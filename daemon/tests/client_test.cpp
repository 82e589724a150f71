// cgwctl's side of the control channel (daemon::call) against a one-shot unix socket server
// in a thread: answers larger than a request are read whole; one above kMaxAnswer is refused
// from its header with a message saying so.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "cgwd/daemon/client.hpp"
#include "cgwd/daemon/control.hpp"

using namespace cgwd::daemon;
using nlohmann::json;

namespace {

// Listens on a fresh socket path; serve() takes one connection, reads one request frame and
// sends `answer` (the frame's bytes as they are).
struct OneShotServer {
    std::filesystem::path dir;
    std::string path;
    int listener = -1;

    OneShotServer() {
        char tmpl[] = "/tmp/cgwd-client-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = (dir / "control.sock").string();
        listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listener >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listener, 1) == 0);
    }
    ~OneShotServer() {
        ::close(listener);
        std::filesystem::remove_all(dir);
    }

    std::thread serve(std::string answer) {
        return std::thread([this, answer = std::move(answer)] {
            int c = ::accept(listener, nullptr, nullptr);
            if (c < 0) return;
            FrameReader reader;
            char buf[4096];
            for (bool done = false; !done;) {
                auto n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                auto frames = reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
                done = !frames || !frames->empty();
            }
            for (std::size_t sent = 0; sent < answer.size();) {
                auto n = ::send(c, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            ::close(c);
        });
    }
};

}  // namespace

TEST_CASE("cgwctl's client reads an answer larger than a request (5000 routes)") {
    OneShotServer server;
    json routes = json::array();
    for (int i = 0; i < 5000; ++i)
        routes.push_back(
            {{"prefix", "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"},
             {"path", "vpn"},
             {"via", json::array({{{"next_hop", "169.254.10.1"},
                                   {"tunnel", "vpn-0a1b2c3d4e5f60718/1"}}})}});
    const std::string body =
        json{{"result", 0}, {"text", "ok"}, {"arguments", {{"routes", routes}}}}.dump();
    REQUIRE(body.size() > 4 * kMaxRequest);
    auto t = server.serve(encode_frame(body));
    auto got = call(server.path, "status");
    t.join();
    REQUIRE(got.has_value());
    CHECK((*got)["arguments"]["routes"].size() == 5000);
    CHECK((*got)["arguments"]["routes"][4999]["prefix"] == "10.19.135.0/24");
}

TEST_CASE("cgwctl's client refuses an answer above kMaxAnswer from its header") {
    OneShotServer server;
    // The header alone claims kMaxAnswer + 1 bytes; the body never comes.
    const std::string header = encode_frame(std::string(kMaxAnswer + 1, ' ')).substr(0, 4);
    auto t = server.serve(header);
    auto got = call(server.path, "status");
    t.join();
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error() == "answer from cgwd larger than 16 MiB");
}
