// What the daemon tells the outside world besides `cgwctl status`:
//  - EventLog: a bounded, numbered log of state changes (tunnel up/down, BGP sessions, BFD,
//    route changes, rekeys, reloads) that `cgwctl events` follows by asking for what came
//    after the last number it saw;
//  - prometheus_text(): the Prometheus text exposition format (version 0.0.4) of the status
//    document, served on [daemon] metrics_listen by MetricsServer (plain HTTP/1.0, GET only).
// Secrets never enter either: both are built from the status document and log texts.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace cgwd::daemon {

class EventLog {
  public:
    explicit EventLog(std::size_t capacity = 1000) : capacity_(capacity) {}
    // Appends one event; `subject` is a tunnel key, "dx:<name>", "daemon", ...
    void add(std::string subject, std::string text);
    // Events numbered above `since` (oldest first), and the newest number.
    [[nodiscard]] nlohmann::json since(std::uint64_t since) const;
    std::uint64_t last() const { return next_ - 1; }

  private:
    struct Event {
        std::uint64_t seq;
        std::int64_t unix_ms;
        std::string subject, text;
    };
    std::size_t capacity_;
    std::deque<Event> events_;
    std::uint64_t next_ = 1;
};

// Counters the status document does not hold.
struct MetricCounters {
    std::uint64_t route_changes = 0;  // installed next-hop sets that changed (failovers)
    std::uint64_t events = 0;
    std::uint64_t fib_errors = 0;   // route changes the kernel refused
    std::uint64_t fib_resyncs = 0;  // route batches re-read after lost acknowledgements
};

[[nodiscard]] std::string prometheus_text(const nlohmann::json& status, const MetricCounters& c);

// Serves GET /metrics on `listen` ("address:port"); anything else gets 404. Throws
// std::runtime_error naming the address when it cannot listen. A request is at most 8 kB;
// at most kMaxConnections are open at once (one more gets 503 and is closed), and a
// connection is closed `timeout` (10 s) after it was accepted, answered or not.
class MetricsServer {
  public:
    static constexpr std::size_t kMaxConnections = 16;
    using Source = std::function<std::string()>;
    MetricsServer(boost::asio::io_context& io, const std::string& listen, Source source,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~MetricsServer();
    std::uint16_t port() const;

  private:
    void accept();
    boost::asio::ip::tcp::acceptor acceptor_;
    Source source_;
    std::chrono::milliseconds timeout_;
    std::shared_ptr<std::size_t> live_ = std::make_shared<std::size_t>(0);  // open connections
};

}  // namespace cgwd::daemon
