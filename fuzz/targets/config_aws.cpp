// Fuzz target: the AWS configuration importer (format detection, XML, JSON and Generic
// text parsers, validation) on arbitrary bytes. Any input must give either connections that
// satisfy the model's invariants or an error that names the file; never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cgwd/config/aws_import.hpp"
#include "targets.hpp"

int cgwd::fuzz::fuzz_config_aws(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = cgwd::config::import_aws(text, "fuzz");
    if (!r) {
        if (r.error().file != "fuzz" || r.error().message.empty()) std::abort();
        return 0;
    }
    for (const auto& c : *r) {
        for (const auto& t : c.tunnels) {
            // What validation promises: /30 roles, proposals present, PSK within AWS's rules.
            if (t.inside_cidr.length != 30 ||
                t.aws_inside.value != t.inside_cidr.address.value + 1 ||
                t.cgw_inside.value != t.inside_cidr.address.value + 2 || t.ike_proposals.empty() ||
                t.esp_proposals.empty() || t.psk.size() < 8 || t.psk.size() > 64)
                std::abort();
        }
    }
    return 0;
}
