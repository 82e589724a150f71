// cgwctl events' log and the Prometheus text: exact exposition lines for a fixed status, the
// bounded event log, and the HTTP endpoint over loopback.
#include <sys/socket.h>
#include <sys/time.h>

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cgwd/daemon/observe.hpp"

using namespace cgwd;
using nlohmann::json;

namespace {

json fixed_status() {
    return json{
        {"connections",
         json::array(
             {{{"id", "vpn-0a"},
               {"tunnels", json::array({{{"number", 1},
                                         {"state", "up"},
                                         {"child_sas",
                                          json::array({{{"bytes_in", 1000}, {"bytes_out", 2000}}})},
                                         {"ike", {{"child_rekeys", 3}, {"ike_rekeys", 1}}},
                                         {"bgp",
                                          {{"state", "Established"},
                                           {"prefixes_received", 2},
                                           {"prefixes_advertised", 1}}}},
                                        {{"number", 2}, {"state", "connecting"}}})}}})},
        {"direct_connect",
         json::array({{{"name", "dx1"},
                       {"bfd", "up"},
                       {"bgp", {{"state", "Idle"}, {"prefixes_received", 0}}}}})}};
}

}  // namespace

TEST_CASE("prometheus text: one sample per tunnel, session and BFD peer, with HELP and TYPE") {
    daemon::MetricCounters c;
    c.route_changes = 4;
    c.events = 9;
    const auto text = daemon::prometheus_text(fixed_status(), c);
    for (const char* line : {
             "# TYPE cgwd_tunnel_up gauge\n",
             "cgwd_tunnel_up{connection=\"vpn-0a\",tunnel=\"1\"} 1\n",
             "cgwd_tunnel_up{connection=\"vpn-0a\",tunnel=\"2\"} 0\n",
             "cgwd_tunnel_sa_bytes{connection=\"vpn-0a\",tunnel=\"1\",direction=\"in\"} 1000\n",
             "cgwd_tunnel_sa_bytes{connection=\"vpn-0a\",tunnel=\"1\",direction=\"out\"} 2000\n",
             "cgwd_tunnel_rekeys{connection=\"vpn-0a\",tunnel=\"1\",kind=\"child\"} 3\n",
             "cgwd_bgp_session_up{connection=\"vpn-0a\",tunnel=\"1\"} 1\n",
             "cgwd_bgp_prefixes_received{connection=\"vpn-0a\",tunnel=\"1\"} 2\n",
             "cgwd_bgp_session_up{direct_connect=\"dx1\"} 0\n",
             "cgwd_bfd_up{direct_connect=\"dx1\"} 1\n",
             "# TYPE cgwd_route_changes_total counter\ncgwd_route_changes_total 4\n",
             "cgwd_events_total 9\n",
         }) {
        CAPTURE(line);
        CHECK(text.find(line) != std::string::npos);
    }
    // Every sample line is NAME{labels} VALUE or NAME VALUE; no blank or stray lines.
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        REQUIRE(end != std::string::npos);
        auto line = text.substr(start, end - start);
        CAPTURE(line);
        CHECK((line.rfind("# HELP cgwd_", 0) == 0 || line.rfind("# TYPE cgwd_", 0) == 0 ||
               line.rfind("cgwd_", 0) == 0));
        start = end + 1;
    }
}

TEST_CASE("event log: numbered, 'since' returns only newer events, bounded") {
    daemon::EventLog log(3);
    for (int i = 1; i <= 5; ++i) log.add("vpn-0a/1", "event " + std::to_string(i));
    CHECK(log.last() == 5);
    auto all = log.since(0);
    REQUIRE(all["events"].size() == 3);  // the two oldest fell out
    CHECK(all["events"][0]["seq"] == 3);
    CHECK(all["events"][2]["text"] == "event 5");
    CHECK(all["last"] == 5);
    auto newer = log.since(4);
    REQUIRE(newer["events"].size() == 1);
    CHECK(newer["events"][0]["seq"] == 5);
    CHECK(log.since(5)["events"].empty());
}

TEST_CASE("metrics endpoint: GET /metrics answers 200 with the text, other paths 404") {
    boost::asio::io_context io;
    daemon::MetricsServer server(io, "127.0.0.1:0", [] { return std::string("cgwd_x 1\n"); });
    const auto port = server.port();
    REQUIRE(port != 0);
    std::string ok, missing;
    std::thread client([&] {
        auto get = [&](const std::string& path) {
            boost::asio::io_context cio;
            boost::asio::ip::tcp::socket s(cio);
            s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
            std::string req = "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
            boost::asio::write(s, boost::asio::buffer(req));
            std::string out;
            boost::system::error_code ec;
            boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);
            return out;
        };
        ok = get("/metrics");
        missing = get("/other");
        io.stop();
    });
    io.run_for(std::chrono::seconds(5));
    client.join();
    CHECK(ok.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
    CHECK(ok.find("Content-Type: text/plain; version=0.0.4\r\n") != std::string::npos);
    CHECK(ok.substr(ok.size() - 13) == "\r\n\r\ncgwd_x 1\n");
    CHECK(missing.rfind("HTTP/1.0 404", 0) == 0);
    CHECK_THROWS_WITH(daemon::MetricsServer(io, "nonsense", [] { return std::string(); }),
                      Catch::Contains("not ADDRESS:PORT"));
}

TEST_CASE("metrics endpoint: at most 16 connections, one more gets 503, silent ones are closed") {
    boost::asio::io_context io;
    daemon::MetricsServer server(
        io, "127.0.0.1:0", [] { return std::string("cgwd_x 1\n"); },
        std::chrono::milliseconds(2000));
    const boost::asio::ip::tcp::endpoint ep{boost::asio::ip::make_address("127.0.0.1"),
                                            server.port()};
    std::string extra_answer;
    bool silent_closed = false;
    std::chrono::milliseconds silent_lasted{0};
    std::thread client([&] {
        boost::asio::io_context cio;
        // 16 connections that never send a request.
        std::vector<boost::asio::ip::tcp::socket> silent;
        for (int i = 0; i < 16; ++i) {
            silent.emplace_back(cio);
            silent.back().connect(ep);
            // Paced, so the accept queue (8) never overflows into SYN retransmissions.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        // The 17th is answered 503 at once.
        boost::asio::ip::tcp::socket extra(cio);
        extra.connect(ep);
        boost::system::error_code ec;
        boost::asio::read(extra, boost::asio::dynamic_buffer(extra_answer), ec);
        // The silent ones are closed by the server after its timeout (2 s here).
        const auto t0 = std::chrono::steady_clock::now();
        timeval limit{5, 0};  // a server that never closes fails the test instead of hanging it
        ::setsockopt(silent[0].native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        char b;
        boost::asio::read(silent[0], boost::asio::buffer(&b, 1), ec);
        silent_closed = ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
        silent_lasted = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t0);
        io.stop();
    });
    io.run_for(std::chrono::seconds(10));
    client.join();
    CHECK(extra_answer.rfind("HTTP/1.0 503", 0) == 0);
    CHECK(silent_closed);
    CHECK(silent_lasted < std::chrono::seconds(5));  // closed by the server, not SO_RCVTIMEO
}
