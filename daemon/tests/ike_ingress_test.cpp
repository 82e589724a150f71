// Admission of IKE datagrams in IkeSockets (hostile peers, issue 3/8): datagrams from no
// tunnel's peer and without an IKE header never reach the receiver and are counted; IKE_SA_INIT
// requests from a peer pass until the load threshold, then are answered with an RFC 7296
// section 2.6 cookie sent back to their source; other IKE messages go straight through. Fed
// through deliver_natt() (the userspace dataplane's path), answers captured by natt_sender.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "cgwd/config/aws_import.hpp"
#include "cgwd/daemon/ike_sockets.hpp"
#include "cgwd/daemon/observe.hpp"
#include "cgwd/ike/sa.hpp"

using namespace cgwd;

namespace {

const config::Ipv4Address kAws{0xCB00710A};       // 203.0.113.10
const config::Ipv4Address kStranger{0x0A090909};  // 10.9.9.9
const config::Ipv4Address kLocal{0xC6336402};     // 198.51.100.2

// An IKE_SA_INIT request as cgwd's own initiator sends it (a fresh SPIi each time).
ike::Bytes init_request(ike::crypto::Random& rng) {
    auto conns = config::import_aws_file(std::string(CGWD_SOURCE_DIR) +
                                         "/config/tests/fixtures/vgw-bgp.xml");
    REQUIRE(conns);
    auto t = conns->front().tunnels[0];
    ike::IkeSa sa(ike::SaSettings::from_tunnel(t, kLocal), rng);
    sa.start(ike::TimePoint{});
    auto out = sa.take_datagrams();
    REQUIRE(out.size() == 1);
    return out[0];
}

struct Sent {
    ike::Bytes bytes;
    config::Ipv4Address to;
    std::uint16_t port;
};

}  // namespace

TEST_CASE("IKE admission: unknown sources and malformed datagrams are dropped and counted") {
    boost::asio::io_context io;
    ike::crypto::SystemRandom rng;
    std::vector<Sent> sent;
    int received = 0;
    daemon::IkeSockets::Options o;
    o.ike_port = 0;
    o.natt_sender = [&](std::span<const std::uint8_t> d, config::Ipv4Address to, std::uint16_t port,
                        bool) {
        sent.push_back({ike::Bytes(d.begin(), d.end()), to, port});
        return true;
    };
    o.peer = [](config::Ipv4Address from) -> std::optional<bool> {
        if (from == kAws) return false;  // a tunnel's peer, its IKE SA not half-open
        return std::nullopt;
    };
    o.rng = &rng;
    o.cookies.half_open_threshold = 3;
    o.cookies.pass_window = std::chrono::seconds(10);
    o.cookies.per_source_burst = 10;
    daemon::IkeSockets sockets(
        io, o, [&](std::span<const std::uint8_t>, config::Ipv4Address from, std::uint16_t, auto) {
            CHECK(from == kAws);
            ++received;
        });

    const ike::Bytes init = init_request(rng);
    // A well-formed request from an address that is no tunnel's peer: dropped, nothing sent.
    for (int k = 0; k < 100; ++k) sockets.deliver_natt(init, kStranger, 4500);
    // Too short for an IKE header, from the peer.
    const ike::Bytes junk{1, 2, 3};
    sockets.deliver_natt(junk, kAws, 4500);
    CHECK(received == 0);
    CHECK(sent.empty());

    // IKE_SA_INIT requests from the peer: 4 pass (threshold 3), then cookies.
    for (int k = 0; k < 4; ++k) sockets.deliver_natt(init_request(rng), kAws, 4500);
    CHECK(received == 4);
    CHECK(sent.empty());
    sockets.deliver_natt(init_request(rng), kAws, 4501);
    CHECK(received == 4);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].to == kAws);
    CHECK(sent[0].port == 4501);
    auto answer = ike::decode_message(sent[0].bytes);
    REQUIRE(answer);
    CHECK(answer->header.response);
    CHECK(answer->header.spi_r == 0);
    REQUIRE(answer->payloads.size() == 1);
    const auto* n = answer->payloads[0].get<ike::NotifyPayload>();
    REQUIRE(n);
    CHECK(n->type == ike::NotifyType::cookie);
    CHECK(n->data.size() == 36);

    // Not IKE_SA_INIT (an INFORMATIONAL request with the peer's SPIs): the tunnel decides.
    ike::Message info;
    info.header.spi_i = 0x1122334455667788;
    info.header.spi_r = 0x99aabbccddeeff00;
    info.header.exchange = ike::ExchangeType::informational;
    info.header.message_id = 7;
    auto info_bytes = ike::encode_message(info);
    REQUIRE(info_bytes);
    sockets.deliver_natt(*info_bytes, kAws, 4500);
    CHECK(received == 5);

    const auto s = sockets.ingress_stats();
    CHECK(s.received == 107);
    CHECK(s.unknown_source == 100);
    CHECK(s.malformed == 1);
    CHECK(s.init_passed == 4);
    CHECK(s.cookies_sent == 1);
    CHECK(s.rate_limited == 0);
    CHECK(s.cookies_required);
    CHECK(s.tracked_sources == 1);  // the unknown source never got a bucket
}

TEST_CASE("IKE admission: a half-open tunnel's peer must present a cookie at once") {
    // IkeSa replaces a half-open SA on a new IKE_SA_INIT: an off-path spoofer must not be able
    // to, so the load threshold does not matter here.
    boost::asio::io_context io;
    ike::crypto::SystemRandom rng;
    int sent = 0, received = 0;
    daemon::IkeSockets::Options o;
    o.ike_port = 0;
    o.natt_sender = [&](std::span<const std::uint8_t>, config::Ipv4Address, std::uint16_t, bool) {
        ++sent;
        return true;
    };
    o.peer = [](config::Ipv4Address) -> std::optional<bool> { return true; };
    o.rng = &rng;
    o.cookies.half_open_threshold = 50;
    o.cookies.pass_window = std::chrono::seconds(10);
    daemon::IkeSockets sockets(io, o, [&](auto, auto, auto, auto) { ++received; });
    sockets.deliver_natt(init_request(rng), kAws, 4500);
    CHECK(received == 0);
    CHECK(sent == 1);
    CHECK(sockets.ingress_stats().cookies_sent == 1);
}

TEST_CASE("IKE admission: the cross-thread handoff holds at most its limit") {
    daemon::HandoffBound bound(2);
    CHECK(bound.enter());
    CHECK(bound.enter());
    CHECK_FALSE(bound.enter());
    CHECK_FALSE(bound.enter());
    bound.leave();
    CHECK(bound.enter());
    CHECK(bound.dropped() == 2);
}

TEST_CASE("prometheus text: IKE admission and ESP drop counters") {
    nlohmann::json s{
        {"connections",
         nlohmann::json::array(
             {{{"id", "vpn-0a"},
               {"tunnels",
                nlohmann::json::array(
                    {{{"number", 1},
                      {"state", "up"},
                      {"child_sas",
                       nlohmann::json::array({{{"replay_drops", 3}, {"integrity_failures", 2}},
                                              {{"replay_drops", 1}}})}}})}}})},
        {"ike_ingress",
         {{"dropped_unknown_source", 120},
          {"dropped_malformed", 4},
          {"dropped_rate_limited", 9},
          {"dropped_handoff_full", 8},
          {"cookies_sent", 77},
          {"init_passed", 2}}},
        {"dataplane_counters",
         {{"esp_unknown_spi", 5},
          {"esp_decap_drops", 6},
          {"esp_encap_mismatch", 7},
          {"udp_datagrams_in", 1000},
          {"raw_esp_in", 2000},
          {"raw_esp_send_errors", 1}}}};
    const auto text = daemon::prometheus_text(s, daemon::MetricCounters{0, 0, 3, 1});
    for (const char* line : {
             "cgwd_tunnel_sa_drops{connection=\"vpn-0a\",tunnel=\"1\",reason=\"replay\"} 4\n",
             "cgwd_tunnel_sa_drops{connection=\"vpn-0a\",tunnel=\"1\",reason=\"integrity\"} 2\n",
             "# TYPE cgwd_ike_datagrams_dropped_total counter\n",
             "cgwd_ike_datagrams_dropped_total{reason=\"unknown_source\"} 120\n",
             "cgwd_ike_datagrams_dropped_total{reason=\"malformed\"} 4\n",
             "cgwd_ike_datagrams_dropped_total{reason=\"rate_limited\"} 9\n",
             "cgwd_ike_datagrams_dropped_total{reason=\"handoff_full\"} 8\n",
             "cgwd_ike_cookies_sent_total 77\n",
             "cgwd_ike_init_passed_total 2\n",
             "cgwd_esp_dropped_total{reason=\"unknown_spi\"} 5\n",
             "cgwd_esp_dropped_total{reason=\"decap_drops\"} 6\n",
             "cgwd_esp_dropped_total{reason=\"encap_mismatch\"} 7\n",
             "cgwd_esp_dropped_total{reason=\"no_outbound_sa\"} 0\n",
             "cgwd_esp_datagrams_in_total{transport=\"udp\"} 1000\n",
             "cgwd_esp_datagrams_in_total{transport=\"raw\"} 2000\n",
             "cgwd_esp_send_errors_total{transport=\"raw\"} 1\n",
             "cgwd_fib_errors_total 3\n",
             "cgwd_fib_resyncs_total 1\n",
         }) {
        CAPTURE(line);
        CHECK(text.find(line) != std::string::npos);
    }
}
