// TCP MSS clamping per tunnel interface with nftables, in a table the daemon owns (`inet cgwd`),
// run through libnftables (the library behind the nft tool, Debian libnftables1).
//
// The clamps live in memory (interface name -> MSS); every change rewrites the whole table in
// one nft transaction (create-if-missing, delete, re-create), so the kernel never sees a half
// table and no rule handles are tracked. Rules, for each clamped interface X with MSS M, match
// TCP SYN and SYN-ACK (flags syn set, rst clear) whose MSS option is above M and set it to M
// (RFC 879 / RFC 6691: MSS = path MTU - 40 for IPv4):
//   forward (priority mangle): iifname X ..., oifname X ...  (traffic routed through us)
//   output  (priority mangle): oifname X ...                  (our own connections out)
//   input   (priority mangle): iifname X ...                  (peers' SYNs to us)
// "above M" makes the smallest clamp win when a packet crosses two clamped interfaces.
//
// Interface clamps (set_interface_clamp) are the same rules on any interface by name, kept in a
// second map and marked `comment "cgwd interface"` in the table: the daemon clamps flows on a
// Direct Connect VLAN to the VPN's MSS (e.g. 1379) so they survive a DX -> VPN failover. They
// come after the tunnel rules in each chain. Both kinds share the one table and transaction.
//
// Standalone use: an NftMssClamp needs no KernelDataplane (the userspace-mode daemon owns one
// directly; KernelDataplane owns its own). One instance per process: each rewrites the whole
// table. The destructor leaves the table in place; remove_table() deletes it.
// The ruleset text is built by ruleset() without I/O (unit-tested); apply() runs it.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "cgwd/dataplane/error.hpp"

struct nft_ctx;

namespace cgwd::dataplane {

inline constexpr std::string_view nft_family = "inet";
inline constexpr std::string_view nft_table = "cgwd";

class NftMssClamp {
  public:
    NftMssClamp();
    ~NftMssClamp();
    NftMssClamp(const NftMssClamp&) = delete;
    NftMssClamp& operator=(const NftMssClamp&) = delete;

    // Clamp on `interface` to `mss` (0: remove the clamp). The table is rewritten at once; on
    // failure the previous clamps stay in force and in memory.
    [[nodiscard]] std::expected<void, Error> set(const std::string& interface, std::uint16_t mss);
    // Deletes the table (and forgets every clamp). Missing table: fine.
    [[nodiscard]] std::expected<void, Error> remove_table();
    // Clamp on any interface `ifname` (a Direct Connect VLAN, a TUN device) to `mss` (0: remove
    // it); same all-or-nothing rewrite as set().
    [[nodiscard]] std::expected<void, Error> set_interface_clamp(std::string ifname,
                                                                 std::uint16_t mss);
    const std::map<std::string, std::uint16_t>& clamps() const { return clamps_; }
    const std::map<std::string, std::uint16_t>& interface_clamps() const {
        return interface_clamps_;
    }
    bool empty() const { return clamps_.empty() && interface_clamps_.empty(); }

    // The nft script for a set of clamps (also used with an empty set: table with no rules).
    static std::string ruleset(const std::map<std::string, std::uint16_t>& clamps);
    // Same, with interface clamps too.
    static std::string ruleset(const std::map<std::string, std::uint16_t>& clamps,
                               const std::map<std::string, std::uint16_t>& interface_clamps);
    // Runs an nft script in one transaction; the error carries nft's message.
    [[nodiscard]] std::expected<void, Error> run(const std::string& script);

  private:
    using Clamps = std::map<std::string, std::uint16_t>;
    [[nodiscard]] std::expected<void, Error> change(Clamps& which, const std::string& interface,
                                                    std::uint16_t mss);
    nft_ctx* ctx_ = nullptr;
    Clamps clamps_;
    Clamps interface_clamps_;
};

}  // namespace cgwd::dataplane
