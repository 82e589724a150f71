// cgwd: the customer-gateway daemon. This build validates configuration (--check-config); the
// run loop (IKE, dataplane, BGP wiring) lands with the daemon issue.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/version.hpp"

int main(int argc, char** argv) {
    CLI::App app{"cgwd - customer gateway daemon for AWS Site-to-Site VPN and Direct Connect"};
    app.set_version_flag("-V,--version", std::string("cgwd ") + cgwd::daemon::version());
    std::string check;
    app.add_option("--check-config", check,
                   "Validate a TOML settings file and the AWS files it names, print a summary "
                   "(keys redacted) and exit: 0 when valid, 1 with the error otherwise")
        ->type_name("FILE");
    bool reference = false;
    app.add_flag("--config-reference", reference,
                 "Print the reference of every TOML key (Markdown) and exit");
    app.footer(
        "The TOML keys are described in cgwd.toml(5). Running the daemon itself is not available "
        "in this build yet: only --check-config.");
    CLI11_PARSE(app, argc, argv);

    if (reference) {
        std::string table;
        for (const auto& d : cgwd::config::option_docs()) {
            if (d.table != table) {
                table = d.table;
                bool array = table == "vpn" || table == "direct_connect";
                std::cout << "\n### " << (array ? "[[" : "[") << table << (array ? "]]" : "]")
                          << "\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
            }
            std::cout << "| `" << d.key << "` | " << d.type << " | `" << d.default_value << "` | "
                      << d.doc << " |\n";
        }
        return 0;
    }
    if (check.empty()) {
        std::cerr << "cgwd: nothing to do: this build only validates configuration; use "
                     "--check-config FILE\n";
        return 2;
    }
    auto cfg = cgwd::config::load_daemon_config(check);
    if (!cfg) {
        std::cerr << "cgwd: " << cfg.error().to_string() << "\n";
        return 1;
    }
    std::cout << cgwd::config::config_summary(*cfg);
    return 0;
}
