// IKE SA engine: CREATE_CHILD_SA rekeying of the CHILD_SA and of the IKE SA from either side,
// with and without PFS, simultaneous rekeys (RFC 7296 sections 1.3, 2.8, 2.8.1, 2.18), the
// rekey schedule, and dataplane lifetime events. The dataplane is modelled from the actions:
// the set of installed CHILD_SAs must never become empty while rekeying (make-before-break).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::seconds;

namespace {

Family with_pfs(Family f, std::uint16_t group) {
    f.esp.dh = {group};
    return f;
}

struct Pair {
    SeededRandom rng_i, rng_r;
    IkeSa i;
    IkeSa r;
    Link link{i, r};
    explicit Pair(const Family& f = aes256_sha256_dh14(), std::uint64_t seed = 81)
        : rng_i(seed),
          rng_r(seed + 1000),
          i(settings(true, f), rng_i),
          r(settings(false, f), rng_r) {
        i.start(link.now);
        link.pump();
        REQUIRE(i.state() == SaState::established);
        REQUIRE(r.state() == SaState::established);
    }
};

// Replays the ChildSaReady / ChildSaDeleted actions as a dataplane would; fails if the set of
// installed SAs becomes empty after the first install, or an unknown SA is deleted. Returns the
// inbound SPIs installed at the end.
std::vector<std::uint32_t> replay_dataplane(const std::vector<Action>& actions) {
    std::map<std::uint32_t, std::uint32_t> installed;  // spi_in -> spi_out
    bool up = false;
    for (const Action& a : actions) {
        if (const auto* c = std::get_if<ChildSaReady>(&a)) {
            CHECK(installed.count(c->spi_in) == 0);
            installed[c->spi_in] = c->spi_out;
            up = true;
        } else if (const auto* d = std::get_if<ChildSaDeleted>(&a)) {
            REQUIRE(installed.count(d->spi_in) == 1);
            CHECK(installed[d->spi_in] == d->spi_out);
            installed.erase(d->spi_in);
            if (up) CHECK_FALSE(installed.empty());  // no gap in traffic protection
        }
    }
    std::vector<std::uint32_t> out;
    for (const auto& [in, out_spi] : installed) out.push_back(in);
    return out;
}

void check_crosswise(const ChildSaReady& a, const ChildSaReady& b) {
    CHECK(a.spi_in == b.spi_out);
    CHECK(a.spi_out == b.spi_in);
    CHECK(a.keys_in.encr == b.keys_out.encr);
    CHECK(a.keys_in.integ == b.keys_out.integ);
    CHECK(a.keys_out.encr == b.keys_in.encr);
    CHECK_FALSE(a.keys_in.encr == a.keys_out.encr);
}

const ChildSaReady* ready_for(const std::vector<Action>& actions, std::uint32_t spi_in) {
    for (const Action& a : actions) {
        if (const auto* c = std::get_if<ChildSaReady>(&a); c && c->spi_in == spi_in) return c;
    }
    return nullptr;
}

void child_rekey(bool from_initiator, const Family& f) {
    INFO(f.name << (from_initiator ? " from the initiator" : " from the responder"));
    Pair p(f);
    IkeSa& a = from_initiator ? p.i : p.r;
    const auto old_i = of_type<ChildSaReady>(p.link.actions_i).at(0);
    const std::size_t sent_before = (from_initiator ? p.link.sent_i : p.link.sent_r).size();
    REQUIRE(a.rekey_child(p.link.now));
    CHECK_FALSE(a.rekey_child(p.link.now));  // one exchange at a time
    p.link.pump();

    // On the wire: CREATE_CHILD_SA with REKEY_SA, then an INFORMATIONAL Delete, both from `a`.
    const auto& sent = from_initiator ? p.link.sent_i : p.link.sent_r;
    REQUIRE(sent.size() == sent_before + 2);
    const Message req = decoded(sent[sent_before]);
    CHECK(req.header.exchange == ExchangeType::create_child_sa);
    CHECK(req.header.initiator == from_initiator);  // I flag: original initiator of the IKE SA
    CHECK(req.payloads.at(0).get<SkPayload>()->first_inner == PayloadType::notify);
    CHECK(decoded(sent[sent_before + 1]).header.exchange == ExchangeType::informational);

    for (auto* actions : {&p.link.actions_i, &p.link.actions_r}) {
        const auto left = replay_dataplane(*actions);
        REQUIRE(left.size() == 1);
        const auto readies = of_type<ChildSaReady>(*actions);
        REQUIRE(readies.size() == 2);
        CHECK(left[0] == readies[1].spi_in);
        // New ready before old deleted.
        std::size_t ready_at = 0, deleted_at = 0;
        for (std::size_t k = 0; k < actions->size(); ++k) {
            if (std::holds_alternative<ChildSaReady>((*actions)[k])) ready_at = k;
            if (std::holds_alternative<ChildSaDeleted>((*actions)[k])) deleted_at = k;
        }
        CHECK(ready_at < deleted_at);
        CHECK(of_type<IkeSaDown>(*actions).empty());
    }
    const auto new_i = of_type<ChildSaReady>(p.link.actions_i).at(1);
    const auto new_r = of_type<ChildSaReady>(p.link.actions_r).at(1);
    check_crosswise(new_i, new_r);
    CHECK(new_i.spi_in != old_i.spi_in);
    CHECK_FALSE(new_i.keys_in.encr == old_i.keys_in.encr);
    CHECK(of_type<ChildSaDeleted>(p.link.actions_i).at(0).spi_in == old_i.spi_in);
    CHECK(p.i.info().child->spi_in == new_i.spi_in);
    CHECK(p.i.info().child_rekeys == 1);
    CHECK(p.r.info().child_rekeys == 1);
    if (!f.esp.dh.empty()) {
        CHECK(p.i.info().child->transforms.find(config::dh_name(f.esp.dh.front())) !=
              std::string::npos);
    }

    // A second rekey works on the new SA.
    REQUIRE(p.i.rekey_child(p.link.now));
    p.link.pump();
    CHECK(replay_dataplane(p.link.actions_i).size() == 1);
    CHECK(p.i.info().child_rekeys == 2);
}

}  // namespace

TEST_CASE("rekey: CHILD_SA rekey from the initiator, no PFS", "[engine][rekey]") {
    child_rekey(true, aes256_sha256_dh14());
    child_rekey(true, aes256gcm_ecp384());
}

TEST_CASE("rekey: CHILD_SA rekey from the responder, no PFS", "[engine][rekey]") {
    child_rekey(false, aes128_sha1_dh2());
}

TEST_CASE("rekey: CHILD_SA rekey with PFS from either side", "[engine][rekey]") {
    child_rekey(true, with_pfs(aes256_sha256_dh14(), 14));
    child_rekey(false, with_pfs(aes256_sha256_dh14(), 14));
    child_rekey(false, with_pfs(aes256gcm_ecp384(), 20));
}

TEST_CASE("rekey: PFS request carries KEi and the answer KEr of the group", "[engine][rekey]") {
    Pair p(with_pfs(aes256_sha256_dh14(), 14));
    const std::size_t n = p.link.sent_i.size();
    REQUIRE(p.i.rekey_child(p.link.now));
    p.link.pump();
    // The payloads are encrypted; the sizes show the 256-octet MODP-2048 KE on both sides.
    Pair q(aes256_sha256_dh14());
    const std::size_t m = q.link.sent_i.size();
    REQUIRE(q.i.rekey_child(q.link.now));
    q.link.pump();
    CHECK(p.link.sent_i[n].size() >= q.link.sent_i[m].size() + 256);
    CHECK(p.link.sent_r[n].size() >= q.link.sent_r[m].size() + 256);
}

void ike_rekey(bool from_initiator) {
    INFO((from_initiator ? "from the initiator" : "from the responder"));
    Pair p(aes256gcm_ecp384());
    const SaInfo before = p.i.info();
    IkeSa& a = from_initiator ? p.i : p.r;
    REQUIRE(a.rekey_ike(p.link.now));
    p.link.pump();
    const SaInfo ai = p.i.info();
    const SaInfo ar = p.r.info();
    CHECK(ai.spi_i != before.spi_i);
    CHECK(ai.spi_r != before.spi_r);
    CHECK(ai.spi_i == ar.spi_i);
    CHECK(ai.spi_r == ar.spi_r);
    CHECK(ai.initiator == from_initiator);  // the rekey's initiator is the new SA's initiator
    CHECK(ar.initiator == !from_initiator);
    CHECK(ai.ike_rekeys == 1);
    CHECK(ar.ike_rekeys == 1);
    CHECK(ai.ike_transforms == before.ike_transforms);
    // The CHILD_SA moved to the new IKE SA untouched.
    CHECK(of_type<ChildSaDeleted>(p.link.actions_i).empty());
    CHECK(of_type<ChildSaDeleted>(p.link.actions_r).empty());
    CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
    CHECK(ai.child->spi_in == before.child->spi_in);
    // The old IKE SA was deleted on the old SA's SPIs by the rekey's initiator.
    const auto& sent = from_initiator ? p.link.sent_i : p.link.sent_r;
    const Message del = decoded(sent.at(sent.size() - 1));
    CHECK(del.header.exchange == ExchangeType::informational);
    CHECK(del.header.spi_i == before.spi_i);
    CHECK(del.header.spi_r == before.spi_r);

    // Message IDs restart at 0 in both directions on the new SA.
    REQUIRE(p.i.send_liveness_check(p.link.now));
    p.link.pump();
    const Message li = decoded(p.link.sent_i.back());
    CHECK(li.header.response == false);
    CHECK(li.header.message_id == 0);
    CHECK(li.header.spi_i == ai.spi_i);
    REQUIRE(p.r.send_liveness_check(p.link.now));
    p.link.pump();
    const Message lr = decoded(p.link.sent_r.back());
    CHECK(lr.header.response == false);
    CHECK(lr.header.message_id == 0);
    CHECK(p.i.next_deadline() == p.link.now + seconds(10));  // nothing outstanding
    CHECK(p.r.next_deadline() == p.link.now + seconds(10));
    // Next ones: 1 each, and a CHILD_SA rekey over the new IKE SA works.
    REQUIRE(p.i.rekey_child(p.link.now));
    p.link.pump();
    CHECK(decoded(p.link.sent_i.at(p.link.sent_i.size() - 2)).header.message_id == 1);
    CHECK(replay_dataplane(p.link.actions_i).size() == 1);
    CHECK(replay_dataplane(p.link.actions_r).size() == 1);
    CHECK(p.i.state() == SaState::established);
    CHECK(p.r.state() == SaState::established);
}

TEST_CASE("rekey: IKE SA rekey from the initiator", "[engine][rekey]") {
    ike_rekey(true);
}

TEST_CASE("rekey: IKE SA rekey from the responder", "[engine][rekey]") {
    ike_rekey(false);
}

TEST_CASE("rekey: a peer rekeying the IKE SA whose Deletes are all lost leaves at most 4 old SAs",
          "[engine][rekey]") {
    Pair p(aes256gcm_ecp384());
    // Every INFORMATIONAL request from i (its Deletes of the old IKE SAs) is lost, so r never
    // sees an old SA go and i keeps retransmitting them: both keep the old SAs around.
    p.link.drop_from_i = [](std::size_t, const Bytes& b) {
        const Message m = decoded(b);
        return m.header.exchange == ExchangeType::informational && !m.header.response;
    };
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spis;
    for (int k = 0; k < 10; ++k) {
        spis.emplace_back(p.i.info().spi_i, p.i.info().spi_r);
        REQUIRE(p.i.rekey_ike(p.link.now));
        p.link.pump();
        CHECK(p.r.info().ike_rekeys == static_cast<std::uint32_t>(k + 1));
        CHECK(p.i.info().retired_ike_sas == std::min<std::size_t>(k + 1, 4));
        CHECK(p.r.info().retired_ike_sas == std::min<std::size_t>(k + 1, 4));
    }
    CHECK(p.i.state() == SaState::established);
    CHECK(p.r.state() == SaState::established);
    CHECK(p.i.info().spi_i == p.r.info().spi_i);
    // The oldest went first: the Delete i retransmits is for one of the last four old SAs.
    p.link.advance_to(p.link.now + seconds(2));
    const Message again = decoded(p.link.sent_i.back());
    CHECK(again.header.exchange == ExchangeType::informational);
    const auto old = std::make_pair(again.header.spi_i, again.header.spi_r);
    CHECK(std::find(spis.end() - 4, spis.end(), old) != spis.end());
    // r drops its old SAs 60 s after they were retired, i when its Deletes give up.
    p.link.advance_to(p.link.now + seconds(61));
    CHECK(p.r.info().retired_ike_sas == 0);
    CHECK(replay_dataplane(p.link.actions_r).size() == 1);  // the CHILD_SA stayed throughout
}

TEST_CASE("rekey: a peer rekeying the CHILD_SA ten times and never deleting leaves 2 old ones",
          "[engine][rekey]") {
    // The peer is crafted: an honest initiator's first CREATE_CHILD_SA request, decrypted with
    // its exported keys, is the template; each crafted rekey names the previous new SA in
    // N(REKEY_SA), carries a fresh SPI and nonce, and no Delete ever follows.
    const Family f = aes256_sha256_dh14();
    SeededRandom rng_i(7), rng_r(1007), rng_craft(77);
    SaSettings si = settings(true, f);
    std::optional<crypto::SkCipher> sk_i;  // i's outbound SK_ei / SK_ai
    si.on_ike_keys = [&](const IkeSaKeysDerived& k) {
        auto c = crypto::SkCipher::create(k.cipher, k.integ, k.keys->sk_ei.reveal(),
                                          k.keys->sk_ai.reveal());
        REQUIRE(c);
        sk_i.emplace(std::move(*c));
    };
    IkeSa i(si, rng_i);
    IkeSa r(settings(false, f), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(r.state() == SaState::established);
    REQUIRE(sk_i);

    REQUIRE(i.rekey_child(link.now));
    auto out = i.take_datagrams();  // never delivered: only read
    REQUIRE(out.size() == 1);
    const Message tmpl = decoded(out[0]);
    REQUIRE(tmpl.header.exchange == ExchangeType::create_child_sa);
    auto layout = encrypted_layout(out[0]);
    REQUIRE(layout);
    const auto* sk = tmpl.payloads.back().get<SkPayload>();
    REQUIRE(sk);
    auto plain = sk_i->open(crypto::ByteView(out[0].data(), layout->body_offset), sk->body);
    REQUIRE(plain);
    auto inner = decode_payloads(sk->first_inner, *plain);
    REQUIRE(inner);

    std::vector<std::uint32_t> r_inbound;  // r's inbound SPI of each new CHILD_SA, in order
    std::vector<Bytes> r_requests;         // requests r sent (its Deletes)
    for (std::uint32_t k = 0; k < 10; ++k) {
        Bytes spi(4), nonce(32);
        const bool filled = rng_craft.fill(spi) && rng_craft.fill(nonce);
        REQUIRE(filled);
        std::vector<Payload> req = *inner;
        for (auto& pl : req) {
            if (auto* sa = std::get_if<SaPayload>(&pl.body)) sa->proposals.at(0).spi = spi;
            if (auto* n = std::get_if<NoncePayload>(&pl.body)) n->data = nonce;
        }
        Message m;
        m.header = tmpl.header;
        m.header.message_id = tmpl.header.message_id + k;
        auto body = encode_payloads(req);
        REQUIRE(body);
        m.payloads.push_back(
            Payload{PayloadType::sk, false,
                    SkPayload{req.front().type, Bytes(sk_i->sealed_size(body->size()))}});
        auto bytes = encode_message(m);
        REQUIRE(bytes);
        auto lay = encrypted_layout(*bytes);
        REQUIRE(lay);
        auto sealed =
            sk_i->seal(crypto::ByteView(bytes->data(), lay->body_offset), *body, rng_craft);
        REQUIRE(sealed);
        std::copy(sealed->begin(), sealed->end(),
                  bytes->begin() + static_cast<std::ptrdiff_t>(lay->body_offset));
        r.on_datagram(*bytes, link.now, 500, 500);
        for (auto& d : r.take_datagrams()) {
            if (!decoded(d).header.response) r_requests.push_back(d);
        }
        for (auto& a : r.take_actions()) {
            if (const auto* c = std::get_if<ChildSaReady>(&a)) {
                CHECK(c->spi_out == (std::uint32_t{spi[0]} << 24 | std::uint32_t{spi[1]} << 16 |
                                     std::uint32_t{spi[2]} << 8 | spi[3]));
                r_inbound.push_back(c->spi_in);
            }
            link.actions_r.push_back(std::move(a));
        }
        REQUIRE(r_inbound.size() == k + 1);  // the rekey was accepted
        // The next rekey names this new SA: r's outbound SPI of it, the one we chose.
        for (auto& pl : *inner) {
            if (auto* n = std::get_if<NotifyPayload>(&pl.body);
                n && n->type == NotifyType::rekey_sa)
                n->spi = spi;
        }
    }
    CHECK(r.state() == SaState::established);
    CHECK(r.info().child_rekeys == 10);
    CHECK(r.info().child->spi_in == r_inbound.back());
    // Installed at the end: the newest and the two before it; the first CHILD_SA and the seven
    // oldest rekeyed ones were removed, oldest first, never leaving none.
    const auto left = replay_dataplane(link.actions_r);
    CHECK(left.size() == 3);
    const auto deleted = of_type<ChildSaDeleted>(link.actions_r);
    REQUIRE(deleted.size() == 8);
    for (std::size_t n = 1; n < deleted.size(); ++n) CHECK(deleted[n].spi_in == r_inbound[n - 1]);
    // r tells the peer with a Delete: due at once (the loop's timer fires now).
    CHECK(r.next_deadline() == link.now);
    r.on_timer(link.now);
    for (auto& d : r.take_datagrams()) {
        if (!decoded(d).header.response) r_requests.push_back(d);
    }
    REQUIRE(r_requests.size() == 1);
    CHECK(decoded(r_requests.front()).header.exchange == ExchangeType::informational);
}

TEST_CASE("rekey: simultaneous CHILD_SA rekeys, the lowest nonce's SA is deleted",
          "[engine][rekey]") {
    for (std::uint64_t seed : {91, 92, 93, 94, 95, 96}) {
        INFO("seed " << seed);
        Pair p(aes256_sha256_dh14(), seed);
        REQUIRE(p.i.rekey_child(p.link.now));
        REQUIRE(p.r.rekey_child(p.link.now));
        p.link.pump();
        // Three SAs were created on each side (the first and two rekeys); one remains and it is
        // the same on both.
        CHECK(of_type<ChildSaReady>(p.link.actions_i).size() == 3);
        CHECK(of_type<ChildSaReady>(p.link.actions_r).size() == 3);
        const auto left_i = replay_dataplane(p.link.actions_i);
        const auto left_r = replay_dataplane(p.link.actions_r);
        REQUIRE(left_i.size() == 1);
        REQUIRE(left_r.size() == 1);
        const ChildSaReady* a = ready_for(p.link.actions_i, left_i[0]);
        const ChildSaReady* b = ready_for(p.link.actions_r, left_r[0]);
        REQUIRE(a);
        REQUIRE(b);
        check_crosswise(*a, *b);
        CHECK(left_i[0] != of_type<ChildSaReady>(p.link.actions_i)[0].spi_in);
        CHECK(p.i.info().child->spi_in == left_i[0]);
        CHECK(p.r.info().child->spi_in == left_r[0]);
        CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
        CHECK(p.i.next_deadline() == p.link.now + seconds(10));  // nothing left outstanding
        CHECK(p.r.next_deadline() == p.link.now + seconds(10));
    }
}

TEST_CASE("rekey: simultaneous IKE SA rekeys end with one IKE SA on both sides",
          "[engine][rekey]") {
    for (std::uint64_t seed : {101, 102, 103, 104}) {
        INFO("seed " << seed);
        Pair p(aes256_sha256_dh14(), seed);
        const SaInfo before = p.i.info();
        REQUIRE(p.i.rekey_ike(p.link.now));
        REQUIRE(p.r.rekey_ike(p.link.now));
        p.link.pump();
        const SaInfo ai = p.i.info();
        const SaInfo ar = p.r.info();
        CHECK(ai.spi_i == ar.spi_i);
        CHECK(ai.spi_r == ar.spi_r);
        CHECK(ai.spi_i != before.spi_i);
        CHECK(ai.initiator != ar.initiator);
        CHECK(of_type<ChildSaDeleted>(p.link.actions_i).empty());
        CHECK(of_type<ChildSaDeleted>(p.link.actions_r).empty());
        CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
        CHECK(of_type<IkeSaDown>(p.link.actions_r).empty());
        // Both redundant and old SAs were deleted: nothing outstanding, and the survivor works.
        CHECK(p.i.next_deadline() == p.link.now + seconds(10));
        CHECK(p.r.next_deadline() == p.link.now + seconds(10));
        REQUIRE(p.i.send_liveness_check(p.link.now));
        p.link.pump();
        CHECK(decoded(p.link.sent_i.back()).header.spi_i == ai.spi_i);
        CHECK(decoded(p.link.sent_r.back()).header.response);
        REQUIRE(p.i.rekey_child(p.link.now));
        p.link.pump();
        CHECK(replay_dataplane(p.link.actions_i).size() == 1);
        CHECK(replay_dataplane(p.link.actions_r).size() == 1);
    }
}

TEST_CASE("rekey: scheduled within the margin and fuzz before the lifetimes", "[engine][rekey]") {
    for (std::uint64_t seed : {111, 112, 113, 114, 115}) {
        INFO("seed " << seed);
        Pair p(aes256_sha256_dh14(), seed);
        const TimePoint t0 = p.link.now;
        for (IkeSa* e : {&p.i, &p.r}) {
            const SaInfo info = e->info();
            REQUIRE(info.next_ike_rekey);
            REQUIRE(info.child);
            REQUIRE(info.child->next_rekey);
            // Margin 270 s, fuzz 100 %: rekey in [lifetime - 540 s, lifetime - 270 s].
            CHECK(*info.next_ike_rekey <= t0 + seconds(28800 - 270));
            CHECK(*info.next_ike_rekey > t0 + seconds(28800 - 540));
            CHECK(*info.child->next_rekey <= t0 + seconds(3600 - 270));
            CHECK(*info.child->next_rekey > t0 + seconds(3600 - 540));
        }
    }
}

TEST_CASE("rekey: over 9 hours no SA reaches the AWS lifetimes (28800 s / 3600 s)",
          "[engine][rekey]") {
    Pair p(aes256gcm_ecp384(), 121);
    const TimePoint t0 = p.link.now;
    std::map<std::uint32_t, TimePoint> born;  // initiator's inbound SPI -> install time
    std::map<std::uint64_t, TimePoint> ike_born{{p.i.info().spi_i, t0}};
    born[of_type<ChildSaReady>(p.link.actions_i).at(0).spi_in] = t0;
    std::size_t seen = p.link.actions_i.size();
    std::size_t deleted = 0;
    while (p.link.now < t0 + seconds(9 * 3600)) {
        const auto d = p.i.next_deadline();
        const auto e = p.r.next_deadline();
        REQUIRE(d);
        REQUIRE(e);
        p.link.advance_to(std::min(*d, *e));
        for (; seen < p.link.actions_i.size(); ++seen) {
            const Action& a = p.link.actions_i[seen];
            if (const auto* c = std::get_if<ChildSaReady>(&a)) born[c->spi_in] = p.link.now;
            if (const auto* x = std::get_if<ChildSaDeleted>(&a)) {
                REQUIRE(born.count(x->spi_in));
                CHECK(p.link.now - born[x->spi_in] < seconds(3600));
                ++deleted;
            }
        }
        const SaInfo info = p.i.info();
        REQUIRE(info.state == SaState::established);
        if (!ike_born.count(info.spi_i)) ike_born[info.spi_i] = p.link.now;
        CHECK(p.link.now - ike_born[info.spi_i] < seconds(28800));
        CHECK(p.link.now - born[info.child->spi_in] < seconds(3600));
    }
    CHECK(deleted >= 9);
    CHECK(ike_born.size() >= 2);
    CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
    CHECK(replay_dataplane(p.link.actions_i).size() == 1);
}

TEST_CASE("rekey: dataplane soft expiry rekeys now, hard expiry deletes", "[engine][rekey]") {
    Pair p;
    const auto first = of_type<ChildSaReady>(p.link.actions_i).at(0);
    p.i.on_child_expired(first.spi_in, false, p.link.now);
    p.link.pump();
    const auto readies = of_type<ChildSaReady>(p.link.actions_i);
    REQUIRE(readies.size() == 2);
    REQUIRE(replay_dataplane(p.link.actions_i).size() == 1);

    p.i.on_child_expired(readies[1].spi_in, true, p.link.now);
    p.link.pump();
    const auto del_i = of_type<ChildSaDeleted>(p.link.actions_i);
    const auto del_r = of_type<ChildSaDeleted>(p.link.actions_r);
    REQUIRE(del_i.size() == 2);
    CHECK(del_i[1].spi_in == readies[1].spi_in);
    REQUIRE(del_r.size() == 2);
    CHECK(del_r[1].spi_out == readies[1].spi_in);  // the peer removed it too
    CHECK(p.i.state() == SaState::established);
    CHECK_FALSE(p.i.info().child);
    // Unknown SPIs are ignored.
    p.i.on_child_expired(12345, true, p.link.now);
    CHECK(p.i.take_outgoing().empty());
}
