// One spdlog logger per component ("daemon", "config", "ike", "dataplane", "bgp"), all writing
// to stderr in a journald-friendly form: "<priority>component: message", where <priority> is
// the syslog level journald reads (sd-daemon(3)). Levels change at run time by name.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace cgwd::daemon {

inline constexpr const char* kComponents[] = {"daemon", "config", "ike", "dataplane", "bgp"};

// Creates the loggers once; `level` is trace/debug/info/warn/error.
void init_logging(const std::string& level);
std::shared_ptr<spdlog::logger> logger(const std::string& component);
// Sets one component's level ("all" sets every one). False when the component or level is unknown.
bool set_log_level(const std::string& component, const std::string& level);

}  // namespace cgwd::daemon
