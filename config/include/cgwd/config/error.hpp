// Configuration errors: every message names the file and the line (and column, XML element or
// JSON path where that is what locates the value best).
#pragma once

#include <stdexcept>
#include <string>

namespace cgwd::config {

struct ConfigError {
    std::string file;
    int line = 0;       // 1-based, 0 when the format has no line for it (JSON values)
    int column = 0;     // 1-based, 0 when unknown
    std::string where;  // XML element path, JSON path or text label; may be empty
    std::string message;

    // "file:line:col: where: message" with the missing parts left out.
    std::string to_string() const;
};

// Thrown inside the parsers; the public entry points turn it into std::expected.
class ConfigException : public std::runtime_error {
  public:
    explicit ConfigException(ConfigError e)
        : std::runtime_error(e.to_string()), error(std::move(e)) {}
    ConfigError error;
};

}  // namespace cgwd::config
