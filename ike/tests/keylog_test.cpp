// Wireshark key export (keylog.hpp): exact ikev2_decryption_table and esp_sa records for known
// SPIs, keys and transforms, the keys an engine pair reports for its initial and rekeyed IKE
// SAs, and the files (append, mode 0600).
//
// Expected lines: the record layouts of Wireshark 4.0's UATs (epan/dissectors/packet-isakmp.c
// "ikev2_decryption_table": SPIi, SPIr, SK_ei, SK_er, encryption, SK_ai, SK_ar, integrity;
// packet-esp.c "esp_sa": protocol, src, dst, SPI, encryption, key, authentication, key) with the
// algorithm names of those UATs' choice lists, the same layout strongSwan's save-keys plugin
// writes. The lab test tests/lab/ike/charon.sh (mode wireshark) proves them with tshark 4.0
// decrypting a real capture. Keys here are counting patterns, not secrets.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cgwd/ike/keylog.hpp"
#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::keylog;

namespace {

// n octets counting up from `first`.
crypto::SecretBytes pattern(std::uint8_t first, std::size_t n) {
    Bytes b(n);
    for (std::size_t k = 0; k < n; ++k) b[k] = static_cast<std::uint8_t>(first + k);
    return crypto::SecretBytes(crypto::ByteView(b));
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cgwd-keylog.XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

ChildSaReady child_cbc() {
    ChildSaReady c;
    c.spi_in = 0xc1d2e3f4;
    c.spi_out = 0x0000abcd;
    c.cipher = {config::encr::aes_cbc, 128};
    c.integ = config::integ::hmac_sha1_96;
    c.keys_out = {pattern(0x10, 16), pattern(0x20, 20)};
    c.keys_in = {pattern(0x30, 16), pattern(0x40, 20)};
    c.local = config::Ipv4Address{0xC0000201};   // 192.0.2.1
    c.remote = config::Ipv4Address{0xCB007105};  // 203.0.113.5
    return c;
}

}  // namespace

TEST_CASE("keylog: ikev2_decryption_table record, AES-CBC-128 / HMAC-SHA1-96", "[keylog]") {
    crypto::IkeSaKeys k;
    k.sk_ei = pattern(0x00, 16);
    k.sk_er = pattern(0x10, 16);
    k.sk_ai = pattern(0xa0, 20);
    k.sk_ar = pattern(0xc0, 20);
    k.sk_d = pattern(0xee, 20);  // never written
    const IkeSaKeysDerived sa{0x0123456789abcdefULL,
                              0x00000000000000feULL,
                              {config::encr::aes_cbc, 128},
                              config::integ::hmac_sha1_96,
                              &k};
    const auto line = ike_record(sa);
    REQUIRE(line);
    CHECK(*line ==
          "0123456789abcdef,00000000000000fe,"
          "000102030405060708090a0b0c0d0e0f,101112131415161718191a1b1c1d1e1f,"
          "\"AES-CBC-128 [RFC3602]\","
          "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3,c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3,"
          "\"HMAC_SHA1_96 [RFC2404]\"\n");
    CHECK(line->find("eeef") == std::string::npos);  // SK_d is not part of the record
}

TEST_CASE("keylog: ikev2_decryption_table record, AES-256-GCM-16 (salt in SK_e, NONE)",
          "[keylog]") {
    crypto::IkeSaKeys k;
    k.sk_ei = pattern(0x00, 36);  // 32-octet key | 4-octet salt (RFC 5282 section 7.1)
    k.sk_er = pattern(0x40, 36);
    const IkeSaKeysDerived sa{1, 2, {config::encr::aes_gcm_16, 256}, config::integ::none, &k};
    const auto line = ike_record(sa);
    REQUIRE(line);
    CHECK(*line ==
          "0000000000000001,0000000000000002,"
          "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223,"
          "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263,"
          "\"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"\n");
}

TEST_CASE("keylog: Wireshark names of every AWS transform", "[keylog]") {
    CHECK(ike_encryption_name({config::encr::aes_cbc, 256}) == "AES-CBC-256 [RFC3602]");
    CHECK(ike_encryption_name({config::encr::aes_gcm_16, 128}) ==
          "AES-GCM-128 with 16 octet ICV [RFC5282]");
    CHECK(ike_integrity_name(config::integ::hmac_sha2_256_128) == "HMAC_SHA2_256_128 [RFC4868]");
    CHECK(ike_integrity_name(config::integ::hmac_sha2_384_192) == "HMAC_SHA2_384_192 [RFC4868]");
    CHECK(ike_integrity_name(config::integ::hmac_sha2_512_256) == "HMAC_SHA2_512_256 [RFC4868]");
    CHECK(esp_encryption_name({config::encr::aes_cbc, 256}) == "AES-CBC [RFC3602]");
    CHECK(esp_encryption_name({config::encr::aes_gcm_16, 256}) ==
          "AES-GCM with 16 octet ICV [RFC4106]");
    const config::Cipher cbc{config::encr::aes_cbc, 128};
    CHECK(esp_authentication_name(cbc, config::integ::hmac_sha2_256_128) ==
          "HMAC-SHA-256-128 [RFC4868]");
    CHECK(esp_authentication_name(cbc, config::integ::hmac_sha2_384_192) ==
          "HMAC-SHA-384-192 [RFC4868]");
    CHECK(esp_authentication_name(cbc, config::integ::hmac_sha2_512_256) ==
          "HMAC-SHA-512-256 [RFC4868]");
    CHECK(esp_authentication_name({config::encr::aes_gcm_16, 256}, config::integ::none) == "NULL");
    // Not decryptable by Wireshark / not an AWS transform: no record rather than a wrong one.
    CHECK_FALSE(ike_encryption_name({config::encr::aes_cbc, 100}));
    CHECK_FALSE(ike_encryption_name({3 /* 3DES */, 192}));
    CHECK_FALSE(ike_integrity_name(5 /* AES-XCBC-96 */));
    CHECK_FALSE(esp_authentication_name(cbc, config::integ::none));
    crypto::IkeSaKeys k;
    CHECK_FALSE(ike_record({1, 2, {3, 192}, config::integ::hmac_sha1_96, &k}));
    CHECK_FALSE(ike_record({1, 2, {config::encr::aes_cbc, 128}, 1, nullptr}));
}

TEST_CASE("keylog: esp_sa records, outbound then inbound", "[keylog]") {
    const auto lines = esp_records(child_cbc());
    REQUIRE(lines);
    CHECK(*lines ==
          "\"IPv4\",\"192.0.2.1\",\"203.0.113.5\",\"0x0000abcd\",\"AES-CBC [RFC3602]\","
          "\"0x101112131415161718191a1b1c1d1e1f\",\"HMAC-SHA-1-96 [RFC2404]\","
          "\"0x202122232425262728292a2b2c2d2e2f30313233\"\n"
          "\"IPv4\",\"203.0.113.5\",\"192.0.2.1\",\"0xc1d2e3f4\",\"AES-CBC [RFC3602]\","
          "\"0x303132333435363738393a3b3c3d3e3f\",\"HMAC-SHA-1-96 [RFC2404]\","
          "\"0x404142434445464748494a4b4c4d4e4f50515253\"\n");
}

TEST_CASE("keylog: esp_sa records, AES-GCM-16 with the salt and NULL authentication", "[keylog]") {
    ChildSaReady c = child_cbc();
    c.cipher = {config::encr::aes_gcm_16, 128};
    c.integ = config::integ::none;
    c.keys_out = {pattern(0x00, 20), {}};  // 16-octet key | 4-octet salt (RFC 4106 section 8.1)
    c.keys_in = {pattern(0x80, 20), {}};
    const auto lines = esp_records(c);
    REQUIRE(lines);
    CHECK(*lines ==
          "\"IPv4\",\"192.0.2.1\",\"203.0.113.5\",\"0x0000abcd\","
          "\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f10111213\","
          "\"NULL\",\"0x\"\n"
          "\"IPv4\",\"203.0.113.5\",\"192.0.2.1\",\"0xc1d2e3f4\","
          "\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x808182838485868788898a8b8c8d8e8f90919293\","
          "\"NULL\",\"0x\"\n");
}

TEST_CASE("keylog: both engines report the same keys for the initial and the rekeyed IKE SA",
          "[keylog]") {
    using namespace cgwd::ike::test;
    for (const Family& f : {aes128_sha1_dh2(), aes256gcm_ecp384()}) {
        INFO(f.name);
        std::vector<std::string> lines_i, lines_r;
        SaSettings si = settings(true, f);
        SaSettings sr = settings(false, f);
        si.on_ike_keys = [&](const IkeSaKeysDerived& k) { lines_i.push_back(*ike_record(k)); };
        sr.on_ike_keys = [&](const IkeSaKeysDerived& k) { lines_r.push_back(*ike_record(k)); };
        SeededRandom rng_i(7), rng_r(1007);
        IkeSa i(si, rng_i), r(sr, rng_r);
        Link link{i, r};
        i.start(link.now);
        link.pump();
        REQUIRE(i.state() == SaState::established);
        REQUIRE(lines_i.size() == 1);
        REQUIRE(lines_r == lines_i);
        const SaInfo first = i.info();
        char spis[40];
        std::snprintf(spis, sizeof spis, "%016llx,%016llx,",
                      static_cast<unsigned long long>(first.spi_i),
                      static_cast<unsigned long long>(first.spi_r));
        CHECK(lines_i[0].starts_with(spis));

        REQUIRE(r.rekey_ike(link.now));  // the responder rekeys: it is the new SA's initiator
        link.pump();
        REQUIRE(lines_i.size() == 2);
        REQUIRE(lines_r == lines_i);
        const SaInfo second = i.info();
        REQUIRE(second.spi_i != first.spi_i);
        std::snprintf(spis, sizeof spis, "%016llx,%016llx,",
                      static_cast<unsigned long long>(second.spi_i),
                      static_cast<unsigned long long>(second.spi_r));
        CHECK(lines_i[1].starts_with(spis));
        CHECK(lines_i[1].substr(34) != lines_i[0].substr(34));  // new keys
    }
}

TEST_CASE("keylog: records appended to 0600 files in the directory", "[keylog]") {
    TempDir dir;
    const WiresharkKeyLog log(dir.path.string());
    const auto ike_file = dir.path / "ikev2_decryption_table";
    const auto esp_file = dir.path / "esp_sa";
    // An existing table with wider permissions is narrowed before keys go in.
    { std::ofstream(ike_file) << "# earlier\n"; }
    REQUIRE(::chmod(ike_file.c_str(), 0644) == 0);

    crypto::IkeSaKeys k;
    k.sk_ei = pattern(0, 16);
    k.sk_er = pattern(16, 16);
    k.sk_ai = pattern(32, 32);
    k.sk_ar = pattern(64, 32);
    const IkeSaKeysDerived a{
        1, 2, {config::encr::aes_cbc, 128}, config::integ::hmac_sha2_256_128, &k};
    const IkeSaKeysDerived b{
        3, 4, {config::encr::aes_cbc, 128}, config::integ::hmac_sha2_256_128, &k};
    REQUIRE(log.write(a));
    REQUIRE(log.write(b));
    REQUIRE(log.write(child_cbc()));
    CHECK(read_all(ike_file) == "# earlier\n" + *ike_record(a) + *ike_record(b));
    CHECK(read_all(esp_file) == *esp_records(child_cbc()));
    struct stat st {};
    REQUIRE(::stat(ike_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    REQUIRE(::stat(esp_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);

    // A missing directory: an error naming the file, never the keys.
    const WiresharkKeyLog missing((dir.path / "absent").string());
    const auto err = missing.write(a);
    REQUIRE_FALSE(err);
    CHECK(err.error().find("absent/ikev2_decryption_table") != std::string::npos);
    CHECK(err.error().find("000102") == std::string::npos);
}
