// Import of the VPN configuration files AWS hands out, in the three formats a user can get:
//   1. the CustomerGatewayConfiguration XML,
//   2. the whole `aws ec2 describe-vpn-connections` JSON (XML inside; TunnelOptions override it),
//   3. the "Generic / Vendor Agnostic" text download (old and new layouts).
// The format is detected from the content. Every format yields the same validated model; any
// error rejects the whole file (nothing partial is returned).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/config/error.hpp"
#include "cgwd/config/model.hpp"

namespace cgwd::config {

enum class AwsFormat { xml, json, generic_text, unknown };
const char* to_string(AwsFormat);

AwsFormat detect_aws_format(std::string_view content);

// `file` is used in error messages and in each connection's origin.
[[nodiscard]] std::expected<std::vector<Connection>, ConfigError> import_aws(
    std::string_view content, const std::string& file);

// Reads and imports a file. Does not check permissions (see load_daemon_config for that).
[[nodiscard]] std::expected<std::vector<Connection>, ConfigError> import_aws_file(
    const std::string& path);

}  // namespace cgwd::config
