#include "cgwd/daemon/observe.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <sstream>
#include <stdexcept>

namespace cgwd::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

void EventLog::add(std::string subject, std::string text) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    events_.push_back({next_++, ms, std::move(subject), std::move(text)});
    while (events_.size() > capacity_) events_.pop_front();
}

json EventLog::since(std::uint64_t since) const {
    json list = json::array();
    for (const auto& e : events_)
        if (e.seq > since)
            list.push_back(
                {{"seq", e.seq}, {"unix_ms", e.unix_ms}, {"subject", e.subject}, {"text", e.text}});
    return json{{"events", list}, {"last", last()}};
}

namespace {

// A label value in the exposition format: backslash, quote and newline escaped.
std::string label(const std::string& v) {
    std::string out;
    for (char ch : v) {
        if (ch == '\\' || ch == '"') out += '\\';
        if (ch == '\n') {
            out += "\\n";
            continue;
        }
        out += ch;
    }
    return out;
}

struct Family {
    std::string name, type, help;
    std::vector<std::string> samples;
};

}  // namespace

std::string prometheus_text(const json& s, const MetricCounters& c) {
    Family up{"cgwd_tunnel_up", "gauge", "1 when the tunnel's IKE SA and a CHILD_SA are up.", {}};
    Family bytes{"cgwd_tunnel_sa_bytes",
                 "gauge",
                 "Inner bytes through the tunnel's current CHILD_SAs (reset by a rekey).",
                 {}};
    Family rekeys{"cgwd_tunnel_rekeys", "gauge", "Rekeys on the tunnel's current IKE SA.", {}};
    Family bgp_up{"cgwd_bgp_session_up", "gauge", "1 when the BGP session is Established.", {}};
    Family rx{"cgwd_bgp_prefixes_received", "gauge", "Prefixes accepted from the peer.", {}};
    Family tx{"cgwd_bgp_prefixes_advertised", "gauge", "Prefixes advertised to the peer.", {}};
    Family bfd{"cgwd_bfd_up", "gauge", "1 when BFD is up on the Direct Connect peer.", {}};
    Family esp_drops{"cgwd_tunnel_sa_drops",
                     "gauge",
                     "Inbound ESP dropped by the tunnel's current CHILD_SAs (replayed, failed "
                     "integrity check).",
                     {}};
    auto bgp_samples = [&](const std::string& labels, const json& b) {
        if (!b.is_object()) return;
        bgp_up.samples.push_back("{" + labels + "} " +
                                 (b.value("state", "") == "Established" ? "1" : "0"));
        rx.samples.push_back("{" + labels + "} " + std::to_string(b.value("prefixes_received", 0)));
        tx.samples.push_back("{" + labels + "} " +
                             std::to_string(b.value("prefixes_advertised", 0)));
    };
    for (const auto& conn : s.value("connections", json::array())) {
        for (const auto& t : conn.value("tunnels", json::array())) {
            const std::string labels = "connection=\"" + label(conn.value("id", "")) +
                                       "\",tunnel=\"" + std::to_string(t.value("number", 0)) + "\"";
            up.samples.push_back("{" + labels + "} " + (t.value("state", "") == "up" ? "1" : "0"));
            std::uint64_t in = 0, out = 0, replay = 0, integrity = 0;
            for (const auto& sa : t.value("child_sas", json::array())) {
                in += sa.value("bytes_in", std::uint64_t{0});
                out += sa.value("bytes_out", std::uint64_t{0});
                replay += sa.value("replay_drops", std::uint64_t{0});
                integrity += sa.value("integrity_failures", std::uint64_t{0});
            }
            esp_drops.samples.push_back("{" + labels + ",reason=\"replay\"} " +
                                        std::to_string(replay));
            esp_drops.samples.push_back("{" + labels + ",reason=\"integrity\"} " +
                                        std::to_string(integrity));
            bytes.samples.push_back("{" + labels + ",direction=\"in\"} " + std::to_string(in));
            bytes.samples.push_back("{" + labels + ",direction=\"out\"} " + std::to_string(out));
            if (t.contains("ike")) {
                rekeys.samples.push_back("{" + labels + ",kind=\"child\"} " +
                                         std::to_string(t["ike"].value("child_rekeys", 0)));
                rekeys.samples.push_back("{" + labels + ",kind=\"ike\"} " +
                                         std::to_string(t["ike"].value("ike_rekeys", 0)));
            }
            if (t.contains("bgp")) bgp_samples(labels, t["bgp"]);
        }
    }
    for (const auto& d : s.value("direct_connect", json::array())) {
        const std::string labels = "direct_connect=\"" + label(d.value("name", "")) + "\"";
        if (d.contains("bgp")) bgp_samples(labels, d["bgp"]);
        if (d.contains("bfd") && d["bfd"].is_string() && d["bfd"] != "off")
            bfd.samples.push_back("{" + labels + "} " + (d["bfd"] == "up" ? "1" : "0"));
    }
    std::ostringstream o;
    for (const auto* f : {&up, &bytes, &esp_drops, &rekeys, &bgp_up, &rx, &tx, &bfd}) {
        if (f->samples.empty()) continue;
        o << "# HELP " << f->name << " " << f->help << "\n# TYPE " << f->name << " " << f->type
          << "\n";
        for (const auto& sample : f->samples) o << f->name << sample << "\n";
    }
    o << "# HELP cgwd_route_changes_total Installed routes whose next hops changed (failovers).\n"
         "# TYPE cgwd_route_changes_total counter\ncgwd_route_changes_total "
      << c.route_changes << "\n";
    o << "# HELP cgwd_fib_errors_total Route installs and removals the kernel refused.\n"
         "# TYPE cgwd_fib_errors_total counter\ncgwd_fib_errors_total "
      << c.fib_errors << "\n";
    o << "# HELP cgwd_fib_resyncs_total Route batches whose netlink acknowledgements were lost "
         "(ENOBUFS) and were checked against the kernel's table.\n"
         "# TYPE cgwd_fib_resyncs_total counter\ncgwd_fib_resyncs_total "
      << c.fib_resyncs << "\n";
    o << "# HELP cgwd_events_total State changes logged (cgwctl events).\n"
         "# TYPE cgwd_events_total counter\ncgwd_events_total "
      << c.events << "\n";
    // Admission of IKE datagrams (hostile peers): what was dropped and why, cookies.
    if (const auto it = s.find("ike_ingress"); it != s.end() && it->is_object()) {
        const json& in = *it;
        o << "# HELP cgwd_ike_datagrams_dropped_total IKE datagrams dropped before any tunnel "
             "saw them, by reason.\n# TYPE cgwd_ike_datagrams_dropped_total counter\n";
        for (const char* reason : {"unknown_source", "malformed", "rate_limited", "handoff_full"})
            o << "cgwd_ike_datagrams_dropped_total{reason=\"" << reason << "\"} "
              << in.value(std::string("dropped_") + reason, std::uint64_t{0}) << "\n";
        o << "# HELP cgwd_ike_cookies_sent_total IKE_SA_INIT requests answered with a cookie "
             "(RFC 7296 2.6).\n# TYPE cgwd_ike_cookies_sent_total counter\n"
             "cgwd_ike_cookies_sent_total "
          << in.value("cookies_sent", std::uint64_t{0}) << "\n";
        o << "# HELP cgwd_ike_init_passed_total IKE_SA_INIT requests handed to the tunnels.\n"
             "# TYPE cgwd_ike_init_passed_total counter\ncgwd_ike_init_passed_total "
          << in.value("init_passed", std::uint64_t{0}) << "\n";
    }
    if (const auto it = s.find("dataplane_counters"); it != s.end() && it->is_object()) {
        o << "# HELP cgwd_esp_dropped_total ESP datagrams the userspace dataplane dropped, by "
             "reason (per-SA replay and integrity counts are in the status).\n"
             "# TYPE cgwd_esp_dropped_total counter\n";
        // reason label -> status key
        for (const auto& [reason, key] : {std::pair{"unknown_spi", "esp_unknown_spi"},
                                          {"decap_drops", "esp_decap_drops"},
                                          {"encap_mismatch", "esp_encap_mismatch"},
                                          {"no_outbound_sa", "no_outbound_sa"},
                                          {"encap_drops", "encap_drops"}})
            o << "cgwd_esp_dropped_total{reason=\"" << reason << "\"} "
              << it->value(key, std::uint64_t{0}) << "\n";
        o << "# HELP cgwd_esp_datagrams_in_total Datagrams the userspace dataplane read, by "
             "transport: UDP port 4500 (ESP, IKE and keepalives) or raw ESP (IP protocol 50).\n"
             "# TYPE cgwd_esp_datagrams_in_total counter\n"
             "cgwd_esp_datagrams_in_total{transport=\"udp\"} "
          << it->value("udp_datagrams_in", std::uint64_t{0})
          << "\ncgwd_esp_datagrams_in_total{transport=\"raw\"} "
          << it->value("raw_esp_in", std::uint64_t{0}) << "\n";
        o << "# HELP cgwd_esp_send_errors_total Raw ESP packets the kernel refused to send.\n"
             "# TYPE cgwd_esp_send_errors_total counter\ncgwd_esp_send_errors_total{transport="
             "\"raw\"} "
          << it->value("raw_esp_send_errors", std::uint64_t{0}) << "\n";
    }
    return o.str();
}

MetricsServer::MetricsServer(asio::io_context& io, const std::string& listen, Source source,
                             std::chrono::milliseconds timeout)
    : acceptor_(io), source_(std::move(source)), timeout_(timeout) {
    auto colon = listen.rfind(':');
    boost::system::error_code ec;
    auto address = asio::ip::make_address(listen.substr(0, colon), ec);
    int port = -1;
    if (!ec && colon != std::string::npos) {
        try {
            port = std::stoi(listen.substr(colon + 1));
        } catch (const std::exception&) {
        }
    }
    if (ec || port < 0 || port > 65535)
        throw std::runtime_error("metrics_listen \"" + listen + "\": not ADDRESS:PORT");
    tcp::endpoint ep(address, static_cast<std::uint16_t>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(8, ec);
    if (ec) throw std::runtime_error("metrics_listen " + listen + ": " + ec.message());
    accept();
}

MetricsServer::~MetricsServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
}

std::uint16_t MetricsServer::port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
}

namespace {
// One open metrics connection: counted while it lives, closed when its time is up.
struct MetricsConnection {
    MetricsConnection(tcp::socket s, std::shared_ptr<std::size_t> count)
        : sock(std::move(s)), deadline(sock.get_executor()), live(std::move(count)) {
        ++*live;
    }
    ~MetricsConnection() { --*live; }
    tcp::socket sock;
    asio::steady_timer deadline;
    std::shared_ptr<std::size_t> live;
    asio::streambuf buf{8192};  // bounded request
    std::string reply;

    // Sends `text` and shuts the connection down; the connection (its deadline timer with it)
    // goes when the write completes.
    static void answer(const std::shared_ptr<MetricsConnection>& conn, std::string text) {
        conn->reply = std::move(text);
        asio::async_write(conn->sock, asio::buffer(conn->reply),
                          [conn](boost::system::error_code, std::size_t) {
                              boost::system::error_code cec;
                              conn->sock.shutdown(tcp::socket::shutdown_both, cec);
                          });
    }
};
}  // namespace

void MetricsServer::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
        if (ec) return;
        const bool full = *live_ >= kMaxConnections;
        auto conn = std::make_shared<MetricsConnection>(std::move(s), live_);
        std::weak_ptr<MetricsConnection> weak = conn;
        conn->deadline.expires_after(timeout_);
        conn->deadline.async_wait([weak](boost::system::error_code tec) {
            if (tec) return;
            if (auto c = weak.lock()) {
                boost::system::error_code cec;
                c->sock.close(cec);
            }
        });
        if (full) {
            MetricsConnection::answer(
                conn, "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
            accept();
            return;
        }
        asio::async_read_until(
            conn->sock, conn->buf, "\r\n\r\n",
            [this, conn](boost::system::error_code rec, std::size_t) {
                if (rec) return;
                std::string first;
                std::istream in(&conn->buf);
                std::getline(in, first);
                if (first.rfind("GET /metrics ", 0) != 0)
                    return MetricsConnection::answer(
                        conn, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                auto body = source_();
                MetricsConnection::answer(
                    conn,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
            });
        accept();
    });
}

}  // namespace cgwd::daemon
