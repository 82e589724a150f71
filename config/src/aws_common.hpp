// Internal: what the three AWS importers share — value parsers that know AWS's spellings,
// AWS's validation rules, and the expansion of algorithm sets into IKEv2 proposals.
// Every check takes a Loc so its error names where the value came from.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "cgwd/config/error.hpp"
#include "cgwd/config/model.hpp"

namespace cgwd::config::detail {

struct Loc {
    std::string file;
    int line = 0;
    std::string where;
};

[[noreturn]] void fail(const Loc& loc, const std::string& message);

std::string trim(std::string_view s);
std::string lower(std::string_view s);

// Reads a whole file of at most `limit` bytes (also for the settings loader). Reads no more
// than limit + 1 bytes, so a huge file, a FIFO or a device is refused without being buffered:
// "file is larger than <limit_text>".
std::expected<std::string, ConfigError> read_file_bounded(const std::string& path,
                                                          std::size_t limit,
                                                          const std::string& limit_text);

// Parsers that accept every spelling AWS uses in its three formats.
Ipv4Address parse_ipv4(std::string_view text, const Loc& loc);
std::uint32_t parse_uint(std::string_view text, const Loc& loc, std::string_view unit = {});
bool parse_flag(std::string_view text, const Loc& loc);      // true/false/enabled/disabled/yes/no
Cipher parse_cipher(std::string_view name, const Loc& loc);  // aes-128-cbc, AES128-GCM-16
std::uint16_t parse_integ(std::string_view name, const Loc& loc);  // sha1, hmac-sha1-96, SHA2-256
std::uint16_t parse_dh_group(std::string_view text, const Loc& loc);  // group2, Group 14, 2
DpdAction parse_dpd_action(std::string_view text, const Loc& loc);
StartupAction parse_startup_action(std::string_view text, const Loc& loc);

// True when the text is one of AWS's documentation placeholders (YOUR_UPLINK_ADDRESS, ...).
bool is_placeholder(std::string_view text);

// AWS's rules. Each throws ConfigException naming `loc`.
void check_psk(const Secret& psk, const Loc& loc);
void check_cgw_asn(std::uint64_t asn, const Loc& loc);
void check_aws_asn(std::uint64_t asn, const Loc& loc);
void check_inside_cidr(const Ipv4Prefix& cidr, const Loc& loc);
void check_phase1_dh(std::uint16_t group, const Loc& loc);
void check_phase2_dh(std::uint16_t group, const Loc& loc);
void check_range(std::uint64_t value, std::uint64_t lo, std::uint64_t hi, const Loc& loc,
                 const std::string& what);

// Sets inside_cidr and both inside addresses from the /30, checking the .1/.2 roles when the
// file also stated the addresses.
void set_inside_addresses(Tunnel& t, const Ipv4Prefix& cidr, const Loc& loc);
void check_inside_roles(const Tunnel& t, const Loc& loc);

// Checks that span both tunnels and fills the derived IKEv2 proposals. `loc` names the
// connection. Throws on the first problem.
void finish_connection(Connection& c, const Loc& loc);

// Expands an AWS algorithm set into IKEv2 proposals (AEAD and non-AEAD ciphers apart).
std::vector<Proposal> ike_proposals(const AlgorithmSet& set);
std::vector<Proposal> esp_proposals(const AlgorithmSet& set);

// Parses a CustomerGatewayConfiguration XML document. `base` locates the document: for a file
// it is the file itself; for XML inside JSON its `where` holds the JSON path and line numbers
// count inside the embedded string.
Connection parse_cgw_xml(std::string_view xml, const Loc& base);

// The two other formats; each returns validated connections (finish_connection applied).
std::vector<Connection> parse_aws_json(std::string_view text, const std::string& file);
std::vector<Connection> parse_aws_text(std::string_view text, const std::string& file);

}  // namespace cgwd::config::detail
