#include "cgwd/config/error.hpp"

namespace cgwd::config {

std::string ConfigError::to_string() const {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (line > 0) {
        out += ':' + std::to_string(line);
        if (column > 0) out += ':' + std::to_string(column);
    }
    out += ": ";
    if (!where.empty()) out += where + ": ";
    out += message;
    return out;
}

}  // namespace cgwd::config
