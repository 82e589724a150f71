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

std::string rule(std::string_view match, const std::string& name, std::uint16_t mss) {
    const std::string m = std::to_string(mss);
    return "    " + std::string(match) + " \"" + name +
           "\" tcp flags & (syn | rst) == syn tcp option maxseg size > " + m +
           " tcp option maxseg size set " + m + "\n";
}

std::string chain(std::string_view hook, const std::map<std::string, std::uint16_t>& clamps,
                  bool in, bool out) {
    std::string s = "  chain " + std::string(hook) + " {\n    type filter hook " +
                    std::string(hook) + " priority mangle; policy accept;\n";
    for (const auto& [name, mss] : clamps) {
        if (in) s += rule("iifname", name, mss);
        if (out) s += rule("oifname", name, mss);
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
    const std::string table = std::string(nft_family) + " " + std::string(nft_table);
    // "add" of an existing table is a no-op, so the delete never fails on a missing table.
    std::string s = "add table " + table + "\ndelete table " + table + "\n";
    if (clamps.empty()) return s;
    s += "table " + table + " {\n";
    s += chain("forward", clamps, true, true);
    s += chain("output", clamps, false, true);
    s += chain("input", clamps, true, false);
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

std::expected<void, Error> NftMssClamp::set(const std::string& interface, std::uint16_t mss) {
    if (!safe_name(interface))
        return std::unexpected(Error{Errc::invalid_argument, "bad interface name", 0});
    if (mss != 0 && mss < 88)
        return std::unexpected(Error{Errc::invalid_argument, "MSS below 88", 0});
    auto next = clamps_;
    if (mss == 0) {
        next.erase(interface);
    } else {
        next[interface] = mss;
    }
    if (next == clamps_ && mss == 0) return {};
    if (auto r = run(ruleset(next)); !r) return r;
    clamps_ = std::move(next);
    return {};
}

std::expected<void, Error> NftMssClamp::remove_table() {
    if (auto r = run(ruleset({})); !r) return r;
    clamps_.clear();
    return {};
}

}  // namespace cgwd::dataplane
