#include "cgwd/dataplane/nft_mss.hpp"

#include <net/if.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace cgwd::dataplane {

namespace {

// Interface names go into the script between quotes: allow only what Linux names use.
bool safe_name(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

constexpr std::string_view interface_comment = " comment \"cgwd interface\"";
// An interface clamp (Direct Connect) is there for the flows that may fail over to a VPN
// tunnel, and those are IPv4 only: IPv6 on the interface keeps its own MSS.
constexpr std::string_view interface_family = " meta nfproto ipv4";

std::string rule(std::string_view match, const std::string& name, std::uint16_t mss,
                 std::string_view family, std::string_view suffix) {
    const std::string m = std::to_string(mss);
    return "    " + std::string(match) + " \"" + name + "\"" + std::string(family) +
           " tcp flags & (syn | rst) == syn tcp option maxseg size > " + m +
           " tcp option maxseg size set " + m + std::string(suffix) + "\n";
}

std::string chain(std::string_view hook, const std::map<std::string, std::uint16_t>& clamps,
                  const std::map<std::string, std::uint16_t>& interface_clamps, bool in, bool out) {
    std::string s = "  chain " + std::string(hook) + " {\n    type filter hook " +
                    std::string(hook) + " priority mangle; policy accept;\n";
    for (const auto& [name, mss] : clamps) {
        if (in) s += rule("iifname", name, mss, "", "");
        if (out) s += rule("oifname", name, mss, "", "");
    }
    for (const auto& [name, mss] : interface_clamps) {
        if (in) s += rule("iifname", name, mss, interface_family, interface_comment);
        if (out) s += rule("oifname", name, mss, interface_family, interface_comment);
    }
    return s + "  }\n";
}

}  // namespace

NftMssClamp::NftMssClamp() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_ != nullptr) {
        (void)nft_ctx_buffer_output(ctx_);
        (void)nft_ctx_buffer_error(ctx_);
    }
}

NftMssClamp::~NftMssClamp() {
    if (ctx_ != nullptr) nft_ctx_free(ctx_);
}

std::string NftMssClamp::ruleset(const std::map<std::string, std::uint16_t>& clamps) {
    return ruleset(clamps, {});
}

std::string NftMssClamp::ruleset(const std::map<std::string, std::uint16_t>& clamps,
                                 const std::map<std::string, std::uint16_t>& interface_clamps) {
    const std::string table = std::string(nft_family) + " " + std::string(nft_table);
    // "add" of an existing table is a no-op, so the delete never fails on a missing table.
    std::string s = "add table " + table + "\ndelete table " + table + "\n";
    if (clamps.empty() && interface_clamps.empty()) return s;
    s += "table " + table + " {\n";
    s += chain("forward", clamps, interface_clamps, true, true);
    s += chain("output", clamps, interface_clamps, false, true);
    s += chain("input", clamps, interface_clamps, true, false);
    s += "}\n";
    return s;
}

std::expected<void, Error> NftMssClamp::run(const std::string& script) {
    if (ctx_ == nullptr) return std::unexpected(Error{Errc::system, "libnftables: no context", 0});
    const int r = nft_run_cmd_from_buffer(ctx_, script.c_str());
    const char* err = nft_ctx_get_error_buffer(ctx_);
    std::string message = err != nullptr ? err : "";
    (void)nft_ctx_get_output_buffer(ctx_);  // drop whatever was printed
    if (r != 0) {
        while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
            message.pop_back();
        return std::unexpected(Error{Errc::system, "nft: " + message, 0});
    }
    return {};
}

std::expected<void, Error> NftMssClamp::change(Clamps& which, const std::string& interface,
                                               std::uint16_t mss) {
    if (!safe_name(interface))
        return std::unexpected(Error{Errc::invalid_argument, "bad interface name", 0});
    if (mss != 0 && mss < 88)
        return std::unexpected(Error{Errc::invalid_argument, "MSS below 88", 0});
    auto next = which;
    if (mss == 0) {
        next.erase(interface);
    } else {
        next[interface] = mss;
    }
    if (next == which && mss == 0) return {};
    const bool tunnels = &which == &clamps_;
    const std::string script = tunnels ? ruleset(next, interface_clamps_) : ruleset(clamps_, next);
    if (auto r = run(script); !r) return r;
    which = std::move(next);
    return {};
}

std::expected<void, Error> NftMssClamp::set(const std::string& interface, std::uint16_t mss) {
    return change(clamps_, interface, mss);
}

std::expected<void, Error> NftMssClamp::set_interface_clamp(std::string ifname, std::uint16_t mss) {
    return change(interface_clamps_, ifname, mss);
}

std::expected<void, Error> NftMssClamp::remove_table() {
    if (auto r = run(ruleset({}, {})); !r) return r;
    clamps_.clear();
    interface_clamps_.clear();
    return {};
}

}  // namespace cgwd::dataplane
