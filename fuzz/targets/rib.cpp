// Fuzz target: the BGP RIB (bgp/rib.hpp; storage in bgp/rib_storage.hpp: the one map of
// Adj-RIBs-In and Loc-RIB, Rib::Entry's route in place or heap vector, the node pool, interned
// attribute sets and FIB next-hop sets, hint-based seek), stateful.
//
// Each input is a fresh Rib with four peers (slots): 0 eBGP AS 64512, import and export policy
// empty; 1 eBGP AS 64512, import prefix list (10.0.0.0/8 ge 16 le 24, not 2001:db8:5::/48,
// 2001:db8::/32 le 64) and max-prefix 6 DropExcess, export MED 10, a community, at most 6
// prefixes; 2 iBGP, import max-prefix 10 Reset, no export policy (iBGP needs none), no IPv6
// next hop to send; 3 eBGP AS 64600, import policy per byte 0 (none: RFC 8212 deny, or
// max-prefix 4 Warn / 3 DropExcess / 5 Reset), export only 10.0.0.0/8 le 24 with two extra
// prepends. The prefixes are few (fixtures.hpp rib_prefixes: 24 IPv4 of /0 to /32, nested, and
// 8 IPv6), so that peers collide on them. The input is a script (RibOp in fixtures.hpp) of
// UPDATEs (several prefixes, withdrawals, MP_REACH / MP_UNREACH, treat-as-withdraw), session
// up / down / graceful down, flush_stale, originate / withdraw_local, take_fib_changes,
// take_updates, best, remove_peer / add_peer and policy changes. Attribute bytes of announce:
//   a0: bits 0-1 AS_PATH length, bits 2-3 == 3: the local AS at its end (AS loop), bits 4-5
//       ORIGIN (3: none), bit 6 MED, bit 7 LOCAL_PREF
//   a1: bits 0-2 NEXT_HOP (6: none, 7: the peer's address), bits 3-4 MED value, bits 5-6
//       LOCAL_PREF value, bit 7 NO_EXPORT
//   a2: bits 0-1 MP_REACH next hop (16 octets, 32 with a link-local, 4: IPv4, 5: invalid),
//       bits 2-3 which IPv6 next hop, bit 4 NO_ADVERTISE, bit 5 ORIGINATOR_ID, bit 6 an AS_SET
//       at the end of the AS_PATH, bit 7 first AS 64513 (another neighbour AS)
//
// The target keeps a model: per slot the routes the peer announced and did not withdraw, as the
// import rules of rib.hpp / policy.hpp store them (the exact post-import attributes, stale
// marks), the locally originated prefixes, the FIB as rebuilt from the FibChange stream, and each
// peer's Adj-RIB-Out as rebuilt from its UPDATEs; and the decision process of rib.hpp (steps
// 1-7, multipath) over the model's routes. Checks, aborting on any violation:
//   - after every record: per peer adj_rib_in_size == adj_rib_in().size() == the model's count,
//     each route's prefix, peer, stale mark, next_hop() and attributes as the model says,
//     stale_count == the stale routes, is_up; a removed peer has nothing; fib_size == the
//     for_each_fib callbacks, which come in strictly increasing prefix order with sorted,
//     distinct, non-empty next hops equal to the FIB rebuilt from the FibChanges;
//     attribute_sets() <= routes held + locally originated prefixes;
//   - every ImportReport (accepted, filtered, withdrawn, max-prefix warning, dropped_excess,
//     reset) equals the model's; a down or removed peer's UPDATE does nothing;
//   - take_fib_changes: at most one change per prefix, each a real change (a flap within one
//     batch yields nothing), `replaced` iff it forwarded before and still does; afterwards
//     best() of every prefix equals the model's decision (peers, in order) and the FIB holds
//     exactly the sorted distinct next hops of each prefix's best paths unless a local route
//     wins;
//   - take_updates: every UPDATE encodes (<= 4096 octets); a prefix at most once a batch;
//     withdrawals only of advertised prefixes; afterwards the advertised set has
//     adj_rib_out_size() members, none held back, within max_prefix_out while the policy is the
//     one the session came up with, and every prefix whose best route the export rules allow is
//     advertised or held back, no other; a second take_updates right away returns nothing;
//   - flush_stale returns the number of the model's stale routes of those families;
//   - at the end, all peers down and local routes withdrawn, then take_fib_changes:
//     fib_size() == 0 and attribute_sets() == 0 (AddressSanitizer checks the rest on
//     destruction, leaks included).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <source_location>
#include <span>
#include <vector>

#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/rib.hpp"
#include "cgwd/bgp/update.hpp"
#include "fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace cgwd;
using namespace cgwd::bgp;
using namespace cgwd::fuzz;

void check(bool condition, std::source_location where = std::source_location::current()) {
    if (condition) return;
    std::fprintf(stderr, "rib_fuzz: check failed at %s:%u\n", where.file_name(),
                 static_cast<unsigned>(where.line()));
    std::abort();
}

constexpr std::uint32_t kLocalAs = 65010;
constexpr std::uint32_t kAwsAs = 64512;
constexpr std::uint32_t kOtherAs = 64600;
constexpr std::uint32_t kSecondAwsAs = 64513;
constexpr std::uint32_t kDefaultLocalPref = 100;

constexpr std::uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

std::array<std::uint8_t, 16> ip6(std::uint16_t w0, std::uint16_t w1, std::uint16_t w2,
                                 std::uint16_t w7) {
    std::array<std::uint8_t, 16> a{};
    const std::uint16_t words[8] = {w0, w1, w2, 0, 0, 0, 0, w7};
    for (std::size_t i = 0; i < 8; ++i) {
        a[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
        a[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
    }
    return a;
}

const std::vector<Prefix>& prefixes() {
    static const std::vector<Prefix> all = [] {
        std::vector<Prefix> v;
        for (unsigned i = 0; i < 16; ++i) v.push_back(Prefix::v4(ip4(10, 0, i, 0), 24));
        v.push_back(Prefix::v4(ip4(10, 0, 0, 0), 16));
        v.push_back(Prefix::v4(ip4(10, 1, 0, 0), 16));
        v.push_back(Prefix::v4(ip4(10, 0, 0, 0), 8));      // below slot 1's ge 16
        v.push_back(Prefix::v4(ip4(192, 168, 0, 0), 16));  // outside slot 1's list
        v.push_back(Prefix::v4(ip4(10, 0, 0, 0), 25));     // above slot 1's le 24
        v.push_back(Prefix::v4(ip4(172, 16, 0, 0), 12));
        v.push_back(Prefix::v4(0, 0));
        v.push_back(Prefix::v4(ip4(10, 2, 3, 4), 32));
        for (std::uint16_t i = 0; i < 6; ++i) v.push_back(Prefix::v6(ip6(0x2001, 0xdb8, i, 0), 48));
        v.push_back(Prefix::v6(ip6(0x2001, 0xdb8, 0, 0), 32));
        v.push_back(Prefix::v6(ip6(0x2001, 0xdb9, 0, 0), 32));
        return v;
    }();
    return all;
}
const Prefix& v4_prefix(std::uint8_t index) {
    return prefixes()[index % rib_v4_prefixes];
}
const Prefix& v6_prefix(std::uint8_t index) {
    return prefixes()[rib_v4_prefixes + index % rib_v6_prefixes];
}
const Prefix& any_prefix(std::uint8_t index) {
    return prefixes()[index % rib_prefixes];
}

AfiSafi family_of(const Prefix& p) {
    return p.afi == Afi::Ipv4 ? kIpv4Unicast : kIpv6Unicast;
}

constexpr std::uint32_t kNextHops[6] = {ip4(169, 254, 10, 1), ip4(169, 254, 11, 1),
                                        ip4(169, 254, 12, 1), ip4(10, 255, 0, 2),
                                        ip4(192, 0, 2, 1),    ip4(192, 0, 2, 2)};
constexpr std::uint32_t kPeerAddress[rib_slots] = {ip4(169, 254, 10, 1), ip4(169, 254, 11, 1),
                                                   ip4(10, 255, 0, 2), ip4(169, 254, 12, 1)};
constexpr std::uint32_t kPeerAs[rib_slots] = {kAwsAs, kAwsAs, kLocalAs, kOtherAs};
// BGP identifiers, fixed per slot: slots 1 and 3 tie, their addresses decide.
constexpr std::uint32_t kRouterId[rib_slots] = {ip4(10, 0, 0, 3), ip4(10, 0, 0, 1),
                                                ip4(10, 0, 0, 2), ip4(10, 0, 0, 1)};

PrefixListEntry entry(bool permit, const Prefix& p, std::optional<std::uint8_t> ge,
                      std::optional<std::uint8_t> le) {
    return PrefixListEntry{permit, p, ge, le};
}

std::optional<ImportPolicy> import_policy(std::size_t slot, std::uint8_t config) {
    ImportPolicy p;
    switch (slot) {
        case 0:
            return p;
        case 1:
            p.prefix_list = PrefixListPolicy{
                {entry(true, Prefix::v4(ip4(10, 0, 0, 0), 8), 16, 24),
                 entry(false, Prefix::v6(ip6(0x2001, 0xdb8, 5, 0), 48), std::nullopt, std::nullopt),
                 entry(true, Prefix::v6(ip6(0x2001, 0xdb8, 0, 0), 32), std::nullopt, 64)}};
            p.max_prefix = MaxPrefix{6, MaxPrefixAction::DropExcess};
            return p;
        case 2:
            p.max_prefix = MaxPrefix{10, MaxPrefixAction::Reset};
            return p;
        default:
            switch ((config >> 3) & 3u) {
                case 0:
                    return std::nullopt;
                case 1:
                    p.max_prefix = MaxPrefix{4, MaxPrefixAction::Warn};
                    p.local_pref = 150;
                    return p;
                case 2:
                    p.max_prefix = MaxPrefix{3, MaxPrefixAction::DropExcess};
                    return p;
                default:
                    p.max_prefix = MaxPrefix{5, MaxPrefixAction::Reset};
                    return p;
            }
    }
}

std::optional<ExportPolicy> export_policy(std::size_t slot) {
    ExportPolicy p;
    switch (slot) {
        case 0:
            return p;
        case 1:
            p.med = 10;
            p.communities = {(kLocalAs << 16) | 1};
            p.max_prefix_out = 6;
            return p;
        case 2:
            return std::nullopt;
        default:
            p.prefix_list =
                PrefixListPolicy{{entry(true, Prefix::v4(ip4(10, 0, 0, 0), 8), std::nullopt, 24)}};
            p.as_path_prepend = 2;
            return p;
    }
}

PeerConfig peer_config(std::size_t slot, std::uint8_t config) {
    PeerConfig c;
    c.peer_as = kPeerAs[slot];
    c.address = IpAddress::v4(kPeerAddress[slot]);
    c.local_address = IpAddress::v4(kPeerAddress[slot] + 1);
    if (slot != 2) {
        c.local_address_v6 = IpAddress::v6(ip6(0xfd00, 0, 0, static_cast<std::uint16_t>(slot + 1)));
    }
    c.import_policy = import_policy(slot, config);
    c.export_policy = export_policy(slot);
    return c;
}

// RFC 4271 section 9.1.2.2 (c): the leftmost AS, or the local AS for a path without one.
std::uint32_t neighbour_as(const PathAttributes& a) {
    for (const auto& seg : a.as_path.value_or(AsPath{})) {
        if (seg.type == AsPathSegment::Type::Sequence && !seg.asns.empty()) return seg.asns[0];
        if (seg.type == AsPathSegment::Type::Set) break;
    }
    return kLocalAs;
}

bool has_community(const PathAttributes& a, std::uint32_t c) {
    return std::find(a.communities.begin(), a.communities.end(), c) != a.communities.end();
}

class Harness {
  public:
    Harness(const std::uint8_t* data, std::size_t size)
        : data_(data, size), config_(u8()), rib_(rib_config(config_)) {
        for (std::size_t s = 0; s < rib_slots; ++s) {
            slots_[s].id = rib_.add_peer(peer_config(s, config_));
            slots_[s].last_id = *slots_[s].id;
        }
    }

    void run() {
        for (int records = 0; records < 256 && pos_ < data_.size(); ++records) {
            step();
            check_state();
        }
    }

    RibScriptResult result() {
        RibScriptResult r = result_;
        for (std::size_t s = 0; s < rib_slots; ++s) {
            const PeerId id = slots_[s].id.value_or(slots_[s].last_id);
            r.up[s] = rib_.is_up(id);
            r.routes[s] = rib_.adj_rib_in_size(id);
            r.stale[s] = rib_.stale_count(id);
        }
        r.fib_size = rib_.fib_size();
        for (const auto& [p, hops] : fib_) r.ipv6_in_fib += p.afi == Afi::Ipv6 ? 1 : 0;
        return r;
    }

    // Everything down and withdrawn: nothing may be left.
    void teardown() {
        for (auto& s : slots_) {
            if (!s.id) continue;
            rib_.peer_down(*s.id);
            down(s, nullptr);
        }
        for (const auto& [p, origin] : local_) rib_.withdraw_local(p);
        local_.clear();
        check_state();
        take_fib();
        check(fib_.empty() && rib_.fib_size() == 0);
        check(rib_.attribute_sets() == 0);
    }

  private:
    // A route as the model says the Rib holds it.
    struct Held {
        PathAttributes attributes;  // as stored after import
        IpAddress next_hop;
        bool mp = false;
        bool stale = false;
    };
    struct Slot {
        std::optional<PeerId> id;  // none after remove_peer
        PeerId last_id = 0;
        bool up = false;
        bool over_limit = false;     // max-prefix crossing reported
        bool limit_applies = false;  // the export policy is the one the session came up with
        Capabilities caps;
        std::map<Prefix, Held> routes;
        std::map<Prefix, PathAttributes> out;  // Adj-RIB-Out, from take_updates
    };
    struct Candidate {
        PeerId peer;
        const Slot* slot;
        std::size_t index;
        const Held* held;
    };

    static RibConfig rib_config(std::uint8_t config) {
        RibConfig c;
        c.local_as = kLocalAs;
        c.router_id = ip4(10, 0, 0, 254);
        c.max_paths = 1u + (config & 3u);
        c.always_compare_med = (config & 4u) != 0;
        c.default_local_pref = kDefaultLocalPref;
        return c;
    }

    std::uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }

    PeerId id_of(const Slot& s) const { return s.id.value_or(s.last_id); }
    bool external(std::size_t slot) const { return kPeerAs[slot] != kLocalAs; }

    void step() {
        switch (static_cast<RibOp>(u8() % rib_op_count)) {
            case RibOp::announce:
                announce();
                break;
            case RibOp::withdraw: {
                const std::size_t s = u8() % rib_slots;
                const std::uint8_t counts = u8();
                Update u;
                for (int i = 0; i < (counts & 7); ++i) u.withdrawn.push_back(v4_prefix(u8()));
                if (const int n6 = (counts >> 3) & 3; n6 > 0) {
                    u.attributes.mp_unreach = MpUnreach{kIpv6Unicast, {}};
                    for (int i = 0; i < n6; ++i)
                        u.attributes.mp_unreach->withdrawn.push_back(v6_prefix(u8()));
                }
                deliver(s, u);
                break;
            }
            case RibOp::peer_up:
                peer_up();
                break;
            case RibOp::peer_down: {
                Slot& s = slots_[u8() % rib_slots];
                rib_.peer_down(id_of(s));
                if (s.id) down(s, nullptr);
                break;
            }
            case RibOp::graceful_down: {
                Slot& s = slots_[u8() % rib_slots];
                const auto families = families_of(u8());
                rib_.peer_down_graceful(id_of(s), families);
                if (s.id) down(s, &families);
                break;
            }
            case RibOp::flush_stale: {
                Slot& s = slots_[u8() % rib_slots];
                const auto families = families_of(u8());
                const std::size_t removed = rib_.flush_stale(id_of(s), families);
                std::size_t expect = 0;
                if (s.id) {
                    expect = std::erase_if(s.routes, [&](const auto& kv) {
                        return kv.second.stale && std::find(families.begin(), families.end(),
                                                            family_of(kv.first)) != families.end();
                    });
                }
                check(removed == expect);
                result_.flushed += removed;
                break;
            }
            case RibOp::originate: {
                const Prefix& p = any_prefix(u8());
                const auto origin = static_cast<Origin>(u8() % 3);
                rib_.originate(p, origin);
                local_[p] = origin;
                break;
            }
            case RibOp::withdraw_local: {
                const Prefix& p = any_prefix(u8());
                rib_.withdraw_local(p);
                local_.erase(p);
                break;
            }
            case RibOp::take_fib:
                take_fib();
                check_decisions();
                break;
            case RibOp::take_updates:
                take_updates(u8() % rib_slots);
                break;
            case RibOp::best:
                check_best(any_prefix(u8()));
                break;
            case RibOp::remove_peer: {
                Slot& s = slots_[u8() % rib_slots];
                rib_.remove_peer(id_of(s));
                if (s.id) {
                    down(s, nullptr);
                    s.id.reset();
                    ++result_.removed_peers;
                }
                break;
            }
            case RibOp::add_peer: {
                const std::size_t n = u8() % rib_slots;
                Slot& s = slots_[n];
                if (!s.id) {
                    s = Slot{};
                    s.id = rib_.add_peer(peer_config(n, config_));
                    check(*s.id > 0);
                    for (const auto& other : slots_) check(&other == &s || other.id != s.id);
                    s.last_id = *s.id;
                }
                break;
            }
            case RibOp::set_policies: {
                const std::size_t n = u8() % rib_slots;
                Slot& s = slots_[n];
                const std::uint8_t variant = u8() % 4;
                auto imp = import_policy(n, config_);
                auto exp = export_policy(n);
                if (variant == 1) imp.reset();
                if (variant == 2) exp.reset();
                if (variant == 3) {
                    exp = ExportPolicy{};
                    exp->prefix_list = PrefixListPolicy{
                        {entry(true, Prefix::v4(ip4(10, 0, 0, 0), 8), std::nullopt, 24)}};
                    exp->max_prefix_out = 2;
                }
                rib_.set_policies(id_of(s), imp, exp);
                s.limit_applies = false;
                break;
            }
        }
    }

    static std::vector<AfiSafi> families_of(std::uint8_t bits) {
        std::vector<AfiSafi> v;
        if (bits & 1u) v.push_back(kIpv4Unicast);
        if (bits & 2u) v.push_back(kIpv6Unicast);
        return v;
    }

    // The model's side of peer_down (retained == nullptr) and peer_down_graceful.
    static void down(Slot& s, const std::vector<AfiSafi>* retained) {
        for (auto it = s.routes.begin(); it != s.routes.end();) {
            if (retained && std::find(retained->begin(), retained->end(), family_of(it->first)) !=
                                retained->end()) {
                it->second.stale = true;
                ++it;
            } else {
                it = s.routes.erase(it);
            }
        }
        s.up = false;
        s.over_limit = false;
        s.out.clear();
    }

    void peer_up() {
        const std::size_t n = u8() % rib_slots;
        Slot& s = slots_[n];
        const std::uint8_t caps = u8();
        SessionEstablished e;
        e.hold_time = 90;
        e.peer_identifier = kRouterId[n];
        e.peer_as = kPeerAs[n];
        switch (caps & 3u) {
            case 0:
                break;
            case 1:
                e.peer_capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
                break;
            case 2:
                e.peer_capabilities.multiprotocol = {kIpv6Unicast};
                break;
            default:
                e.peer_capabilities.multiprotocol = {kIpv4Unicast};
                break;
        }
        rib_.peer_up(id_of(s), e);
        if (!s.id) return;
        s.up = true;
        s.over_limit = false;
        s.limit_applies = true;
        s.caps = e.peer_capabilities;
        s.out.clear();
    }

    void announce() {
        const std::size_t n = u8() % rib_slots;
        const std::uint8_t a0 = u8(), a1 = u8(), a2 = u8(), counts = u8();
        const std::uint8_t wcounts = (counts & 0x20u) ? u8() : 0;
        Update u;
        PathAttributes& a = u.attributes;
        if (((a0 >> 4) & 3u) != 3) a.origin = static_cast<Origin>((a0 >> 4) & 3u);
        AsPathSegment seq{AsPathSegment::Type::Sequence, {}};
        const std::uint32_t first =
            (a2 & 0x80u) ? kSecondAwsAs : (external(n) ? kPeerAs[n] : kAwsAs);
        for (unsigned i = 0; i < (a0 & 3u); ++i) seq.asns.push_back(i == 0 ? first : 65100 + i);
        if (((a0 >> 2) & 3u) == 3) seq.asns.push_back(kLocalAs);
        a.as_path = AsPath{};
        if (!seq.asns.empty()) a.as_path->push_back(seq);
        if (a2 & 0x40u) a.as_path->push_back({AsPathSegment::Type::Set, {64999, 65001}});
        static constexpr std::uint32_t kMeds[4] = {0, 50, 100, 200};
        static constexpr std::uint32_t kLocalPrefs[4] = {50, 100, 200, 300};
        if (a0 & 0x40u) a.med = kMeds[(a1 >> 3) & 3u];
        if (a0 & 0x80u) a.local_pref = kLocalPrefs[(a1 >> 5) & 3u];
        if ((a1 & 7u) < 6) a.next_hop = kNextHops[a1 & 7u];
        if ((a1 & 7u) == 7) a.next_hop = kPeerAddress[n];
        if (a1 & 0x80u) a.communities.push_back(kNoExport);
        if (a2 & 0x10u) a.communities.push_back(kNoAdvertise);
        if (a2 & 0x20u) a.originator_id = ip4(10, 0, 0, 1u + ((a2 >> 2) & 3u));

        for (int i = 0; i < (counts & 7); ++i) u.nlri.push_back(v4_prefix(u8()));
        const int n6 = (counts >> 3) & 3;
        if (n6 > 0 || (counts & 0x80u)) {
            MpReach mp;
            mp.af = kIpv6Unicast;
            const auto global =
                ip6(0x2001, 0xdb8, 0xffff, static_cast<std::uint16_t>(1u + ((a2 >> 2) & 3u)));
            switch (a2 & 3u) {
                case 0:
                    mp.next_hop.assign(global.begin(), global.end());
                    break;
                case 1: {
                    const auto link_local = ip6(0xfe80, 0, 0, 1);
                    mp.next_hop.assign(global.begin(), global.end());
                    mp.next_hop.insert(mp.next_hop.end(), link_local.begin(), link_local.end());
                    break;
                }
                case 2:
                    mp.next_hop = {169, 254, 10, 1};
                    break;
                default:
                    mp.next_hop = {1, 2, 3, 4, 5};
                    break;
            }
            for (int i = 0; i < n6; ++i) mp.nlri.push_back(v6_prefix(u8()));
            a.mp_reach = std::move(mp);
        }
        for (int i = 0; i < (wcounts & 7); ++i) u.withdrawn.push_back(v4_prefix(u8()));
        if (const int w6 = (wcounts >> 3) & 3; w6 > 0) {
            a.mp_unreach = MpUnreach{kIpv6Unicast, {}};
            for (int i = 0; i < w6; ++i) a.mp_unreach->withdrawn.push_back(v6_prefix(u8()));
        }
        if (counts & 0x40u) u.errors.emplace_back(TreatAsWithdraw{attr_type::kMed, "fuzz"});
        deliver(n, u);
    }

    // apply_update, and the same UPDATE through the model's import rules.
    void deliver(std::size_t n, const Update& u) {
        Slot& s = slots_[n];
        const ImportReport got = rib_.apply_update(id_of(s), u);
        if (!s.id || !s.up) {
            check(got.accepted == 0 && got.filtered == 0 && got.withdrawn == 0 &&
                  !got.max_prefix_warning && got.dropped_excess.empty() && !got.reset);
            return;
        }
        const PeerConfig& cfg = *rib_.peer_config(*s.id);
        const bool ebgp = external(n);
        std::size_t accepted = 0, filtered = 0, withdrawn = 0;
        bool warning = false, reset = false;
        std::vector<Prefix> dropped;
        for (const auto& p : u.routes_withdrawn()) withdrawn += s.routes.erase(p);

        // The attributes every route of the UPDATE is stored with; none when not feasible.
        std::optional<PathAttributes> stored;
        if (!u.treat_as_withdraw() && (!u.nlri.empty() || u.attributes.mp_reach)) {
            const PathAttributes& a = u.attributes;
            const bool rfc8212 = ebgp && !cfg.import_policy;
            if (!rfc8212 && !as_path_contains(*a.as_path, kLocalAs)) {
                PathAttributes r;
                r.origin = a.origin;
                r.as_path = a.as_path;
                r.next_hop = a.next_hop;
                r.med = a.med;
                r.communities = a.communities;
                r.originator_id = a.originator_id;
                if (a.mp_reach) r.mp_reach = MpReach{a.mp_reach->af, a.mp_reach->next_hop, {}};
                std::optional<std::uint32_t> lp;
                if (cfg.import_policy) lp = cfg.import_policy->local_pref;
                if (!lp && !ebgp) lp = a.local_pref;
                r.local_pref = lp.value_or(kDefaultLocalPref);
                stored = std::move(r);
            }
        }
        const auto& pol = cfg.import_policy;
        auto process = [&](const Prefix& p, std::optional<IpAddress> nh, bool mp) {
            if (!stored || !nh || (pol && pol->prefix_list && !pol->prefix_list->permits(p))) {
                ++filtered;
                s.routes.erase(p);
                return true;
            }
            if (!s.routes.contains(p) && pol && pol->max_prefix &&
                s.routes.size() >= pol->max_prefix->limit) {
                switch (pol->max_prefix->action) {
                    case MaxPrefixAction::Warn:
                        warning |= !s.over_limit;
                        s.over_limit = true;
                        break;
                    case MaxPrefixAction::DropExcess:
                        warning |= !s.over_limit;
                        s.over_limit = true;
                        dropped.push_back(p);
                        return true;
                    case MaxPrefixAction::Reset:
                        reset = true;
                        return false;
                }
            }
            ++accepted;
            s.routes[p] = Held{*stored, *nh, mp, false};
            return true;
        };
        if (!u.treat_as_withdraw()) {
            std::optional<IpAddress> nh4;
            if (u.attributes.next_hop) nh4 = IpAddress::v4(*u.attributes.next_hop);
            for (const auto& p : u.nlri) {
                if (!process(p, nh4, false)) break;
            }
            if (u.attributes.mp_reach && !reset) {
                const auto nh = mp_reach_next_hop(*u.attributes.mp_reach);
                for (const auto& p : u.attributes.mp_reach->nlri) {
                    if (!process(p, nh, true)) break;
                }
            }
        }
        if (reset) {
            down(s, nullptr);
            ++result_.resets;
        } else if (pol && pol->max_prefix && s.routes.size() <= pol->max_prefix->limit &&
                   dropped.empty()) {
            s.over_limit = false;
        }
        result_.dropped_excess += dropped.size();
        check(got.accepted == accepted);
        check(got.filtered == filtered);
        check(got.withdrawn == withdrawn);
        check(got.max_prefix_warning == warning);
        check(got.dropped_excess == dropped);
        check(got.reset.has_value() == reset);
        if (reset) check(!rib_.is_up(*s.id));
    }

    // --- checks -------------------------------------------------------------------------------

    void check_state() {
        std::size_t routes = 0;
        for (const Slot& s : slots_) {
            if (!s.id) {
                check(rib_.peer_config(s.last_id) == nullptr);
                check(rib_.adj_rib_in_size(s.last_id) == 0 && rib_.adj_rib_in(s.last_id).empty());
                check(rib_.stale_count(s.last_id) == 0 && !rib_.is_up(s.last_id));
                check(rib_.adj_rib_out_size(s.last_id) == 0);
                continue;
            }
            const auto in = rib_.adj_rib_in(*s.id);
            check(in.size() == rib_.adj_rib_in_size(*s.id));
            check(in.size() == s.routes.size());
            std::set<Prefix> seen;
            std::size_t stale = 0;
            for (const auto& [p, r] : in) {
                check(seen.insert(p).second);
                auto it = s.routes.find(p);
                check(it != s.routes.end());
                check(r->peer == *s.id);
                check(r->stale == it->second.stale);
                check(r->mp == it->second.mp);
                check(r->next_hop() == it->second.next_hop);
                check(*r->attributes == it->second.attributes);
                stale += r->stale ? 1 : 0;
            }
            check(rib_.stale_count(*s.id) == stale);
            check(rib_.is_up(*s.id) == s.up);
            if (!s.up) check(rib_.adj_rib_out_size(*s.id) == 0);
            routes += in.size();
        }
        check(rib_.attribute_sets() <= routes + local_.size());
        check_fib();
    }

    // for_each_fib: in order, sane, and what the FibChanges built.
    void check_fib() {
        std::size_t count = 0;
        std::optional<Prefix> last;
        auto model = fib_.begin();
        rib_.for_each_fib([&](const Prefix& p, std::span<const NextHop> hops) {
            ++count;
            check(!last || *last < p);
            last = p;
            check(!hops.empty());
            check(std::adjacent_find(hops.begin(), hops.end(), [](const auto& x, const auto& y) {
                      return !(x < y);
                  }) == hops.end());
            check(model != fib_.end() && model->first == p);
            check(std::equal(hops.begin(), hops.end(), model->second.begin(), model->second.end()));
            ++model;
        });
        check(model == fib_.end());
        check(count == rib_.fib_size());
        check(count == fib_.size());
    }

    void take_fib() {
        const auto changes = rib_.take_fib_changes();
        result_.last_fib_changes = changes.size();
        std::set<Prefix> seen;
        for (const auto& c : changes) {
            check(seen.insert(c.prefix).second);  // the net change per prefix
            auto it = fib_.find(c.prefix);
            const bool had = it != fib_.end();
            if (c.next_hops.empty()) {
                check(had);  // a flap back yields nothing
                fib_.erase(it);
            } else {
                check(std::is_sorted(c.next_hops.begin(), c.next_hops.end()));
                check(!had || it->second != c.next_hops);
                fib_[c.prefix] = c.next_hops;
                result_.widest_fib_change = std::max(result_.widest_fib_change, c.next_hops.size());
            }
            check(c.replaced == (had && !c.next_hops.empty()));
        }
        check_fib();
    }

    // The decision process of rib.hpp over the model's routes: the best paths' peers, best
    // first (kLocalPeer alone when a local route exists), with their routes.
    std::vector<Candidate> decide(const Prefix& p) const {
        std::vector<Candidate> v;
        for (std::size_t n = 0; n < rib_slots; ++n) {
            const Slot& s = slots_[n];
            if (!s.id) continue;
            if (auto it = s.routes.find(p); it != s.routes.end())
                v.push_back(Candidate{*s.id, &s, n, &it->second});
        }
        auto keep_min = [&](auto key) {
            if (v.empty()) return;
            auto best = key(v.front());
            for (const auto& c : v) best = std::min(best, key(c));
            std::erase_if(v, [&](const Candidate& c) { return key(c) != best; });
        };
        auto attrs = [](const Candidate& c) -> const PathAttributes& { return c.held->attributes; };
        keep_min(
            [&](const Candidate& c) { return ~attrs(c).local_pref.value_or(kDefaultLocalPref); });
        keep_min([&](const Candidate& c) { return as_path_length(*attrs(c).as_path); });
        keep_min([&](const Candidate& c) { return attrs(c).origin.value_or(Origin::Incomplete); });
        const bool always_med = (config_ & 4u) != 0;
        std::vector<Candidate> kept;
        for (const auto& r : v) {
            const bool beaten = std::any_of(v.begin(), v.end(), [&](const Candidate& o) {
                return (always_med || neighbour_as(attrs(o)) == neighbour_as(attrs(r))) &&
                       attrs(o).med.value_or(0) < attrs(r).med.value_or(0);
            });
            if (!beaten) kept.push_back(r);
        }
        v = std::move(kept);
        keep_min([&](const Candidate& c) { return external(c.index) ? 0 : 1; });
        auto key = [&](const Candidate& c) {
            return std::pair(attrs(c).originator_id.value_or(kRouterId[c.index]),
                             IpAddress::v4(kPeerAddress[c.index]));
        };
        std::sort(v.begin(), v.end(),
                  [&](const Candidate& x, const Candidate& y) { return key(x) < key(y); });
        std::vector<Candidate> out;
        const std::size_t max_paths = 1u + (config_ & 3u);
        for (const auto& c : v) {
            if (out.size() >= max_paths) break;
            if (neighbour_as(attrs(c)) == neighbour_as(attrs(v.front()))) out.push_back(c);
        }
        return out;
    }

    // best(p) against the model's decision; the model's FIB next hops of `p`.
    std::vector<NextHop> check_best(const Prefix& p) {
        const auto got = rib_.best(p);
        if (auto l = local_.find(p); l != local_.end()) {
            check(got && got->paths.size() == 1);
            const Route& r = *got->paths[0];
            check(r.peer == kLocalPeer && !r.next_hop());
            check(r.attributes->origin == l->second);
            return {};
        }
        const auto want = decide(p);
        check(got.has_value() == !want.empty());
        if (!got) return {};
        check(got->paths.size() == want.size());
        std::vector<NextHop> hops;
        for (std::size_t i = 0; i < want.size(); ++i) {
            check(got->paths[i]->peer == want[i].peer);
            check(*got->paths[i]->attributes == want[i].held->attributes);
            hops.push_back(NextHop{want[i].held->next_hop, want[i].peer});
        }
        std::sort(hops.begin(), hops.end());
        hops.erase(std::unique(hops.begin(), hops.end()), hops.end());
        return hops;
    }

    // After take_fib_changes: every prefix's best paths and FIB entry as the model decides.
    void check_decisions() {
        for (const auto& p : prefixes()) {
            const auto hops = check_best(p);
            auto it = fib_.find(p);
            if (hops.empty()) {
                check(it == fib_.end());
            } else {
                check(it != fib_.end() && it->second == hops);
            }
        }
    }

    // May `to` be sent the prefix, given its best route (rib.hpp, policy.hpp: RFC 1997, 8212,
    // no iBGP to iBGP, export prefix list, negotiated families, sender-side AS loop check, an
    // IPv6 next hop to send)?
    bool exportable(std::size_t to, const Prefix& p) const {
        const Slot& s = slots_[to];
        const PeerConfig& cfg = *rib_.peer_config(*s.id);
        PathAttributes local_attrs;
        const PathAttributes* a = &local_attrs;
        std::optional<std::size_t> from;  // none: local
        if (!local_.contains(p)) {
            const auto best = decide(p);
            if (best.empty()) return false;
            if (best[0].index == to) return false;
            from = best[0].index;
            a = &best[0].held->attributes;
        }
        const bool ebgp = external(to);
        if (has_community(*a, kNoAdvertise)) return false;
        if (ebgp && has_community(*a, kNoExport)) return false;
        if (!ebgp && from && !external(*from)) return false;
        if (ebgp && !cfg.export_policy) return false;
        if (cfg.export_policy && cfg.export_policy->prefix_list &&
            !cfg.export_policy->prefix_list->permits(p))
            return false;
        if (!s.caps.supports(family_of(p))) return false;
        if (ebgp && a->as_path && as_path_contains(*a->as_path, kPeerAs[to])) return false;
        if (p.afi == Afi::Ipv6 && !cfg.local_address_v6) return false;
        return true;
    }

    void take_updates(std::size_t n) {
        Slot& s = slots_[n];
        const ExportBatch batch = rib_.take_updates(id_of(s));
        if (!s.id || !s.up) {
            check(batch.updates.empty() && batch.newly_held_back.empty());
            return;
        }
        result_.updates_sent += batch.updates.size();
        const UpdateContext ctx{true, external(n)};
        std::set<Prefix> seen;
        for (const auto& u : batch.updates) {
            check(encode_update(u, ctx).has_value());
            check(!u.treat_as_withdraw());
            for (const auto& p : u.routes_withdrawn()) {
                check(seen.insert(p).second);
                check(s.out.erase(p) == 1);
            }
            PathAttributes a = u.attributes;
            a.mp_unreach.reset();
            if (a.mp_reach) a.mp_reach->nlri.clear();
            for (const auto& p : u.routes_announced()) {
                check(seen.insert(p).second);
                s.out[p] = a;
            }
        }
        const PeerConfig& cfg = *rib_.peer_config(*s.id);
        const auto held = rib_.held_back(*s.id);
        for (const auto& p : batch.newly_held_back) check(held.contains(p) && !s.out.contains(p));
        check(rib_.adj_rib_out_size(*s.id) == s.out.size());
        if (s.limit_applies && cfg.export_policy && cfg.export_policy->max_prefix_out)
            check(s.out.size() <= *cfg.export_policy->max_prefix_out);
        for (const auto& p : prefixes()) {
            const bool advertised = s.out.contains(p);
            check(!(advertised && held.contains(p)));
            check(exportable(n, p) == (advertised || held.contains(p)));
            if (!advertised) continue;
            const PathAttributes& a = s.out.at(p);
            if (p.afi == Afi::Ipv4) {
                check(a.next_hop == cfg.local_address.v4_host_order());
            } else {
                check(a.mp_reach && mp_reach_next_hop(*a.mp_reach) == cfg.local_address_v6);
            }
            if (external(n)) check(a.as_path && neighbour_as(a) == kLocalAs);
        }
        const ExportBatch again = rib_.take_updates(*s.id);
        check(again.updates.empty() && again.newly_held_back.empty());
    }

    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
    std::uint8_t config_;
    Rib rib_;
    std::array<Slot, rib_slots> slots_;
    std::map<Prefix, Origin> local_;
    std::map<Prefix, std::vector<NextHop>> fib_;  // from the FibChanges
    RibScriptResult result_;
};

}  // namespace

cgwd::fuzz::RibScriptResult cgwd::fuzz::run_rib_script(const std::uint8_t* data, std::size_t size) {
    Harness harness(data, size);
    harness.run();
    const RibScriptResult r = harness.result();
    harness.teardown();
    return r;
}

int cgwd::fuzz::fuzz_rib(const std::uint8_t* data, std::size_t size) {
    (void)run_rib_script(data, size);
    return 0;
}
