// Fuzz target: the TOML settings loader (toml++ parse, unknown-key check, typed reads) on
// arbitrary bytes. AWS files it names are resolved under a folder that does not exist, so only
// the TOML code is exercised. Must never crash; errors must carry the file name.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cgwd/config/daemon_config.hpp"
#include "targets.hpp"

int cgwd::fuzz::fuzz_config_toml(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r =
        cgwd::config::parse_daemon_config(text, "fuzz.toml", "/nonexistent-cgwd-fuzz",
                                          cgwd::config::LoadOptions{.check_permissions = false});
    if (!r && r.error().file.empty()) std::abort();
    return 0;
}
