// IKE SA engine: IKE fragmentation (RFC 7383) between two engines on a fake clock: negotiation
// in IKE_SA_INIT (2.3), SKF fragments on the wire (2.5), fragment size (2.5.1), reassembly,
// duplicates, over-limit and forged fragments, retransmission of the whole set (2.6).
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::seconds;

namespace {

// IP (20) + UDP (8): what fragment_size counts besides the IKE message on port 500.
constexpr std::size_t ip_udp = 28;

SaSettings fragmenting(bool left, const Family& f, std::size_t fragment_size) {
    SaSettings s = without_rekey(settings(left, f));
    s.fragment_size = fragment_size;
    return s;
}

bool announces(const Bytes& ike_sa_init) {
    for (const Payload& p : decoded(ike_sa_init).payloads) {
        const auto* n = p.get<NotifyPayload>();
        if (n && n->type == NotifyType::ikev2_fragmentation_supported) {
            CHECK(n->protocol == ProtocolId::none);
            CHECK(n->spi.empty());
            CHECK(n->data.empty());
            return true;
        }
    }
    return false;
}

struct Fragment {
    Header header;
    SkfPayload skf;
    std::size_t size = 0;
};

// The datagrams are the SKF fragments 1..N of one message, in order, each within `max` octets.
std::vector<Fragment> fragments_of(const std::vector<Bytes>& datagrams, std::size_t max) {
    std::vector<Fragment> out;
    for (const Bytes& d : datagrams) {
        const Message m = decoded(d);
        REQUIRE(m.payloads.size() == 1);
        const auto* skf = m.payloads[0].get<SkfPayload>();
        REQUIRE(skf != nullptr);
        CHECK(d.size() <= max);
        out.push_back(Fragment{m.header, *skf, d.size()});
    }
    REQUIRE(out.size() >= 2);
    for (std::size_t k = 0; k < out.size(); ++k) {
        CHECK(out[k].skf.fragment_number == k + 1);
        CHECK(out[k].skf.total_fragments == out.size());
        CHECK(out[k].header == out[0].header);  // same SPIs, exchange, flags, message ID
        if (k > 0) CHECK(out[k].skf.first_inner == PayloadType::none);  // 2.5: 0 but in 1
        if (k + 1 < out.size()) CHECK(out[k].size == out[0].size);      // all full but the last
    }
    return out;
}

std::vector<Bytes> slice(const std::vector<Bytes>& v, std::size_t from, std::size_t to) {
    return {v.begin() + static_cast<std::ptrdiff_t>(from),
            v.begin() + static_cast<std::ptrdiff_t>(to)};
}

// Runs IKE_SA_INIT by hand; returns nothing, leaves i's IKE_AUTH datagrams in `auth`.
std::vector<Bytes> init_exchange(IkeSa& i, IkeSa& r, TimePoint now) {
    i.start(now);
    const auto init = i.take_datagrams();
    REQUIRE(init.size() == 1);
    r.on_datagram(init[0], now);
    const auto resp = r.take_datagrams();
    REQUIRE(resp.size() == 1);
    i.on_datagram(resp[0], now);
    return i.take_datagrams();
}

}  // namespace

TEST_CASE("fragmentation: IKE_AUTH and CREATE_CHILD_SA go as SKF fragments both ways",
          "[engine][fragment]") {
    const Family family = GENERATE(aes256_sha256_dh14(), aes256gcm_ecp384());
    INFO(family.name);
    const std::size_t fragment_size = 200;
    SeededRandom rng_i(71), rng_r(72);
    IkeSa i(fragmenting(true, family, fragment_size), rng_i);
    IkeSa r(fragmenting(false, family, fragment_size), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);
    CHECK(announces(link.sent_i.at(0)));
    CHECK(announces(link.sent_r.at(0)));
    CHECK(i.info().fragmentation);
    CHECK(r.info().fragmentation);

    // IKE_AUTH: everything after IKE_SA_INIT is fragments of at most 200 - 28 octets.
    const auto req =
        fragments_of(slice(link.sent_i, 1, link.sent_i.size()), fragment_size - ip_udp);
    const auto resp =
        fragments_of(slice(link.sent_r, 1, link.sent_r.size()), fragment_size - ip_udp);
    CHECK(req[0].header.exchange == ExchangeType::ike_auth);
    CHECK(req[0].skf.first_inner == PayloadType::idi);  // the first payload of the inner chain
    CHECK(resp[0].header.exchange == ExchangeType::ike_auth);
    CHECK(resp[0].header.response);
    CHECK(resp[0].skf.first_inner == PayloadType::idr);
    if (family.ike.integ.empty()) {
        // AES-GCM has no padding: full fragments fill the 200-octet IP datagram exactly.
        CHECK(req[0].size == fragment_size - ip_udp);
        CHECK(resp[0].size == fragment_size - ip_udp);
    }
    const auto a = of_type<ChildSaReady>(link.actions_i).at(0);
    const auto b = of_type<ChildSaReady>(link.actions_r).at(0);
    CHECK(a.spi_in == b.spi_out);
    CHECK(a.keys_in.encr == b.keys_out.encr);
    CHECK(a.keys_out.encr == b.keys_in.encr);

    // CHILD_SA rekey from the responder side: request and response fragmented too.
    const std::size_t before_i = link.sent_i.size(), before_r = link.sent_r.size();
    REQUIRE(r.rekey_child(link.now));
    link.pump();
    const auto rekeys_r = of_type<ChildSaReady>(link.actions_r);
    const auto rekeys_i = of_type<ChildSaReady>(link.actions_i);
    REQUIRE(rekeys_r.size() == 2);
    REQUIRE(rekeys_i.size() == 2);
    CHECK(rekeys_r[1].spi_in == rekeys_i[1].spi_out);
    CHECK(rekeys_r[1].keys_in.encr == rekeys_i[1].keys_out.encr);
    // r sent the CREATE_CHILD_SA request (fragments), then the Delete of the old CHILD_SA.
    const auto sent_r = slice(link.sent_r, before_r, link.sent_r.size());
    const auto sent_i = slice(link.sent_i, before_i, link.sent_i.size());
    std::vector<Bytes> create_req, create_resp;
    for (const Bytes& d : sent_r) {
        if (decoded(d).header.exchange == ExchangeType::create_child_sa) create_req.push_back(d);
    }
    for (const Bytes& d : sent_i) {
        if (decoded(d).header.exchange == ExchangeType::create_child_sa) create_resp.push_back(d);
    }
    const auto cr = fragments_of(create_req, fragment_size - ip_udp);
    CHECK(cr[0].skf.first_inner == PayloadType::notify);  // N(REKEY_SA) first
    fragments_of(create_resp, fragment_size - ip_udp);
    CHECK(of_type<ChildSaDeleted>(link.actions_i).size() == 1);

    // IKE SA rekey from the initiator: its KE payload makes the biggest message.
    REQUIRE(i.rekey_ike(link.now));
    link.pump();
    CHECK(i.info().ike_rekeys == 1);
    CHECK(r.info().ike_rekeys == 1);
    CHECK(i.state() == SaState::established);
    CHECK(i.info().fragmentation);  // kept by the rekeyed IKE SA
    REQUIRE(i.send_liveness_check(link.now));
    link.pump();
    CHECK(i.state() == SaState::established);

    CHECK(i.info().fragments_dropped == 0);
    CHECK(r.info().fragments_dropped == 0);
    CHECK(i.info().fragments_sent >= 2 * 3);
    CHECK(i.info().fragments_received == r.info().fragments_sent);
    CHECK(r.info().fragments_received == i.info().fragments_sent);
}

TEST_CASE("fragmentation: on port 4500 the non-ESP marker counts against the fragment size",
          "[engine][fragment]") {
    const std::size_t fragment_size = 180;
    SeededRandom rng_i(85), rng_r(86);
    SaSettings is = fragmenting(true, aes256gcm_ecp384(), fragment_size);
    is.force_encap = true;  // both float to 4500 for IKE_AUTH
    IkeSa i(is, rng_i);
    IkeSa r(fragmenting(false, aes256gcm_ecp384(), fragment_size), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    std::vector<Bytes> from_i, from_r;
    for (const OutDatagram& d : link.out_i) {
        if (d.local_port == 4500 && !d.keepalive) from_i.push_back(d.bytes);
    }
    for (const OutDatagram& d : link.out_r) {
        if (d.local_port == 4500 && !d.keepalive) from_r.push_back(d.bytes);
    }
    // IP 20 + UDP 8 + marker 4: GCM fragments fill exactly fragment_size - 32 octets of IKE.
    const auto req = fragments_of(from_i, fragment_size - ip_udp - 4);
    const auto resp = fragments_of(from_r, fragment_size - ip_udp - 4);
    CHECK(req[0].size == fragment_size - ip_udp - 4);
    CHECK(resp[0].size == fragment_size - ip_udp - 4);
}

TEST_CASE("fragmentation: fragments out of order and duplicated, message handled once",
          "[engine][fragment]") {
    SeededRandom rng_i(73), rng_r(74);
    IkeSa i(fragmenting(true, aes256_sha256_dh14(), 140), rng_i);
    IkeSa r(fragmenting(false, aes256_sha256_dh14(), 140), rng_r);
    const TimePoint now{};
    const auto auth = init_exchange(i, r, now);
    REQUIRE(auth.size() >= 3);
    const std::size_t n = auth.size();

    // Last first, each twice, fragment 1 last: nothing happens before the set is complete.
    for (std::size_t k = n; k-- > 1;) {
        r.on_datagram(auth[k], now);
        r.on_datagram(auth[k], now);
        CHECK(r.take_datagrams().empty());
        CHECK(r.state() == SaState::init_replied);
    }
    r.on_datagram(auth[0], now);
    const auto resp = r.take_datagrams();
    REQUIRE(r.state() == SaState::established);
    REQUIRE(resp.size() >= 2);
    CHECK(r.info().fragments_received == n);  // duplicates not kept twice
    CHECK(r.info().fragments_dropped == 0);
    CHECK(of_type<IkeSaUp>(r.take_actions()).size() == 1);

    // The whole set again (a retransmission crossing our answer): the cached response once,
    // on fragment 1 only; nothing processed twice.
    for (const Bytes& d : auth) r.on_datagram(d, now);
    CHECK(r.take_datagrams() == resp);
    CHECK(of_type<IkeSaUp>(r.take_actions()).empty());

    // The response to the initiator in a shuffled order with a duplicate.
    std::vector<Bytes> shuffled(resp.rbegin(), resp.rend());
    shuffled.insert(shuffled.begin() + 1, resp.back());
    for (const Bytes& d : shuffled) i.on_datagram(d, now);
    CHECK(i.state() == SaState::established);
    CHECK(i.info().fragments_received == resp.size());
    CHECK(of_type<ChildSaReady>(i.take_actions()).size() == 1);
}

TEST_CASE("fragmentation: a lost fragment is recovered by retransmitting the whole set",
          "[engine][fragment]") {
    SeededRandom rng_i(75), rng_r(76);
    IkeSa i(fragmenting(true, aes256gcm_ecp384(), 160), rng_i);
    IkeSa r(fragmenting(false, aes256gcm_ecp384(), 160), rng_r);
    Link link{i, r};
    // Lose the second IKE_AUTH request fragment and, later, the first response fragment.
    link.drop_from_i = [](std::size_t n, const Bytes&) { return n == 2; };
    link.drop_from_r = [](std::size_t n, const Bytes&) { return n == 1; };
    const TimePoint t0 = link.now;
    i.start(t0);
    link.pump();
    CHECK(r.state() == SaState::init_replied);  // incomplete set: nothing answered
    CHECK(i.state() == SaState::auth_sent);
    const std::size_t n = link.sent_i.size() - 1;
    REQUIRE(n >= 2);
    REQUIRE(link.sent_r.size() == 1);

    // 1 s: all n fragments again, byte for byte; r completes the set and answers (fragment 1
    // of its answer is lost); 3 s: again, and r answers from its cache exactly once.
    link.advance_to(t0 + seconds(1));
    REQUIRE(link.sent_i.size() == 1 + 2 * n);
    CHECK(slice(link.sent_i, 1 + n, 1 + 2 * n) == slice(link.sent_i, 1, 1 + n));
    CHECK(r.state() == SaState::established);
    CHECK(i.state() == SaState::auth_sent);
    const std::size_t m = link.sent_r.size() - 1;
    REQUIRE(m >= 2);
    link.advance_to(t0 + seconds(3));
    REQUIRE(link.sent_i.size() == 1 + 3 * n);
    REQUIRE(link.sent_r.size() == 1 + 2 * m);
    CHECK(slice(link.sent_r, 1 + m, 1 + 2 * m) == slice(link.sent_r, 1, 1 + m));
    CHECK(i.state() == SaState::established);
    CHECK(of_type<ChildSaReady>(link.actions_r).size() == 1);
    CHECK(of_type<ChildSaReady>(link.actions_i).size() == 1);
}

TEST_CASE("fragmentation: over-count, oversized and forged fragments are dropped and counted",
          "[engine][fragment]") {
    SeededRandom rng_i(77), rng_r(78);
    SaSettings rs = fragmenting(false, aes256_sha256_dh14(), 1280);
    SECTION("more fragments than max_fragments") {
        rs.max_fragments = 3;
        IkeSa i(fragmenting(true, aes256_sha256_dh14(), 120), rng_i);
        IkeSa r(rs, rng_r);
        const auto auth = init_exchange(i, r, TimePoint{});
        REQUIRE(auth.size() > 3);
        for (const Bytes& d : auth) r.on_datagram(d, TimePoint{});
        CHECK(r.take_datagrams().empty());
        CHECK(r.state() == SaState::init_replied);
        CHECK(r.info().fragments_received == 0);
        CHECK(r.info().fragments_dropped == auth.size());
    }
    SECTION("more plaintext than max_reassembly_size") {
        rs.max_reassembly_size = 120;
        IkeSa i(fragmenting(true, aes256_sha256_dh14(), 140), rng_i);
        IkeSa r(rs, rng_r);
        const auto auth = init_exchange(i, r, TimePoint{});
        REQUIRE(auth.size() >= 3);
        for (const Bytes& d : auth) r.on_datagram(d, TimePoint{});
        CHECK(r.take_datagrams().empty());
        CHECK(r.state() == SaState::init_replied);
        CHECK(r.info().fragments_dropped >= 1);
    }
    SECTION("forged, renumbered and truncated fragments") {
        IkeSa i(fragmenting(true, aes256_sha256_dh14(), 140), rng_i);
        IkeSa r(rs, rng_r);
        const auto auth = init_exchange(i, r, TimePoint{});
        REQUIRE(auth.size() >= 3);
        const std::size_t skf_at = header_size;  // the SKF payload follows the IKE header
        Bytes bad_icv = auth[1];
        bad_icv.back() ^= 0x01;
        Bytes zero = auth[1];  // Fragment Number 0
        zero[skf_at + 4] = 0;
        zero[skf_at + 5] = 0;
        Bytes beyond = auth[1];  // Fragment Number > Total Fragments
        beyond[skf_at + 4] = 0x01;
        Bytes renumbered = auth[1];  // a valid-looking number, but not what was authenticated
        renumbered[skf_at + 5] = static_cast<std::uint8_t>(auth.size());
        Bytes truncated(auth[1].begin(), auth[1].end() - 1);
        for (const Bytes* d : {&bad_icv, &zero, &beyond, &renumbered}) {
            r.on_datagram(*d, TimePoint{});
        }
        r.on_datagram(truncated, TimePoint{});  // header length mismatch: not even decoded
        CHECK(r.info().fragments_dropped == 4);
        CHECK(r.info().fragments_received == 0);
        CHECK(r.take_datagrams().empty());
        // The genuine set still completes afterwards.
        for (const Bytes& d : auth) r.on_datagram(d, TimePoint{});
        CHECK(r.state() == SaState::established);
        CHECK(r.info().fragments_received == auth.size());
    }
}

TEST_CASE("fragmentation: not used unless both sides announced it", "[engine][fragment]") {
    const bool initiator_off = GENERATE(true, false);
    INFO((initiator_off ? "initiator" : "responder") << " has fragmentation off");
    SeededRandom rng_i(81), rng_r(82);
    SaSettings is = fragmenting(true, aes256_sha256_dh14(), 150);
    SaSettings rs = fragmenting(false, aes256_sha256_dh14(), 150);
    (initiator_off ? is : rs).fragmentation = false;
    IkeSa i(is, rng_i);
    IkeSa r(rs, rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    CHECK(announces(link.sent_i.at(0)) == !initiator_off);
    CHECK_FALSE(announces(link.sent_r.at(0)));  // never announced back unasked or when off
    CHECK_FALSE(i.info().fragmentation);
    CHECK_FALSE(r.info().fragmentation);
    // One SK datagram per message though larger than fragment_size.
    REQUIRE(link.sent_i.size() == 2);
    REQUIRE(link.sent_r.size() == 2);
    CHECK(decoded(link.sent_i[1]).payloads.at(0).type == PayloadType::sk);
    CHECK(link.sent_i[1].size() > 150 - ip_udp);
    CHECK(i.info().fragments_sent == 0);
}

TEST_CASE("fragmentation: SKF fragments are dropped on an SA that did not negotiate it",
          "[engine][fragment]") {
    // Both support it, but the responder's announcement is stripped on the way: the responder
    // fragments its IKE_AUTH response, the initiator must not accept fragments.
    SeededRandom rng_i(83), rng_r(84);
    IkeSa i(fragmenting(true, aes256_sha256_dh14(), 150), rng_i);
    IkeSa r(fragmenting(false, aes256_sha256_dh14(), 150), rng_r);
    const TimePoint now{};
    i.start(now);
    r.on_datagram(i.take_datagrams().at(0), now);
    Message resp = decoded(r.take_datagrams().at(0));
    std::erase_if(resp.payloads, [](const Payload& p) {
        const auto* n = p.get<NotifyPayload>();
        return n && n->type == NotifyType::ikev2_fragmentation_supported;
    });
    auto stripped = encode_message(resp);
    REQUIRE(stripped.has_value());
    i.on_datagram(*stripped, now);
    const auto auth = i.take_datagrams();
    REQUIRE(auth.size() == 1);  // not fragmented
    CHECK_FALSE(i.info().fragmentation);
    r.on_datagram(auth[0], now);
    REQUIRE(r.state() == SaState::established);
    const auto answer = r.take_datagrams();
    REQUIRE(answer.size() >= 2);  // r fragments
    for (const Bytes& d : answer) i.on_datagram(d, now);
    CHECK(i.state() == SaState::auth_sent);
    CHECK(i.info().fragments_dropped == answer.size());
    CHECK(i.info().fragments_received == 0);
}
