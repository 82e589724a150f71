// Encrypted (SK) payload protection tests: AES-CBC (RFC 3602, SP 800-38A) and AES-GCM (GCM
// spec / McGrew-Viega) known answers, round trips for every cipher + integrity combination,
// and rejection of any tampering.
#include <catch2/catch.hpp>

#include "cgwd/ike/crypto.hpp"
#include "crypto_test_util.hpp"

using namespace cgwd::ike::crypto;
using namespace cgwd::ike::crypto::test;
namespace integid = cgwd::config::integ;
namespace encrid = cgwd::config::encr;
using cgwd::config::Cipher;

namespace {

SkCipher make(Cipher c, std::uint16_t integ, ByteView encr_key, ByteView integ_key) {
    auto sk = SkCipher::create(c, integ, encr_key, integ_key);
    REQUIRE(sk.has_value());
    return std::move(*sk);
}

// An IKE header + SK generic header stand-in (its content only matters as authenticated data).
const Bytes aad = hex("0011223344556677 8899aabbccddeeff 2e202508 00000002 000000ec 2900 00d0");

struct Suite {
    Cipher cipher;
    std::uint16_t integ;
};
const Suite all_suites[] = {
    {{encrid::aes_cbc, 128}, integid::hmac_sha1_96},
    {{encrid::aes_cbc, 128}, integid::hmac_sha2_256_128},
    {{encrid::aes_cbc, 128}, integid::hmac_sha2_384_192},
    {{encrid::aes_cbc, 128}, integid::hmac_sha2_512_256},
    {{encrid::aes_cbc, 256}, integid::hmac_sha1_96},
    {{encrid::aes_cbc, 256}, integid::hmac_sha2_256_128},
    {{encrid::aes_cbc, 256}, integid::hmac_sha2_384_192},
    {{encrid::aes_cbc, 256}, integid::hmac_sha2_512_256},
    {{encrid::aes_gcm_16, 128}, integid::none},
    {{encrid::aes_gcm_16, 256}, integid::none},
};

SkCipher make_suite(const Suite& s) {
    return make(s.cipher, s.integ, repeat(0x4b, cipher_keymat_size(s.cipher)),
                repeat(0x61, integ_key_size(s.integ)));
}

}  // namespace

// RFC 3602 section 4, cases 1-3 (AES-128-CBC), and NIST SP 800-38A F.2.5 (AES-256-CBC). The SK
// plaintext gets RFC 7296 padding (one extra block here, since the inputs are block-aligned);
// CBC ciphertext blocks depend only on earlier blocks, so the vector is the body's prefix.
TEST_CASE("crypto: SK AES-CBC ciphertext matches RFC 3602 and SP 800-38A", "[crypto][sk]") {
    struct Vector {
        const char* source;
        Cipher cipher;
        Bytes key, iv, plain, cipher_text;
    };
    const Vector vectors[] = {
        {"RFC 3602 case 1",
         {encrid::aes_cbc, 128},
         hex("06a9214036b8a15b512e03d534120006"),
         hex("3dafba429d9eb430b422da802c9fac41"),
         ascii("Single block msg"),
         hex("e353779c1079aeb82708942dbe77181a")},
        {"RFC 3602 case 2",
         {encrid::aes_cbc, 128},
         hex("c286696d887c9aa0611bbb3e2025a45a"),
         hex("562e17996d093d28ddb3ba695a2e6f58"),
         hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
         hex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")},
        {"RFC 3602 case 3",
         {encrid::aes_cbc, 128},
         hex("56e47a38c5598974bc46903dba290349"),
         hex("8ce82eefbea0da3c44699ed7db51b7d9"),
         hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
             "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"),
         hex("c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
             "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55")},
        {"SP 800-38A F.2.5",
         {encrid::aes_cbc, 256},
         hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
         hex("000102030405060708090a0b0c0d0e0f"),
         hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"),
         hex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
             "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")},
    };
    for (const Vector& v : vectors) {
        INFO(v.source);
        SkCipher sk = make(v.cipher, integid::hmac_sha2_256_128, v.key, repeat(0x61, 32));
        ScriptedRandom rng;
        rng.queue(v.iv);
        auto body = sk.seal(aad, v.plain, rng);
        REQUIRE(body);
        REQUIRE(body->size() == sk.sealed_size(v.plain.size()));
        REQUIRE(body->size() == 16 + v.plain.size() + 16 + 16);
        CHECK(Bytes(body->begin(), body->begin() + 16) == v.iv);
        CHECK(Bytes(body->begin() + 16, body->begin() + 16 + static_cast<long>(v.plain.size())) ==
              v.cipher_text);
        // The ICV is the truncated HMAC over header | IV | ciphertext.
        auto icv = integ_mac(integid::hmac_sha2_256_128, repeat(0x61, 32),
                             concat({aad, ByteView(*body).first(body->size() - 16)}));
        REQUIRE(icv);
        CHECK(Bytes(body->end() - 16, body->end()) == *icv);
        auto plain = sk.open(aad, *body);
        REQUIRE(plain);
        CHECK(*plain == v.plain);
    }
}

// "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, test cases 4 (AES-128) and
// 16 (AES-256): K, IV = salt | explicit IV (cafebabe | facedbaddecaf888), A, P (60 octets), C,
// T. The last plaintext octet 0x39 = 57 is read as the SK pad length, so the inner payload
// chain is P's first 60 - 57 - 1 = 2 octets.
TEST_CASE("crypto: SK AES-GCM opens the GCM spec test cases 4 and 16", "[crypto][sk]") {
    const Bytes iv = hex("facedbaddecaf888"), salt = hex("cafebabe");
    const Bytes a = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const Bytes p =
        hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    struct Vector {
        const char* source;
        Cipher cipher;
        Bytes key, c, t;
    };
    const Vector vectors[] = {
        {"GCM test case 4",
         {encrid::aes_gcm_16, 128},
         hex("feffe9928665731c6d6a8f9467308308"),
         hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
             "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"),
         hex("5bc94fbc3221a5db94fae95ae7121a47")},
        {"GCM test case 16",
         {encrid::aes_gcm_16, 256},
         hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
         hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
             "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"),
         hex("76fc6ece0f4e1768cddf8853bb2d551b")},
    };
    for (const Vector& v : vectors) {
        INFO(v.source);
        const SkCipher sk = make(v.cipher, integid::none, concat({v.key, salt}), {});
        const Bytes body = concat({iv, v.c, v.t});
        auto plain = sk.open(a, body);
        REQUIRE(plain);
        CHECK(*plain == Bytes(p.begin(), p.begin() + 2));
        // Same bytes, one flipped tag bit: rejected.
        Bytes bad = body;
        bad.back() ^= 0x80;
        CHECK_FALSE(sk.open(a, bad).has_value());
    }
}

TEST_CASE("crypto: SK round trip for every cipher and integrity combination", "[crypto][sk]") {
    for (const Suite& s : all_suites) {
        INFO("encr " << s.cipher.id << "/" << s.cipher.key_bits << " integ " << s.integ);
        SkCipher sender = make_suite(s);
        const SkCipher receiver = make_suite(s);
        ScriptedRandom rng;
        for (std::size_t len : {0, 1, 15, 16, 17, 31, 32, 100, 1000}) {
            INFO("plaintext " << len);
            Bytes plain(len);
            for (std::size_t i = 0; i < len; ++i) plain[i] = static_cast<std::uint8_t>(i * 7);
            auto body = sender.seal(aad, plain, rng);
            REQUIRE(body);
            CHECK(body->size() == sender.sealed_size(len));
            CHECK(body->size() >= sender.iv_size() + len + 1 + sender.icv_size());
            if (!s.cipher.is_aead()) {
                CHECK((body->size() - sender.iv_size() - sender.icv_size()) % 16 == 0);
            }
            auto opened = receiver.open(aad, *body);
            REQUIRE(opened);
            CHECK(*opened == plain);
        }
    }
}

TEST_CASE("crypto: SK rejects tampering with any byte of AAD, IV, ciphertext or ICV",
          "[crypto][sk]") {
    for (const Suite& s : all_suites) {
        INFO("encr " << s.cipher.id << "/" << s.cipher.key_bits << " integ " << s.integ);
        SkCipher sk = make_suite(s);
        ScriptedRandom rng;
        const Bytes plain = ascii("inner payloads: N(COOKIE) and friends");
        auto body = sk.seal(aad, plain, rng);
        REQUIRE(body);
        for (std::size_t i = 0; i < body->size(); ++i) {
            Bytes bad = *body;
            bad[i] ^= 0x01;
            INFO("body byte " << i);
            CHECK(sk.open(aad, bad).error() == IntegrityError{});
        }
        for (std::size_t i = 0; i < aad.size(); ++i) {
            Bytes bad_aad = aad;
            bad_aad[i] ^= 0x40;
            INFO("aad byte " << i);
            CHECK(sk.open(bad_aad, *body).error() == IntegrityError{});
        }
        // Truncated or extended bodies, and an empty one.
        CHECK_FALSE(sk.open(aad, ByteView(*body).first(body->size() - 1)).has_value());
        CHECK_FALSE(sk.open(aad, concat({*body, Bytes{0}})).has_value());
        CHECK_FALSE(sk.open(aad, {}).has_value());
        CHECK_FALSE(sk.open({}, *body).has_value());
        // A receiver with different keys (for CBC the integrity key is what decides).
        const SkCipher other = make(s.cipher, s.integ, repeat(0x4c, cipher_keymat_size(s.cipher)),
                                    repeat(0x62, integ_key_size(s.integ)));
        CHECK_FALSE(other.open(aad, *body).has_value());
    }
}

// RFC 7296 section 3.14: the receiver accepts any padding content and any pad length that
// fits. Bodies are built here with a non-minimal pad and non-zero pad bytes, MACed by hand.
TEST_CASE("crypto: SK CBC accepts any padding that fits and rejects a pad length that does not",
          "[crypto][sk]") {
    const Bytes ekey = repeat(0x10, 16), akey = repeat(0x20, 20);
    const SkCipher sk = make({encrid::aes_cbc, 128}, integid::hmac_sha1_96, ekey, akey);
    auto build = [&](const Bytes& padded_plain) {
        // Encrypt through a cipher whose padding we control: seal an already-padded chain
        // whose last block is a full pad block, then cut that extra block off. CBC's prefix
        // property keeps the first blocks valid; re-MAC the shortened body.
        SkCipher enc = make({encrid::aes_cbc, 128}, integid::hmac_sha1_96, ekey, akey);
        ScriptedRandom rng;
        auto sealed = enc.seal(aad, padded_plain, rng);
        REQUIRE(sealed);
        Bytes body(sealed->begin(), sealed->begin() + 16 + static_cast<long>(padded_plain.size()));
        auto icv = integ_mac(integid::hmac_sha1_96, akey, concat({aad, body}));
        REQUIRE(icv);
        return concat({body, *icv});
    };
    // 5 octets of payload, 26 octets of padding (0xa5), pad length 26: 32 octets.
    Bytes padded = concat({ascii("hello"), repeat(0xa5, 26), Bytes{26}});
    auto opened = sk.open(aad, build(padded));
    REQUIRE(opened);
    CHECK(*opened == ascii("hello"));
    // Pad length 31 in a 32-octet plaintext: empty payload chain, still valid.
    padded.back() = 31;
    opened = sk.open(aad, build(padded));
    REQUIRE(opened);
    CHECK(opened->empty());
    // Pad length 32 does not fit: rejected like any other failure.
    padded.back() = 32;
    CHECK(sk.open(aad, build(padded)).error() == IntegrityError{});
}

TEST_CASE("crypto: SK GCM uses a counter IV that never repeats", "[crypto][sk]") {
    SkCipher sk = make({encrid::aes_gcm_16, 128}, integid::none, repeat(1, 20), {});
    ScriptedRandom rng;
    auto a = sk.seal(aad, ascii("same"), rng);
    auto b = sk.seal(aad, ascii("same"), rng);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(Bytes(a->begin(), a->begin() + 8) == hex("0000000000000001"));
    CHECK(Bytes(b->begin(), b->begin() + 8) == hex("0000000000000002"));
    CHECK(*a != *b);
    CHECK(sk.iv_size() == 8);
    CHECK(sk.icv_size() == 16);
    CHECK(sk.sealed_size(10) == 8 + 10 + 1 + 16);
}

TEST_CASE("crypto: SK CBC IV comes from the Random source", "[crypto][sk]") {
    SkCipher sk =
        make({encrid::aes_cbc, 256}, integid::hmac_sha2_512_256, repeat(1, 32), repeat(2, 64));
    ScriptedRandom rng;
    rng.queue(hex("00112233445566778899aabbccddeeff"));
    auto body = sk.seal(aad, ascii("x"), rng);
    REQUIRE(body);
    CHECK(Bytes(body->begin(), body->begin() + 16) == hex("00112233445566778899aabbccddeeff"));
    CHECK(sk.icv_size() == 32);
    CHECK(sk.sealed_size(0) == 16 + 16 + 32);
    CHECK(sk.sealed_size(15) == 16 + 16 + 32);
    CHECK(sk.sealed_size(16) == 16 + 32 + 32);
    rng.fail_next();
    CHECK(sk.seal(aad, ascii("x"), rng).error() == CryptoError::rng_failure);
}

TEST_CASE("crypto: SkCipher::create validates transforms and key sizes", "[crypto][sk]") {
    CHECK(SkCipher::create({encrid::aes_cbc, 128}, integid::hmac_sha1_96, repeat(1, 15),
                           repeat(1, 20))
              .error() == CryptoError::invalid_argument);
    CHECK(SkCipher::create({encrid::aes_cbc, 128}, integid::hmac_sha1_96, repeat(1, 16),
                           repeat(1, 32))
              .error() == CryptoError::invalid_argument);
    CHECK(SkCipher::create({encrid::aes_cbc, 128}, integid::none, repeat(1, 16), {}).error() ==
          CryptoError::unsupported);
    CHECK(SkCipher::create({encrid::aes_gcm_16, 128}, integid::hmac_sha1_96, repeat(1, 20),
                           repeat(1, 20))
              .error() == CryptoError::unsupported);
    CHECK(SkCipher::create({encrid::aes_gcm_16, 128}, integid::none, repeat(1, 16), {}).error() ==
          CryptoError::invalid_argument);  // salt missing
    CHECK(SkCipher::create({encrid::aes_cbc, 192}, integid::hmac_sha1_96, repeat(1, 24),
                           repeat(1, 20))
              .error() == CryptoError::unsupported);
}
