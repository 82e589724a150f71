// ESP (RFC 4303) tunnel-mode processing: published known-answer vectors, round trips, replay,
// integrity failures, sequence exhaustion and lifetimes.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <random>

#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/icv.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::dataplane::test::Bytes;
using cgwd::dataplane::test::concat;
using cgwd::dataplane::test::hex;
using cgwd::dataplane::test::to_hex;
namespace cfg = cgwd::config;

namespace {

SaConfig make_sa(Direction dir, std::uint32_t spi, cfg::Cipher cipher, std::uint16_t integ,
                 const Bytes& enc_key, const Bytes& integ_key, bool esn = false) {
    SaConfig sa;
    sa.direction = dir;
    sa.spi = spi;
    sa.src = *cfg::Ipv4Address::parse("192.0.2.1");
    sa.dst = *cfg::Ipv4Address::parse("192.0.2.2");
    sa.cipher = cipher;
    sa.integ = integ;
    sa.enc_key = KeyBytes(enc_key);
    sa.integ_key = KeyBytes(integ_key);
    sa.esn = esn;
    sa.replay_window = 64;
    return sa;
}

EspSa create(const SaConfig& sa) {
    auto r = EspSa::create(sa);
    if (!r) FAIL("EspSa::create: " << r.error().message);
    return std::move(*r);
}

// Truncated HMAC computed with OpenSSL's one-shot HMAC(), independently of IcvHmac.
Bytes oneshot_hmac(const EVP_MD* md, const Bytes& key, const Bytes& data, std::size_t len) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned out_len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
         &out_len);
    return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(len));
}

// A minimal valid inner IPv4 packet of `total` bytes (header checksum not needed here).
Bytes inner_packet(std::size_t total, std::uint8_t seed) {
    Bytes p(total, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[8] = 64;
    p[9] = 17;
    for (std::size_t i = 20; i < total; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 7);
    return p;
}

// Builds an AES-GCM ESP packet from an arbitrary plaintext (payload + trailer) with raw EVP
// calls, so tests can produce authentic packets with malformed trailers.
Bytes raw_gcm_packet(const Bytes& key_and_salt, std::uint32_t spi, std::uint32_t seq,
                     const Bytes& iv, const Bytes& plaintext) {
    const std::size_t aes_len = key_and_salt.size() - 4;
    Bytes nonce(key_and_salt.end() - 4, key_and_salt.end());
    nonce.insert(nonce.end(), iv.begin(), iv.end());
    Bytes header{static_cast<std::uint8_t>(spi >> 24), static_cast<std::uint8_t>(spi >> 16),
                 static_cast<std::uint8_t>(spi >> 8),  static_cast<std::uint8_t>(spi),
                 static_cast<std::uint8_t>(seq >> 24), static_cast<std::uint8_t>(seq >> 16),
                 static_cast<std::uint8_t>(seq >> 8),  static_cast<std::uint8_t>(seq)};
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = aes_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    Bytes ct(plaintext.size());
    Bytes tag(16);
    int len = 0;
    EVP_EncryptInit_ex(ctx, cipher, nullptr, key_and_salt.data(), nonce.data());
    EVP_EncryptUpdate(ctx, nullptr, &len, header.data(), 8);
    EVP_EncryptUpdate(ctx, ct.data(), &len, plaintext.data(), static_cast<int>(plaintext.size()));
    EVP_EncryptFinal_ex(ctx, ct.data() + len, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data());
    EVP_CIPHER_CTX_free(ctx);
    return concat(concat(concat(header, iv), ct), tag);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Integrity transforms
// ---------------------------------------------------------------------------------------------

TEST_CASE("IcvHmac: RFC 4868 section 2.7.2 AUTH vectors and RFC 2202 case 5 (SHA1-96)") {
    struct Vector {
        std::uint16_t integ;
        Bytes key;
        Bytes data;
        const char* icv;
    };
    const Bytes hi_there = hex("4869205468657265");  // "Hi There"
    const std::vector<Vector> vectors = {
        // RFC 4868 2.7.2.1 AUTH256-1 .. AUTH256-4
        {cfg::integ::hmac_sha2_256_128, Bytes(32, 0x0b), hi_there,
         "198a607eb44bfbc69903a0f1cf2bbdc5"},
        {cfg::integ::hmac_sha2_256_128,
         hex("4a6566654a6566654a6566654a6566654a6566654a656665"
             "4a6566654a656665"),
         hex("7768617420646f2079612077616e7420666f72206e6f7468696e673f"),
         "167f928588c5cc2eef8e3093caa0e87c"},
        {cfg::integ::hmac_sha2_256_128, Bytes(32, 0xaa), Bytes(50, 0xdd),
         "cdcb1220d1ecccea91e53aba3092f962"},
        {cfg::integ::hmac_sha2_256_128,
         hex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"), Bytes(50, 0xcd),
         "372efcf9b40b35c2115b1346903d2ef4"},
        // RFC 4868 2.7.2.2 AUTH384-1, 2.7.2.3 AUTH512-1
        {cfg::integ::hmac_sha2_384_192, Bytes(48, 0x0b), hi_there,
         "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
        {cfg::integ::hmac_sha2_512_256, Bytes(64, 0x0b), hi_there,
         "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
        // RFC 2202 test case 5 (digest-96), the truncation RFC 2404 specifies
        {cfg::integ::hmac_sha1_96, Bytes(20, 0x0c),
         Bytes{'T', 'e', 's', 't', ' ', 'W', 'i', 't', 'h', ' ',
               'T', 'r', 'u', 'n', 'c', 'a', 't', 'i', 'o', 'n'},
         "4c1a03424b55e07fe7f27be1"},
    };
    for (const auto& v : vectors) {
        auto h = IcvHmac::create(v.integ, v.key);
        REQUIRE(h);
        std::array<std::uint8_t, 32> icv{};
        REQUIRE(h->compute(v.data, std::nullopt, icv.data()));
        CHECK(to_hex(icv.data(), h->icv_length()) == v.icv);
        // Same context again (re-initialised with the stored key) gives the same answer.
        REQUIRE(h->compute(v.data, std::nullopt, icv.data()));
        CHECK(to_hex(icv.data(), h->icv_length()) == v.icv);
    }
}

TEST_CASE("IcvHmac: ESN high bits are appended to the covered data (RFC 4303 2.2.1)") {
    auto h = IcvHmac::create(cfg::integ::hmac_sha2_256_128, Bytes(32, 0x0b));
    REQUIRE(h);
    // "Hi T" followed by the high half 0x68657265 ("here") is "Hi There": AUTH256-1.
    const Bytes first = hex("48692054");
    std::array<std::uint8_t, 16> icv{};
    REQUIRE(h->compute(first, 0x68657265u, icv.data()));
    CHECK(to_hex(icv.data(), 16) == "198a607eb44bfbc69903a0f1cf2bbdc5");
    CHECK_FALSE(IcvHmac::create(cfg::integ::hmac_sha2_256_128, Bytes(20, 0)).has_value());
}

// ---------------------------------------------------------------------------------------------
// AES-CBC: RFC 3602 section 4, cases 7 and 8 (tunnel-mode ESP packets, 128-bit key). The RFC's
// packets carry no ICV; we append HMAC-SHA1-96 computed independently with HMAC().
// ---------------------------------------------------------------------------------------------

TEST_CASE("ESP AES-CBC: RFC 3602 cases 7 and 8 reproduced byte for byte and decapsulated") {
    struct Case {
        const char* name;
        std::uint32_t seq;
        const char* iv;
        const char* inner;   // "Original packet"
        const char* packet;  // "Ciphertext" with ESP header: SPI | seq | IV | ciphertext
    };
    const Case cases[] = {
        {"case 7", 2, "f4e765244f6407adf13dc1380f673f37",
         "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d"
         "0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca9"
         "6cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2dec"
         "d136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"},
        {"case 8", 5, "85d47224b5f3dd5d2101d4ea8dffab22",
         "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300"
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
         "000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe453"
         "18e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207"
         "ed971ef3d2726d9b5ef6affc6d17a0decbb13892"},
    };
    const Bytes key = hex("0123456789abcdef0123456789abcdef");
    const Bytes integ_key(20, 0x5a);
    for (const auto& c : cases) {
        INFO(c.name);
        const Bytes inner = hex(c.inner);
        REQUIRE(inner.size() == (std::size_t{inner[2]} << 8 | inner[3]));  // IPv4 total length
        const Bytes rfc_packet = hex(c.packet);
        const Bytes icv = oneshot_hmac(EVP_sha1(), integ_key, rfc_packet, 12);

        EspSa out = create(make_sa(Direction::outbound, 0x8765, {cfg::encr::aes_cbc, 128},
                                   cfg::integ::hmac_sha1_96, key, integ_key));
        out.set_next_sequence_for_testing(c.seq);
        out.force_next_iv_for_testing(hex(c.iv));
        Bytes wire(out.encapsulated_size(inner.size()));
        auto n = out.encapsulate(inner, wire);
        REQUIRE(n);
        REQUIRE(*n == rfc_packet.size() + 12);
        CHECK(to_hex(wire) == to_hex(concat(rfc_packet, icv)));

        EspSa in = create(make_sa(Direction::inbound, 0x8765, {cfg::encr::aes_cbc, 128},
                                  cfg::integ::hmac_sha1_96, key, integ_key));
        Bytes plain(wire.size());
        auto d = in.decapsulate(wire, plain);
        REQUIRE(d);
        CHECK(d->seq == c.seq);
        CHECK(d->next_header == 4);
        CHECK(to_hex(plain.data(), d->length) == c.inner);
        CHECK(in.counters().packets == 1);
        CHECK(in.counters().bytes == inner.size());
    }
}

// ---------------------------------------------------------------------------------------------
// AES-GCM: draft-mcgrew-gcm-test-01 section 4 ("Test Cases for the use of GCM and GMAC in IPsec
// ESP"). Its plaintexts end in the ESP trailer (pad 01 02, pad length 2, next header 1).
// ---------------------------------------------------------------------------------------------

TEST_CASE("ESP AES-GCM-256: draft-mcgrew-gcm-test-01 (SPI 4a2cbfe3, seq 2) byte for byte") {
    const Bytes key_salt =
        hex("abbccddef00112233445566778899aababbccddef00112233445566778899aab"
            "11223344");
    const Bytes iv = hex("0102030405060708");
    const Bytes plaintext =
        hex("4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405"
            "b40101040201020201");
    const Bytes expected = concat(
        concat(hex("4a2cbfe300000002"), iv),
        hex("ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f"
            "0545659f14e99def842d8e"
            "b335f4eecfdbf831824b4c4915956c96"));
    const Bytes payload(plaintext.begin(), plaintext.end() - 4);  // without 01 02 | 02 | 01

    EspSa out = create(make_sa(Direction::outbound, 0x4a2cbfe3, {cfg::encr::aes_gcm_16, 256},
                               cfg::integ::none, key_salt, {}));
    out.set_next_sequence_for_testing(2);
    out.force_next_iv_for_testing(iv);
    Bytes wire(out.encapsulated_size(payload.size()));
    auto n = out.seal(payload, 1, wire);
    REQUIRE(n);
    CHECK(to_hex(wire) == to_hex(expected));

    EspSa in = create(make_sa(Direction::inbound, 0x4a2cbfe3, {cfg::encr::aes_gcm_16, 256},
                              cfg::integ::none, key_salt, {}));
    Bytes plain(expected.size());
    auto d = in.open(expected, plain);
    REQUIRE(d);
    CHECK(d->seq == 2);
    CHECK(d->next_header == 1);
    CHECK(to_hex(plain.data(), d->length) == to_hex(payload));

    // Tunnel mode accepts only Next Header 4: the same authentic packet is refused, counted
    // with the integrity failures, and does not advance the window.
    EspSa tunnel = create(make_sa(Direction::inbound, 0x4a2cbfe3, {cfg::encr::aes_gcm_16, 256},
                                  cfg::integ::none, key_salt, {}));
    auto t = tunnel.decapsulate(expected, plain);
    REQUIRE_FALSE(t);
    CHECK(t.error() == Drop::integrity);
    CHECK(tunnel.counters().integrity_failures == 1);
    CHECK(tunnel.replay_window().highest() == 0);
}

TEST_CASE("ESP AES-GCM-128 with ESN: draft-mcgrew-gcm-test-01 (ESN 0x8765432100000000)") {
    // AAD = SPI | ESN high | ESN low = 00004321 87654321 00000000 (RFC 4106 section 5); only
    // the low half is on the wire. The receiver infers the high half across the 2^32 boundary.
    const Bytes key_salt =
        hex("4c80cdefbb5d10da906ac73c3613a634"
            "2e443b68");
    const Bytes iv = hex("4956ed7e3b244cfe");
    const Bytes plaintext =
        hex("45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f"
            "756470037369700963796265726369747902646b000021000101020201");
    const Bytes expected = concat(
        concat(hex("0000432100000000"), iv),
        hex("fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf6592"
            "5bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732"
            "459018148f6cbe722fd04796562dfdb4"));
    const Bytes payload(plaintext.begin(), plaintext.end() - 4);
    const std::uint64_t esn = 0x8765'4321'0000'0000ull;

    SaConfig out_cfg = make_sa(Direction::outbound, 0x4321, {cfg::encr::aes_gcm_16, 128},
                               cfg::integ::none, key_salt, {}, true);
    EspSa out = create(out_cfg);
    out.set_next_sequence_for_testing(esn);
    out.force_next_iv_for_testing(iv);
    Bytes wire(out.encapsulated_size(payload.size()));
    REQUIRE(out.seal(payload, 1, wire));
    CHECK(to_hex(wire) == to_hex(expected));

    SaConfig in_cfg = out_cfg;
    in_cfg.direction = Direction::inbound;
    EspSa in = create(in_cfg);
    Bytes plain(2048);
    // Before anything was received the high half is 0, so the vector cannot verify.
    auto early = in.open(expected, plain);
    REQUIRE_FALSE(early);
    CHECK(early.error() == Drop::replay);  // seq 0 with high half 0 is never valid

    // Continue from replay state just below the boundary, then receive one more packet from
    // the same sender key so the window's top is 0x87654320ffffffff.
    in.restore_replay_state(esn - 2);
    EspSa primer = create(out_cfg);
    primer.set_next_sequence_for_testing(esn - 1);  // 0x87654320ffffffff
    const Bytes inner = inner_packet(40, 1);
    Bytes p(primer.encapsulated_size(inner.size()));
    REQUIRE(primer.encapsulate(inner, p));
    auto first = in.decapsulate(p, plain);
    REQUIRE(first);
    CHECK(first->seq == esn - 1);

    auto d = in.open(expected, plain);
    REQUIRE(d);
    CHECK(d->seq == esn);
    CHECK(d->next_header == 1);
    CHECK(to_hex(plain.data(), d->length) == to_hex(payload));
}

// ---------------------------------------------------------------------------------------------
// Round trips for every transform, with and without ESN
// ---------------------------------------------------------------------------------------------

TEST_CASE("ESP round trip for every cipher and integrity transform") {
    struct Suite {
        cfg::Cipher cipher;
        std::uint16_t integ;
        std::size_t enc_len;
        std::size_t integ_len;
        std::size_t iv_len;
        std::size_t icv_len;
        std::size_t block;
    };
    const Suite suites[] = {
        {{cfg::encr::aes_gcm_16, 128}, cfg::integ::none, 20, 0, 8, 16, 4},
        {{cfg::encr::aes_gcm_16, 256}, cfg::integ::none, 36, 0, 8, 16, 4},
        {{cfg::encr::aes_cbc, 128}, cfg::integ::hmac_sha1_96, 16, 20, 16, 12, 16},
        {{cfg::encr::aes_cbc, 128}, cfg::integ::hmac_sha2_256_128, 16, 32, 16, 16, 16},
        {{cfg::encr::aes_cbc, 256}, cfg::integ::hmac_sha2_256_128, 32, 32, 16, 16, 16},
        {{cfg::encr::aes_cbc, 256}, cfg::integ::hmac_sha2_384_192, 32, 48, 16, 24, 16},
        {{cfg::encr::aes_cbc, 256}, cfg::integ::hmac_sha2_512_256, 32, 64, 16, 32, 16},
    };
    std::mt19937 rng(4303);
    for (const auto& s : suites) {
        for (bool esn : {false, true}) {
            INFO("cipher " << s.cipher.id << "/" << s.cipher.key_bits << " integ " << s.integ
                           << " esn " << esn);
            Bytes ek(s.enc_len), ik(s.integ_len);
            for (auto& b : ek) b = static_cast<std::uint8_t>(rng());
            for (auto& b : ik) b = static_cast<std::uint8_t>(rng());
            EspSa out =
                create(make_sa(Direction::outbound, 0x1000, s.cipher, s.integ, ek, ik, esn));
            EspSa in = create(make_sa(Direction::inbound, 0x1000, s.cipher, s.integ, ek, ik, esn));
            REQUIRE(out.icv_length() == s.icv_len);
            REQUIRE(out.iv_length() == s.iv_len);
            Bytes previous_iv;
            for (std::size_t len : {20u, 21u, 33u, 64u, 577u, 1400u, 1436u}) {
                const Bytes inner = inner_packet(len, static_cast<std::uint8_t>(len));
                Bytes wire(out.encapsulated_size(inner.size()));
                auto n = out.encapsulate(inner, wire);
                REQUIRE(n);
                REQUIRE(*n == wire.size());
                const std::size_t ct = *n - 8 - s.iv_len - s.icv_len;
                CHECK(ct % s.block == 0);
                CHECK(ct >= len + 2);
                CHECK(ct < len + 2 + s.block);
                // Header: SPI and the low half of the sequence number in network order.
                CHECK(to_hex(wire.data(), 4) == "00001000");
                // The inner packet does not appear in clear.
                if (len >= 36)
                    CHECK(std::search(wire.begin(), wire.end(), inner.begin() + 20,
                                      inner.begin() + 36) == wire.end());
                Bytes iv(wire.begin() + 8, wire.begin() + 8 + static_cast<long>(s.iv_len));
                CHECK(iv != previous_iv);
                previous_iv = iv;
                Bytes plain(wire.size());
                auto d = in.decapsulate(wire, plain);
                REQUIRE(d);
                CHECK(d->length == len);
                CHECK(std::equal(inner.begin(), inner.end(), plain.begin()));
            }
            CHECK(in.counters().packets == 7);
            CHECK(out.counters().packets == 7);
            CHECK(in.counters().bytes == out.counters().bytes);
        }
    }
}

TEST_CASE("ESP encapsulation in place and buffer too small") {
    const Bytes key(20, 7);
    EspSa out = create(make_sa(Direction::outbound, 0x2000, {cfg::encr::aes_gcm_16, 128},
                               cfg::integ::none, key, {}));
    EspSa in = create(make_sa(Direction::inbound, 0x2000, {cfg::encr::aes_gcm_16, 128},
                              cfg::integ::none, key, {}));
    const Bytes inner = inner_packet(100, 3);
    Bytes small(out.encapsulated_size(inner.size()) - 1);
    auto r = out.encapsulate(inner, small);
    REQUIRE_FALSE(r);
    CHECK(r.error() == Drop::buffer_too_small);
    CHECK(out.next_sequence() == 1);  // no sequence number consumed

    // Inner packet already at offset 16 (header + IV) of the output buffer.
    Bytes buf(out.encapsulated_size(inner.size()));
    std::copy(inner.begin(), inner.end(), buf.begin() + 16);
    auto n = out.encapsulate(std::span(buf).subspan(16, inner.size()), buf);
    REQUIRE(n);
    Bytes plain(buf.size());
    auto d = in.decapsulate(buf, plain);
    REQUIRE(d);
    CHECK(std::equal(inner.begin(), inner.end(), plain.begin()));
}

// ---------------------------------------------------------------------------------------------
// Failures: tampering, padding, truncation, SPI, replay
// ---------------------------------------------------------------------------------------------

TEST_CASE("ESP tampered packets: one integrity disposition, window untouched") {
    for (bool gcm : {true, false}) {
        INFO((gcm ? "AES-GCM" : "AES-CBC/HMAC-SHA2-256"));
        const cfg::Cipher cipher{gcm ? cfg::encr::aes_gcm_16 : cfg::encr::aes_cbc, 128};
        const std::uint16_t integ = gcm ? cfg::integ::none : cfg::integ::hmac_sha2_256_128;
        const Bytes ek(gcm ? 20 : 16, 0x42), ik(gcm ? 0 : 32, 0x24);
        EspSa out = create(make_sa(Direction::outbound, 0x3000, cipher, integ, ek, ik));
        EspSa in = create(make_sa(Direction::inbound, 0x3000, cipher, integ, ek, ik));
        const Bytes inner = inner_packet(60, 9);
        Bytes wire(out.encapsulated_size(inner.size()));
        REQUIRE(out.encapsulate(inner, wire));  // seq 1, not delivered
        REQUIRE(out.encapsulate(inner, wire));  // seq 2: no single bit flip makes it 0
        Bytes plain(wire.size());

        std::uint64_t failures = 0;
        // Every byte after the SPI: sequence number, IV, ciphertext, ICV.
        for (std::size_t i = 4; i < wire.size(); ++i) {
            Bytes bad = wire;
            bad[i] ^= 0x01;
            auto r = in.decapsulate(bad, plain);
            REQUIRE_FALSE(r);
            REQUIRE(r.error() == Drop::integrity);
            ++failures;
            // Nothing of the forged plaintext is left in the output buffer.
            REQUIRE(std::all_of(plain.begin(), plain.begin() + 40, [](auto b) { return b == 0; }));
        }
        CHECK(in.counters().integrity_failures == failures);
        CHECK(in.counters().packets == 0);
        CHECK(in.replay_window().highest() == 0);
        // The genuine packet is still accepted afterwards.
        REQUIRE(in.decapsulate(wire, plain));

        Bytes bad_spi = wire;
        bad_spi[0] ^= 0x80;
        CHECK(in.decapsulate(bad_spi, plain).error() == Drop::bad_spi);
        CHECK(in.counters().bad_spi == 1);
    }
}

TEST_CASE("ESP padding and next-header errors share the integrity counter") {
    const Bytes key_salt =
        hex("000102030405060708090a0b0c0d0e0f"
            "cafebabe");
    const Bytes body = inner_packet(22, 5);
    auto sa_in = [&] {
        return create(make_sa(Direction::inbound, 0x4000, {cfg::encr::aes_gcm_16, 128},
                              cfg::integ::none, key_salt, {}));
    };
    Bytes plain(256);
    SECTION("correct trailer is accepted (the helper itself is right)") {
        EspSa in = sa_in();
        auto pkt = raw_gcm_packet(key_salt, 0x4000, 1, hex("0000000000000001"),
                                  concat(body, hex("01020204")));
        auto d = in.decapsulate(pkt, plain);
        REQUIRE(d);
        CHECK(d->length == body.size());
    }
    SECTION("padding bytes not 1, 2, ...") {
        EspSa in = sa_in();
        auto pkt = raw_gcm_packet(key_salt, 0x4000, 1, hex("0000000000000001"),
                                  concat(body, hex("01030204")));
        CHECK(in.decapsulate(pkt, plain).error() == Drop::integrity);
        CHECK(in.counters().integrity_failures == 1);
        CHECK(in.replay_window().highest() == 0);
    }
    SECTION("pad length beyond the payload") {
        EspSa in = sa_in();
        auto pkt = raw_gcm_packet(key_salt, 0x4000, 1, hex("0000000000000001"), hex("01fe04"));
        CHECK(in.decapsulate(pkt, plain).error() == Drop::integrity);
        CHECK(in.counters().integrity_failures == 1);
    }
    SECTION("next header not IPv4") {
        EspSa in = sa_in();
        auto pkt = raw_gcm_packet(key_salt, 0x4000, 1, hex("0000000000000001"),
                                  concat(body, hex("01020229")));  // 41: IPv6
        CHECK(in.decapsulate(pkt, plain).error() == Drop::integrity);
        CHECK(in.counters().integrity_failures == 1);
    }
    SECTION("dummy packet (next header 59) is discarded but consumes its number") {
        EspSa in = sa_in();
        auto pkt = raw_gcm_packet(key_salt, 0x4000, 7, hex("0000000000000007"),
                                  concat(body, hex("0102023b")));
        CHECK(in.decapsulate(pkt, plain).error() == Drop::dummy);
        CHECK(in.counters().integrity_failures == 0);
        CHECK(in.replay_window().highest() == 7);
        CHECK(in.decapsulate(pkt, plain).error() == Drop::replay);
    }
}

TEST_CASE("ESP truncated packets and replayed packets are counted separately") {
    const Bytes ek(16, 1), ik(20, 2);
    EspSa out = create(make_sa(Direction::outbound, 0x5000, {cfg::encr::aes_cbc, 128},
                               cfg::integ::hmac_sha1_96, ek, ik));
    EspSa in = create(make_sa(Direction::inbound, 0x5000, {cfg::encr::aes_cbc, 128},
                              cfg::integ::hmac_sha1_96, ek, ik));
    const Bytes inner = inner_packet(50, 1);
    Bytes wire(out.encapsulated_size(inner.size()));
    REQUIRE(out.encapsulate(inner, wire));
    Bytes plain(wire.size());

    CHECK(in.decapsulate(std::span(wire).first(7), plain).error() == Drop::truncated);
    // Header + IV + one block + ICV is the minimum for CBC.
    CHECK(in.decapsulate(std::span(wire).first(8 + 16 + 12 + 15), plain).error() ==
          Drop::truncated);
    // Ciphertext not a whole number of blocks.
    CHECK(in.decapsulate(std::span(wire).first(wire.size() - 1), plain).error() == Drop::truncated);
    CHECK(in.counters().truncated == 3);
    CHECK(in.counters().integrity_failures == 0);

    Bytes tiny(10);
    CHECK(in.decapsulate(wire, tiny).error() == Drop::buffer_too_small);
    REQUIRE(in.decapsulate(wire, plain));
    CHECK(in.decapsulate(wire, plain).error() == Drop::replay);
    CHECK(in.counters().replay_drops == 1);
    CHECK(in.counters().packets == 1);
}

TEST_CASE("ESP out-of-order delivery within the window") {
    const Bytes key(36, 9);
    EspSa out = create(make_sa(Direction::outbound, 0x6000, {cfg::encr::aes_gcm_16, 256},
                               cfg::integ::none, key, {}));
    EspSa in = create(make_sa(Direction::inbound, 0x6000, {cfg::encr::aes_gcm_16, 256},
                              cfg::integ::none, key, {}));
    std::vector<Bytes> packets;
    for (int i = 0; i < 100; ++i) {
        const Bytes inner = inner_packet(40, static_cast<std::uint8_t>(i));
        Bytes wire(out.encapsulated_size(inner.size()));
        REQUIRE(out.encapsulate(inner, wire));
        packets.push_back(wire);
    }
    Bytes plain(256);
    REQUIRE(in.decapsulate(packets[99], plain));  // seq 100
    REQUIRE(in.decapsulate(packets[36], plain));  // seq 37 = 100 - 63: bottom edge
    CHECK(in.decapsulate(packets[35], plain).error() == Drop::replay);  // seq 36: outside
    REQUIRE(in.decapsulate(packets[50], plain));
    CHECK(in.decapsulate(packets[50], plain).error() == Drop::replay);
    CHECK(in.counters().replay_drops == 2);
    CHECK(in.counters().packets == 3);
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers and lifetimes
// ---------------------------------------------------------------------------------------------

TEST_CASE("ESP without ESN refuses to wrap the 32-bit sequence number") {
    const Bytes key(20, 3);
    EspSa out = create(make_sa(Direction::outbound, 0x7000, {cfg::encr::aes_gcm_16, 128},
                               cfg::integ::none, key, {}));
    out.set_next_sequence_for_testing(0xffff'ffffull);
    const Bytes inner = inner_packet(20, 0);
    Bytes wire(out.encapsulated_size(inner.size()));
    REQUIRE(out.encapsulate(inner, wire));
    CHECK(to_hex(wire.data(), 8) == "00007000ffffffff");
    auto r = out.encapsulate(inner, wire);
    REQUIRE_FALSE(r);
    CHECK(r.error() == Drop::expired);
    CHECK(out.hard_expired());
    auto soft = out.next_expiry();
    REQUIRE(soft);
    CHECK(soft->kind == ExpiryKind::soft);
    CHECK(soft->cause == ExpiryCause::sequence);
    auto hard = out.next_expiry();
    REQUIRE(hard);
    CHECK(hard->kind == ExpiryKind::hard);
    CHECK(hard->cause == ExpiryCause::sequence);
    CHECK(hard->sa.spi == 0x7000);
    CHECK(hard->direction == Direction::outbound);
    CHECK_FALSE(out.next_expiry());
    CHECK(out.encapsulate(inner, wire).error() == Drop::expired);
    CHECK(out.counters().expired_drops == 2);
}

TEST_CASE("ESP with ESN crosses 2^32 on both sides (CBC: ICV covers the high half)") {
    const Bytes ek(32, 0x11), ik(32, 0x22);
    SaConfig oc = make_sa(Direction::outbound, 0x8000, {cfg::encr::aes_cbc, 256},
                          cfg::integ::hmac_sha2_256_128, ek, ik, true);
    SaConfig ic = oc;
    ic.direction = Direction::inbound;
    EspSa out = create(oc);
    EspSa in = create(ic);
    out.set_next_sequence_for_testing(0xffff'fffdull);
    const Bytes inner = inner_packet(80, 4);
    Bytes plain(512);
    std::vector<Bytes> sent;
    for (int i = 0; i < 6; ++i) {
        Bytes wire(out.encapsulated_size(inner.size()));
        REQUIRE(out.encapsulate(inner, wire));
        sent.push_back(wire);
    }
    CHECK(to_hex(sent[3].data(), 8) == "0000800000000000");  // seq 2^32: low half 0 on the wire
    // A fresh ESN receiver cannot place 0xfffffffd (it would need high half -1 relative to
    // an empty window at 0): continue from receive state at 0xfffffff0.
    CHECK(in.decapsulate(sent[0], plain).error() == Drop::replay);
    in.restore_replay_state(0xffff'fff0ull);
    auto seq_of = [&](const Bytes& packet) {
        auto d = in.decapsulate(packet, plain);
        REQUIRE(d);
        CHECK(d->length == inner.size());
        return d->seq;
    };
    // Deliver 0xfffffffd, then 2^32 + 1, then the late 0xfffffffe and 2^32 (reordered).
    CHECK(seq_of(sent[0]) == 0xffff'fffdull);
    CHECK(seq_of(sent[4]) == 0x1'0000'0001ull);
    CHECK(seq_of(sent[1]) == 0xffff'fffeull);
    CHECK(seq_of(sent[3]) == 0x1'0000'0000ull);
    CHECK(in.decapsulate(sent[1], plain).error() == Drop::replay);
    CHECK(seq_of(sent[5]) == 0x1'0000'0002ull);
    CHECK(in.counters().packets == 5);

    // A receiver without ESN computes the ICV without the high half: the packet fails.
    SaConfig no_esn = ic;
    no_esn.esn = false;
    EspSa plain_in = create(no_esn);
    plain_in.restore_replay_state(1);
    CHECK(plain_in.decapsulate(sent[5], plain).error() == Drop::integrity);
}

TEST_CASE("ESP byte and packet lifetimes raise soft then hard expiry") {
    const Bytes key(20, 5);
    SaConfig c = make_sa(Direction::outbound, 0x9000, {cfg::encr::aes_gcm_16, 128},
                         cfg::integ::none, key, {});
    c.lifetime.packets = {2, 3};
    c.lifetime.bytes = {0, 1'000'000};
    EspSa out = create(c);
    const Bytes inner = inner_packet(100, 0);
    Bytes wire(out.encapsulated_size(inner.size()));
    REQUIRE(out.encapsulate(inner, wire));
    CHECK_FALSE(out.next_expiry());
    REQUIRE(out.encapsulate(inner, wire));
    auto e = out.next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::soft && e->cause == ExpiryCause::packets));
    CHECK_FALSE(out.hard_expired());
    REQUIRE(out.encapsulate(inner, wire));  // the third packet is still sent
    e = out.next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::hard && e->cause == ExpiryCause::packets));
    CHECK(out.encapsulate(inner, wire).error() == Drop::expired);
    CHECK(out.stats().counters.packets == 3);
    CHECK(out.stats().counters.bytes == 300);

    SaConfig b = c;
    b.lifetime.packets = {};
    b.lifetime.bytes = {150, 250};
    b.direction = Direction::inbound;
    SaConfig bo = b;
    bo.direction = Direction::outbound;
    bo.lifetime = {};
    EspSa sender = create(bo);
    EspSa in = create(b);
    Bytes plain(512);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(sender.encapsulate(inner, wire));
        REQUIRE(in.decapsulate(wire, plain));
    }
    e = in.next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::soft && e->cause == ExpiryCause::bytes));
    CHECK(e->direction == Direction::inbound);
    e = in.next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::hard && e->cause == ExpiryCause::bytes));
    REQUIRE(sender.encapsulate(inner, wire));
    CHECK(in.decapsulate(wire, plain).error() == Drop::expired);
}

TEST_CASE("ESP time lifetime uses the injected clock") {
    const Bytes key(20, 5);
    SaConfig c = make_sa(Direction::outbound, 0xa000, {cfg::encr::aes_gcm_16, 128},
                         cfg::integ::none, key, {});
    c.lifetime.seconds = {3330, 3600};
    auto sa = EspSa::create(c, 1000);
    REQUIRE(sa);
    sa->advance_time(1000 + 3329);
    CHECK_FALSE(sa->next_expiry());
    sa->advance_time(1000 + 3330);
    auto e = sa->next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::soft && e->cause == ExpiryCause::time));
    sa->advance_time(1000 + 3331);
    CHECK_FALSE(sa->next_expiry());  // raised once
    sa->advance_time(1000 + 3600);
    e = sa->next_expiry();
    REQUIRE(e);
    CHECK((e->kind == ExpiryKind::hard && e->cause == ExpiryCause::time));
    CHECK(sa->hard_expired());
    CHECK(sa->stats().add_time == 1000);
}

TEST_CASE("EspSa::create refuses invalid SAs") {
    auto r = EspSa::create(make_sa(Direction::outbound, 0x1000, {cfg::encr::aes_cbc, 128},
                                   cfg::integ::none, Bytes(16, 0), {}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
}
