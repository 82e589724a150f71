#include "cgwd/daemon/daemon.hpp"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <set>

#include "cgwd/daemon/logging.hpp"
#include "cgwd/daemon/version.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using nlohmann::json;

// The unix-socket transport of the control channel: frames in, frames out, one request at a
// time per connection; a bad frame closes the connection.
class ControlServer {
  public:
    ControlServer(asio::io_context& io, std::string path, const CommandRegistry& commands)
        : path_(std::move(path)), acceptor_(io), commands_(commands) {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
        ::unlink(path_.c_str());  // a leftover of a killed run
        boost::system::error_code bec;
        acceptor_.open(local(), bec);
        if (!bec) acceptor_.bind(local::endpoint(path_), bec);
        if (!bec) acceptor_.listen(16, bec);
        if (bec) throw std::runtime_error("control socket " + path_ + ": " + bec.message());
        ::chmod(path_.c_str(), 0660);
        accept();
    }
    ~ControlServer() { close(); }

    void close() {
        if (acceptor_.is_open()) {
            boost::system::error_code ec;
            acceptor_.close(ec);
            ::unlink(path_.c_str());
        }
    }

  private:
    struct Session : std::enable_shared_from_this<Session> {
        Session(local::socket s, const CommandRegistry& c) : socket(std::move(s)), commands(c) {}
        void read() {
            auto self = shared_from_this();
            socket.async_read_some(
                asio::buffer(buf), [self](boost::system::error_code ec, std::size_t n) {
                    if (ec) return;
                    auto frames = self->reader.feed(std::string_view(self->buf.data(), n));
                    if (!frames) {
                        // Too large or empty: answer once, then close.
                        json err{{"result", 1},
                                 {"text", frames.error() == FrameError::too_large
                                              ? "request larger than 64 KiB"
                                              : "empty request"},
                                 {"arguments", json::object()}};
                        self->out = encode_frame(err.dump());
                        asio::async_write(self->socket, asio::buffer(self->out),
                                          [self](boost::system::error_code, std::size_t) {});
                        return;
                    }
                    self->out.clear();
                    for (const auto& f : *frames)
                        self->out += encode_frame(self->commands.handle(f));
                    if (self->out.empty()) return self->read();
                    asio::async_write(self->socket, asio::buffer(self->out),
                                      [self](boost::system::error_code wec, std::size_t) {
                                          if (!wec) self->read();
                                      });
                });
        }
        local::socket socket;
        const CommandRegistry& commands;
        FrameReader reader;
        std::array<char, 4096> buf{};
        std::string out;
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, local::socket s) {
            if (ec) return;
            std::make_shared<Session>(std::move(s), commands_)->read();
            accept();
        });
    }

    std::string path_;
    local::acceptor acceptor_;
    const CommandRegistry& commands_;
};

namespace {
// What a tunnel reports until the IKE engine drives it.
TunnelRuntime not_started() {
    return TunnelRuntime{"down", "not started: the IKE engine is not wired into the daemon yet"};
}
}  // namespace

std::string ReloadPlan::summary() const {
    return "reloaded: " + std::to_string(unchanged.size()) + " unchanged, " +
           std::to_string(changed.size()) + " changed, " + std::to_string(added.size()) +
           " added, " + std::to_string(removed.size()) + " removed";
}

ReloadPlan plan_reload(const config::DaemonConfig& old_cfg, const config::DaemonConfig& new_cfg) {
    std::map<std::string, const config::Connection*> before, after;
    for (const auto& v : old_cfg.vpns)
        for (const auto& c : v.connections) before[c.id] = &c;
    for (const auto& v : new_cfg.vpns)
        for (const auto& c : v.connections) after[c.id] = &c;
    ReloadPlan p;
    for (const auto& [id, c] : after) {
        auto it = before.find(id);
        if (it == before.end())
            p.added.push_back(id);
        else if (*it->second == *c)
            p.unchanged.push_back(id);
        else
            p.changed.push_back(id);
    }
    for (const auto& [id, c] : before)
        if (!after.count(id)) p.removed.push_back(id);
    return p;
}

Daemon::Daemon(asio::io_context& io, std::string config_path, config::DaemonConfig cfg)
    : io_(io),
      config_path_(std::move(config_path)),
      cfg_(std::move(cfg)),
      signals_(io),
      watchdog_(io) {
    for (const auto& v : cfg_.vpns)
        for (const auto& c : v.connections)
            for (const auto& t : c.tunnels)
                tunnels_[c.id + "/" + std::to_string(t.number)] = not_started();
    register_commands();
}

Daemon::~Daemon() = default;

json Daemon::status() const {
    return status_json(cfg_, tunnels_, config::to_string(cfg_.dataplane));
}

void Daemon::register_commands() {
    commands_.add("status", "Connections, tunnels, BGP and Direct Connect state.",
                  [this](const json&) {
                      return Response{ResultCode::success, "status", status()};
                  });
    commands_.add("version", "The daemon's version.", [](const json&) {
        return Response{ResultCode::success, version(), json{{"version", version()}}};
    });
    commands_.add("reload", "Re-read the configuration; a bad file changes nothing.",
                  [this](const json&) { return reload(); });
    commands_.add("log-level", "Set a component's log level: {\"component\": C, \"level\": L}.",
                  [](const json& a) {
                      auto c = a.value("component", std::string());
                      auto l = a.value("level", std::string());
                      if (!set_log_level(c, l))
                          return Response{
                              ResultCode::error,
                              "unknown component or level (components: all, daemon, config, ike, "
                              "dataplane, bgp; levels: trace, debug, info, warn, error)",
                              json::object()};
                      logger("daemon")->info("log level of {} set to {}", c, l);
                      return Response{ResultCode::success, c + " logs at " + l, json::object()};
                  });
}

Response Daemon::reload() {
    auto fresh = config::load_daemon_config(config_path_);
    if (!fresh) {
        logger("config")->error("reload refused, running configuration kept: {}",
                                fresh.error().to_string());
        return {ResultCode::error, "reload refused, nothing changed: " + fresh.error().to_string(),
                json::object()};
    }
    auto plan = plan_reload(cfg_, *fresh);
    std::set<std::string> keep(plan.unchanged.begin(), plan.unchanged.end());
    std::map<std::string, TunnelRuntime> next;
    for (const auto& v : fresh->vpns)
        for (const auto& c : v.connections)
            for (const auto& t : c.tunnels) {
                auto key = c.id + "/" + std::to_string(t.number);
                next[key] = keep.count(c.id) ? tunnels_[key] : not_started();
            }
    cfg_ = std::move(*fresh);
    tunnels_ = std::move(next);
    set_log_level("all", cfg_.log_level);
    logger("config")->info("{}", plan.summary());
    notify_status();
    json args{{"unchanged", plan.unchanged},
              {"changed", plan.changed},
              {"added", plan.added},
              {"removed", plan.removed}};
    return {ResultCode::success, plan.summary(), args};
}

void Daemon::notify_status() {
    auto s = status();
    std::string line = "STATUS=" + std::to_string(s["tunnels_up"].get<int>()) + "/" +
                       std::to_string(s["tunnels_total"].get<int>()) + " tunnels up";
    sd_notify(0, line.c_str());
}

void Daemon::start() {
    control_ = std::make_unique<ControlServer>(io_, cfg_.control_socket, commands_);
    logger("daemon")->info("cgwd {} listening on {}", version(), cfg_.control_socket);
    signals_.add(SIGHUP);
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    wait_signal();
    notify_status();
    sd_notify(0, "READY=1");
    if (sd_watchdog_enabled(0, &watchdog_usec_) > 0 && watchdog_usec_ > 0) arm_watchdog();
}

void Daemon::wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            sd_notify(0, "RELOADING=1");
            auto r = reload();
            logger("daemon")->info("SIGHUP: {}", r.text);
            sd_notify(0, "READY=1");
            wait_signal();
            return;
        }
        logger("daemon")->info("signal {}: stopping", sig);
        stop();
    });
}

void Daemon::arm_watchdog() {
    watchdog_.expires_after(std::chrono::microseconds(watchdog_usec_ / 2));
    watchdog_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        sd_notify(0, "WATCHDOG=1");  // sent from the loop: a stuck loop stops the pings
        arm_watchdog();
    });
}

void Daemon::stop() {
    sd_notify(0, "STOPPING=1");
    if (control_) control_->close();
    boost::system::error_code ec;
    signals_.cancel(ec);
    watchdog_.cancel();
    io_.stop();
}

}  // namespace cgwd::daemon
