#include "cgwd/daemon/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>

namespace cgwd::daemon {
namespace {

// "%*" -> the syslog priority prefix journald understands: <7> debug ... <2> critical.
class PriorityFlag : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr const char* prio[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        const char* p = prio[static_cast<int>(msg.level)];
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<PriorityFlag>();
    }
};

}  // namespace

void init_logging(const std::string& level) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<PriorityFlag>('*').set_pattern("%*%n: %v");
    sink->set_formatter(std::move(formatter));
    for (const char* name : kComponents) {
        if (spdlog::get(name)) continue;
        auto l = std::make_shared<spdlog::logger>(name, sink);
        l->set_level(spdlog::level::from_str(level));
        spdlog::register_logger(l);
    }
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
    auto l = spdlog::get(component);
    if (!l) {
        init_logging("info");
        l = spdlog::get(component);
    }
    return l;
}

bool set_log_level(const std::string& component, const std::string& level) {
    static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (std::none_of(std::begin(levels), std::end(levels),
                     [&](const char* l) { return level == l; }))
        return false;
    auto lvl = spdlog::level::from_str(level);
    if (component == "all") {
        for (const char* name : kComponents) logger(name)->set_level(lvl);
        return true;
    }
    if (std::none_of(std::begin(kComponents), std::end(kComponents),
                     [&](const char* c) { return component == c; }))
        return false;
    logger(component)->set_level(lvl);
    return true;
}

}  // namespace cgwd::daemon
