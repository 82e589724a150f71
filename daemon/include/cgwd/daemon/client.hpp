// cgwctl's side of the control channel: one framed request over the unix socket, one response.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>

namespace cgwd::daemon {

// Sends {"command", "arguments"} and returns the decoded response, or a message saying why not
// (daemon not running, permission denied, bad response).
[[nodiscard]] std::expected<nlohmann::json, std::string> call(
    const std::string& socket_path, const std::string& command,
    const nlohmann::json& arguments = nlohmann::json::object());

}  // namespace cgwd::daemon
