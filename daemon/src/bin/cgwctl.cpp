// cgwctl: the operator's tool. `import` turns an AWS file into a starter TOML; the commands that
// talk to a running cgwd over the control socket land with the daemon issue.
#include <sys/stat.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "cgwd/config/aws_import.hpp"
#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/version.hpp"

namespace {

// "vpn-0a1b2c3d4e5f60718" -> "vpn-f60718": short enough for interface names.
std::string default_name(const std::string& id) {
    std::string tail = id.size() > 6 ? id.substr(id.size() - 6) : id;
    return "vpn-" + tail;
}

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 10 || s.front() == '-') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

int import_command(const std::string& file, std::string name) {
    auto conns = cgwd::config::import_aws_file(file);
    if (!conns) {
        std::cerr << "cgwctl: " << conns.error().to_string() << "\n";
        return 1;
    }
    if (name.empty()) name = default_name(conns->front().id);
    if (!valid_name(name)) {
        std::cerr << "cgwctl: --name '" << name
                  << "' must be 1-10 characters of a-z, 0-9 and '-'\n";
        return 1;
    }
    auto absolute = std::filesystem::absolute(file).lexically_normal().string();
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
        std::cerr << "cgwctl: warning: " << file
                  << " holds pre-shared keys and is accessible by group or "
                  << "others; cgwd refuses it until you run: chmod 600 " << absolute << "\n";
    std::cout << cgwd::config::starter_toml(absolute, name, *conns);
    std::cerr << "cgwctl: " << file << ": " << conns->size() << " connection(s) imported\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cgwctl - control and inspect cgwd"};
    app.set_version_flag("-V,--version", std::string("cgwctl ") + cgwd::daemon::version());
    app.require_subcommand(1);

    std::string file, name;
    auto* import = app.add_subcommand(
        "import",
        "Validate an AWS VPN configuration file (XML, describe-vpn-connections JSON or "
        "Generic text) and write a starter cgwd.toml for it to standard output");
    import->add_option("AWS-FILE", file, "The file downloaded from AWS")->required();
    import->add_option("--name", name, "Short name for the connection (1-10 of a-z 0-9 -)");

    CLI11_PARSE(app, argc, argv);
    if (import->parsed()) return import_command(file, name);
    return 2;
}
