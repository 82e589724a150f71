// cgwd: the customer-gateway daemon. `--check-config FILE` validates and exits; otherwise it
// loads FILE (default /etc/cgwd/cgwd.toml) through the same validation and runs.
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/capabilities.hpp"
#include "cgwd/daemon/daemon.hpp"
#include "cgwd/daemon/logging.hpp"
#include "cgwd/daemon/version.hpp"

namespace {

// cgwd.toml(5) in roff, from the same table.
void print_man() {
    std::cout << ".TH CGWD.TOML 5 \"\" \"cgwd " << cgwd::daemon::version()
              << "\" \"File Formats\"\n"
              << ".SH NAME\ncgwd.toml \\- settings of the cgwd customer gateway daemon\n"
              << ".SH DESCRIPTION\nA TOML file that names the AWS VPN configuration files (XML, "
                 "describe-vpn-connections JSON or Generic text) and holds the local settings AWS "
                 "does not "
                 "know. Unknown keys are errors reported as file:line:column. Files holding keys "
                 "(the AWS "
                 "files, key files, and this file when it has a key inline) must have mode 0600. "
                 "Validate "
                 "with \\fBcgwd \\-\\-check\\-config\\fR \\fIFILE\\fR.\n";
    std::string table;
    for (const auto& d : cgwd::config::option_docs()) {
        if (d.table != table) {
            table = d.table;
            bool array = table == "vpn" || table == "direct_connect";
            std::cout << ".SH " << (array ? "[[" : "[") << table << (array ? "]]" : "]") << "\n";
        }
        std::cout << ".TP\n.B " << d.key << "\n(" << d.type << ", default " << d.default_value
                  << ")\n"
                  << d.doc << "\n";
    }
    std::cout << ".SH SEE ALSO\n.BR cgwd (8),\n.BR cgwctl (8)\n";
}

void print_reference() {
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
}

}  // namespace

int main(int argc, char** argv) {
    // Before any key is read: no core dump may hold a PSK, an MD5 key or keying material.
    if (auto r = cgwd::daemon::keep_secrets_out_of_core_dumps(); !r) {
        std::cerr << "cgwd: " << r.error() << "\n";
        return 1;
    }
    CLI::App app{"cgwd - customer gateway daemon for AWS Site-to-Site VPN and Direct Connect"};
    app.set_version_flag("-V,--version", std::string("cgwd ") + cgwd::daemon::version());
    std::string check, config_path = "/etc/cgwd/cgwd.toml";
    app.add_option("--check-config", check,
                   "Validate a TOML settings file and the AWS files it names, print a summary "
                   "(keys redacted) and exit: 0 when valid, 1 with the error otherwise")
        ->type_name("FILE");
    app.add_option("-c,--config", config_path, "Settings file to run with")->capture_default_str();
    bool reference = false, man = false;
    app.add_flag("--config-man", man,
                 "Print cgwd.toml(5), the manual page of the TOML keys, and exit");
    app.add_flag("--config-reference", reference,
                 "Print the reference of every TOML key (Markdown) and exit");
    app.footer(
        "Signals: SIGHUP reloads the configuration (a bad file changes nothing), SIGTERM stops.\n"
        "The TOML keys are described in cgwd.toml(5). cgwd brings up both tunnels of every VPN\n"
        "connection in the AWS files (IKEv2, ESP in the kernel or in userspace), runs BGP over\n"
        "them and over Direct Connect (MD5, BFD), installs the routes, and serves status on the\n"
        "control socket (cgwctl). After start-up it keeps only CAP_NET_ADMIN, CAP_NET_RAW and\n"
        "CAP_NET_BIND_SERVICE.");
    CLI11_PARSE(app, argc, argv);

    if (man) {
        print_man();
        return 0;
    }
    if (reference) {
        print_reference();
        return 0;
    }
    if (!check.empty()) {
        auto cfg = cgwd::config::load_daemon_config(check);
        if (!cfg) {
            std::cerr << "cgwd: " << cfg.error().to_string() << "\n";
            return 1;
        }
        std::cout << cgwd::config::config_summary(*cfg);
        return 0;
    }

    auto cfg = cgwd::config::load_daemon_config(config_path);
    if (!cfg) {
        std::cerr << "cgwd: " << cfg.error().to_string() << "\n";
        return 1;
    }
    cgwd::daemon::init_logging(cfg->log_level);
    try {
        boost::asio::io_context io;
        cgwd::daemon::DaemonOptions options;
        options.drop_capabilities = true;
        cgwd::daemon::Daemon daemon(io, config_path, std::move(*cfg), options);
        daemon.start();
        io.run();
    } catch (const std::exception& e) {
        cgwd::daemon::logger("daemon")->critical("{}", e.what());
        return 1;
    }
    cgwd::daemon::logger("daemon")->info("stopped");
    return 0;
}
