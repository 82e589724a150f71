// AWS value spellings, AWS's validation rules (see docs/aws-facts in the design notes:
// PSK, ASN, inside CIDR, lifetimes, DH groups) and proposal expansion.
#include "aws_common.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>

namespace cgwd::config::detail {

void fail(const Loc& loc, const std::string& message) {
    throw ConfigException(ConfigError{loc.file, loc.line, 0, loc.where, message});
}

std::expected<std::string, ConfigError> read_file_bounded(const std::string& path,
                                                          std::size_t limit,
                                                          const std::string& limit_text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::unexpected(ConfigError{path, 0, 0, "", "cannot open the file"});
    std::string text(limit + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > limit)
        return std::unexpected(ConfigError{path, 0, 0, "", "file is larger than " + limit_text});
    return text;
}

std::string trim(std::string_view s) {
    auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && is_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && is_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

namespace {

// "Group 2", "group2", "Diffie-Hellman Group 2", "2" -> "2"; "28800 seconds" -> "28800".
std::string_view strip_unit(std::string_view text, std::string_view unit) {
    if (unit.empty()) return text;
    if (text.size() >= unit.size()) {
        auto tail = text.substr(text.size() - unit.size());
        bool same =
            std::equal(tail.begin(), tail.end(), unit.begin(), unit.end(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            });
        if (same) text.remove_suffix(unit.size());
    }
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    return text;
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

}  // namespace

bool is_placeholder(std::string_view text) {
    auto t = trim(text);
    if (t.size() < 4 || t.rfind("YOUR_", 0) != 0) return false;
    return std::all_of(t.begin(), t.end(),
                       [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

Ipv4Address parse_ipv4(std::string_view text, const Loc& loc) {
    auto t = trim(text);
    auto a = Ipv4Address::parse(t);
    if (!a) fail(loc, "not an IPv4 address: " + quoted(t));
    return *a;
}

std::uint32_t parse_uint(std::string_view text, const Loc& loc, std::string_view unit) {
    auto t = trim(text);
    auto digits = strip_unit(t, unit);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size() ||
        v > 0xffffffffULL)
        fail(loc, "not a number: " + quoted(t));
    return static_cast<std::uint32_t>(v);
}

bool parse_flag(std::string_view text, const Loc& loc) {
    auto t = lower(trim(text));
    if (t == "true" || t == "enabled" || t == "yes" || t == "on" || t == "1") return true;
    if (t == "false" || t == "disabled" || t == "no" || t == "off" || t == "0") return false;
    fail(loc, "expected true/false or enabled/disabled, got " + quoted(trim(text)));
}

Cipher parse_cipher(std::string_view name, const Loc& loc) {
    struct Row {
        std::string_view names[4];
        Cipher cipher;
    };
    static constexpr std::array<Row, 4> table{{
        {{"aes128", "aes-128-cbc", "aes-128", "aes128-cbc"}, {encr::aes_cbc, 128}},
        {{"aes256", "aes-256-cbc", "aes-256", "aes256-cbc"}, {encr::aes_cbc, 256}},
        {{"aes128-gcm-16", "aes-128-gcm-16", "aes-128-gcm", "aes128gcm16"},
         {encr::aes_gcm_16, 128}},
        {{"aes256-gcm-16", "aes-256-gcm-16", "aes-256-gcm", "aes256gcm16"},
         {encr::aes_gcm_16, 256}},
    }};
    auto key = lower(trim(name));
    for (const auto& row : table)
        for (auto n : row.names)
            if (n == key) return row.cipher;
    fail(loc, "unknown encryption algorithm " + quoted(trim(name)) +
                  " (AWS offers AES128, AES256, AES128-GCM-16, AES256-GCM-16)");
}

std::uint16_t parse_integ(std::string_view name, const Loc& loc) {
    struct Row {
        std::string_view names[4];
        std::uint16_t id;
    };
    static constexpr std::array<Row, 4> table{{
        {{"sha1", "hmac-sha1-96", "sha-1", "hmac-sha1"}, integ::hmac_sha1_96},
        {{"sha2-256", "hmac-sha2-256-128", "sha256", "hmac-sha-256-128"}, integ::hmac_sha2_256_128},
        {{"sha2-384", "hmac-sha2-384-192", "sha384", "hmac-sha-384-192"}, integ::hmac_sha2_384_192},
        {{"sha2-512", "hmac-sha2-512-256", "sha512", "hmac-sha-512-256"}, integ::hmac_sha2_512_256},
    }};
    auto key = lower(trim(name));
    for (const auto& row : table)
        for (auto n : row.names)
            if (n == key) return row.id;
    fail(loc, "unknown integrity algorithm " + quoted(trim(name)) +
                  " (AWS offers SHA1, SHA2-256, SHA2-384, SHA2-512)");
}

std::uint16_t parse_dh_group(std::string_view text, const Loc& loc) {
    auto t = lower(trim(text));
    std::string_view v = t;
    for (std::string_view prefix : {"perfect forward secrecy", "diffie-hellman", "group", "dh"}) {
        if (v.rfind(prefix, 0) == 0) v.remove_prefix(prefix.size());
        while (!v.empty() && (v.front() == ' ' || v.front() == ':')) v.remove_prefix(1);
    }
    std::uint32_t g = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), g);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || g > 0xffff)
        fail(loc, "not a Diffie-Hellman group: " + quoted(trim(text)));
    return static_cast<std::uint16_t>(g);
}

DpdAction parse_dpd_action(std::string_view text, const Loc& loc) {
    auto t = lower(trim(text));
    if (t == "clear") return DpdAction::clear;
    if (t == "none") return DpdAction::none;
    if (t == "restart") return DpdAction::restart;
    fail(loc, "unknown DPD timeout action " + quoted(trim(text)) + " (clear, none or restart)");
}

StartupAction parse_startup_action(std::string_view text, const Loc& loc) {
    auto t = lower(trim(text));
    if (t == "add") return StartupAction::add;
    if (t == "start") return StartupAction::start;
    fail(loc, "unknown startup action " + quoted(trim(text)) + " (add or start)");
}

void check_psk(const Secret& psk, const Loc& loc) {
    auto v = psk.reveal();
    // The message never includes the key itself.
    if (v.size() < 8 || v.size() > 64)
        fail(loc,
             "pre-shared key must be 8 to 64 characters (it has " + std::to_string(v.size()) + ")");
    for (char c : v)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_'))
            fail(loc, "pre-shared key may contain only letters, digits, '.' and '_'");
    if (v.front() == '0') fail(loc, "pre-shared key must not start with '0'");
}

void check_range(std::uint64_t value, std::uint64_t lo, std::uint64_t hi, const Loc& loc,
                 const std::string& what) {
    if (value < lo || value > hi)
        fail(loc, what + " " + std::to_string(value) + " is out of range " + std::to_string(lo) +
                      ".." + std::to_string(hi));
}

void check_cgw_asn(std::uint64_t asn, const Loc& loc) {
    check_range(asn, 1, 2147483647, loc, "customer gateway ASN");
}

void check_aws_asn(std::uint64_t asn, const Loc& loc) {
    static constexpr std::array<std::uint64_t, 4> legacy{7224, 9059, 10124, 17493};
    bool ok = (asn >= 64512 && asn <= 65534) || (asn >= 4200000000ULL && asn <= 4294967294ULL) ||
              std::find(legacy.begin(), legacy.end(), asn) != legacy.end();
    if (!ok)
        fail(loc, "Amazon-side ASN " + std::to_string(asn) +
                      " is not one AWS assigns (64512-65534, 4200000000-4294967294, or 7224, 9059, "
                      "10124, 17493)");
}

void check_inside_cidr(const Ipv4Prefix& cidr, const Loc& loc) {
    if (cidr.length != 30) fail(loc, "tunnel inside CIDR " + cidr.to_string() + " must be a /30");
    auto link_local = Ipv4Prefix::of(Ipv4Address{0xa9fe0000}, 16);  // 169.254.0.0/16
    if (!link_local.contains(cidr.address))
        fail(loc, "tunnel inside CIDR " + cidr.to_string() + " must be inside 169.254.0.0/16");
    // AWS reserves these /30s: 169.254.0.0 .. 169.254.5.0 and 169.254.169.252.
    const std::uint32_t a = cidr.address.value;
    if ((a >= 0xa9fe0000 && a <= 0xa9fe0500 && (a & 0xff) == 0) || a == 0xa9fea9fc)
        fail(loc,
             "tunnel inside CIDR " + cidr.to_string() + " is reserved by AWS and cannot be used");
}

void check_phase1_dh(std::uint16_t g, const Loc& loc) {
    if (!(g == 2 || (g >= 14 && g <= 24)))
        fail(loc, "Diffie-Hellman group " + std::to_string(g) +
                      " is not allowed for phase 1 (AWS allows 2, 14-24)");
}

void check_phase2_dh(std::uint16_t g, const Loc& loc) {
    if (!(g == 2 || g == 5 || (g >= 14 && g <= 24)))
        fail(loc, "Diffie-Hellman group " + std::to_string(g) +
                      " is not allowed for phase 2 (AWS allows 2, 5, 14-24)");
}

void set_inside_addresses(Tunnel& t, const Ipv4Prefix& cidr, const Loc& loc) {
    check_inside_cidr(cidr, loc);
    t.inside_cidr = cidr;
    t.aws_inside = Ipv4Address{cidr.address.value + 1};
    t.cgw_inside = Ipv4Address{cidr.address.value + 2};
}

void check_inside_roles(const Tunnel& t, const Loc& loc) {
    const auto net = t.inside_cidr.address.value;
    if (!t.inside_cidr.contains(t.aws_inside) || !t.inside_cidr.contains(t.cgw_inside))
        fail(loc, "inside addresses " + t.aws_inside.to_string() + " and " +
                      t.cgw_inside.to_string() + " are not both in " + t.inside_cidr.to_string());
    if (t.aws_inside.value != net + 1 || t.cgw_inside.value != net + 2)
        fail(loc, "inside address roles are inconsistent: in " + t.inside_cidr.to_string() +
                      " AWS must be " + Ipv4Address{net + 1}.to_string() +
                      " and the customer gateway " + Ipv4Address{net + 2}.to_string() +
                      ", the file says AWS " + t.aws_inside.to_string() + " and customer gateway " +
                      t.cgw_inside.to_string());
}

namespace {

std::uint16_t prf_for_integ(std::uint16_t id) {
    switch (id) {
        case integ::hmac_sha1_96:
            return prf::hmac_sha1;
        case integ::hmac_sha2_256_128:
            return prf::hmac_sha2_256;
        case integ::hmac_sha2_384_192:
            return prf::hmac_sha2_384;
        default:
            return prf::hmac_sha2_512;
    }
}

// Splits ciphers into the non-AEAD and AEAD groups, keeping the configured order of groups.
std::vector<std::vector<Cipher>> cipher_groups(const std::vector<Cipher>& ciphers) {
    std::vector<Cipher> plain, aead;
    for (const auto& c : ciphers) (c.is_aead() ? aead : plain).push_back(c);
    std::vector<std::vector<Cipher>> groups;
    bool aead_first = !ciphers.empty() && ciphers.front().is_aead();
    if (aead_first && !aead.empty()) groups.push_back(aead);
    if (!plain.empty()) groups.push_back(plain);
    if (!aead_first && !aead.empty()) groups.push_back(aead);
    return groups;
}

}  // namespace

std::vector<Proposal> ike_proposals(const AlgorithmSet& set) {
    std::vector<Proposal> out;
    for (auto& group : cipher_groups(set.ciphers)) {
        Proposal p;
        p.ciphers = group;
        if (!group.front().is_aead()) p.integ = set.integ;
        for (auto i : set.integ) p.prf.push_back(prf_for_integ(i));
        p.dh = set.dh;
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<Proposal> esp_proposals(const AlgorithmSet& set) {
    std::vector<Proposal> out;
    for (auto& group : cipher_groups(set.ciphers)) {
        Proposal p;
        p.ciphers = group;
        if (!group.front().is_aead()) p.integ = set.integ;
        p.dh = set.dh;
        p.esn = {esn::no};
        out.push_back(std::move(p));
    }
    return out;
}

void finish_connection(Connection& c, const Loc& loc) {
    auto& t1 = c.tunnels[0];
    auto& t2 = c.tunnels[1];
    if (t1.inside_cidr == t2.inside_cidr)
        fail(loc, "both tunnels use the same inside CIDR " + t1.inside_cidr.to_string());
    if (t1.aws_outside == t2.aws_outside)
        fail(loc, "both tunnels have the same AWS outside address " + t1.aws_outside.to_string());
    for (auto& t : c.tunnels) {
        Loc tl{t.origin.file, t.origin.line,
               loc.where.empty() ? "tunnel " + std::to_string(t.number)
                                 : loc.where + " tunnel " + std::to_string(t.number)};
        if (!t.ikev2_allowed)
            fail(tl,
                 "IKEv2 is not enabled on this tunnel; cgwd speaks IKEv2 only (enable ikev2 in "
                 "the tunnel options)");
        if (t.phase1.ciphers.empty() || t.phase1.dh.empty() || t.phase1.integ.empty())
            fail(tl,
                 "phase 1 needs at least one encryption algorithm, integrity algorithm and DH "
                 "group");
        if (t.phase2.ciphers.empty()) fail(tl, "phase 2 needs at least one encryption algorithm");
        bool p2_plain = std::any_of(t.phase2.ciphers.begin(), t.phase2.ciphers.end(),
                                    [](const Cipher& x) { return !x.is_aead(); });
        if (p2_plain && t.phase2.integ.empty())
            fail(tl, "phase 2 uses a CBC cipher but lists no integrity algorithm");
        check_range(t.ike_lifetime_s, 900, 28800, tl, "phase 1 lifetime (s)");
        check_range(t.esp_lifetime_s, 900, 3600, tl, "phase 2 lifetime (s)");
        check_range(t.rekey_margin_s, 60, t.esp_lifetime_s / 2, tl, "rekey margin (s)");
        check_range(t.rekey_fuzz_pct, 0, 100, tl, "rekey fuzz (%)");
        check_range(t.replay_window, 64, 2048, tl, "replay window (packets)");
        check_range(t.mtu, 576, 1446, tl, "tunnel MTU");
        check_range(t.tcp_mss, 536, 1406, tl, "TCP MSS");
        if (c.routing == Routing::bgp && (!t.cgw_asn || !t.aws_asn))
            fail(tl, "BGP routing but no ASN for both sides");
        if (c.routing == Routing::bgp && t.bgp_hold_time != 0)
            check_range(t.bgp_hold_time, 3, 65535, tl, "BGP hold time");
        t.ike_proposals = ike_proposals(t.phase1);
        t.esp_proposals = esp_proposals(t.phase2);
    }
    if (c.routing == Routing::bgp && t1.cgw_asn != t2.cgw_asn)
        fail(loc, "the two tunnels name different customer gateway ASNs");
}

}  // namespace cgwd::config::detail
