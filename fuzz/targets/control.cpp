// Fuzz target: the control channel (daemon/control.hpp): frame reassembly (FrameReader), the
// JSON request parser and dispatcher (CommandRegistry::handle), and the daemon's own command
// handlers behind it (status, version, events, reload, rekey, reset, log-level, list-commands),
// on a Daemon built from a fixed configuration (config/tests/fixtures/vgw-bgp.xml) without
// engines or sockets. Its configuration path does not exist, so "reload" is always refused.
//
// Input: byte 0 picks the chunk size (1..256) the rest is fed to the FrameReader in; each
// complete frame is a request. The rest of the input is also handed to handle() as one request
// body directly (no framing).
// Checks, aborting on any violation:
//   - every response is a JSON object {"result": 0|1|2, "text": string, "arguments": object};
//   - a frame error (empty or oversized frame) ends the connection, as the server does;
//   - encode_frame(body) read back through a FrameReader gives the same body.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/control.hpp"
#include "cgwd/daemon/daemon.hpp"
#include "cgwd/daemon/logging.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd;
using nlohmann::json;

void check(bool condition) {
    if (!condition) std::abort();
}

const config::DaemonConfig& fixed_config() {
    static const config::DaemonConfig cfg = [] {
        auto c = config::parse_daemon_config(
            "[daemon]\ncontrol_socket = \"/nonexistent-cgwd-fuzz/cgwd.sock\"\n"
            "[[vpn]]\nname = \"fuzz\"\naws_file = \"vgw-bgp.xml\"\n",
            "fuzz.toml", CGWD_FUZZ_FIXTURES, config::LoadOptions{.check_permissions = false});
        if (!c) std::abort();  // the fixture moved: fix CGWD_FUZZ_FIXTURES
        return *c;
    }();
    return cfg;
}

void check_response(const std::string& text) {
    const json r = json::parse(text, nullptr, /*allow_exceptions=*/false);
    check(r.is_object() && r.size() == 3);
    check(r.contains("result") && r["result"].is_number_integer());
    const auto code = r["result"].get<int>();
    check(code >= 0 && code <= 2);
    check(r.contains("text") && r["text"].is_string());
    check(r.contains("arguments") && r["arguments"].is_object());
}

}  // namespace

int cgwd::fuzz::fuzz_control(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    (void)daemon::set_log_level("all", "off");  // the log-level command may turn them on
    boost::asio::io_context io;
    daemon::DaemonOptions options;
    options.engines = false;
    daemon::Daemon d(io, "/nonexistent-cgwd-fuzz/cgwd.toml", fixed_config(), std::move(options));
    const auto& commands = d.commands();

    const std::size_t chunk = std::size_t{data[0]} + 1;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    daemon::FrameReader reader;
    for (std::size_t off = 0; off < input.size(); off += chunk) {
        auto frames = reader.feed(input.substr(off, chunk));
        if (!frames) break;  // the server closes the connection
        for (const auto& f : *frames) {
            check(!f.empty() && f.size() <= daemon::kMaxRequest);
            check_response(commands.handle(f));
        }
    }
    check_response(commands.handle(input));

    if (!input.empty() && input.size() <= daemon::kMaxRequest) {
        daemon::FrameReader again;
        auto frames = again.feed(daemon::encode_frame(input));
        check(frames && frames->size() == 1 && frames->front() == input);
    }
    return 0;
}
