// Wireshark key export (debug only): see keylog.hpp.
#include "cgwd/ike/keylog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cgwd::ike::keylog {

namespace {

std::string hex(crypto::ByteView bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0f]);
    }
    return out;
}

std::string spi64(std::uint64_t spi) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(spi));
    return buf;
}

std::string spi32(std::uint32_t spi) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(spi));
    return buf;
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

}  // namespace

std::optional<std::string_view> ike_encryption_name(const config::Cipher& cipher) {
    if (cipher.id == config::encr::aes_cbc) {
        if (cipher.key_bits == 128) return "AES-CBC-128 [RFC3602]";
        if (cipher.key_bits == 192) return "AES-CBC-192 [RFC3602]";
        if (cipher.key_bits == 256) return "AES-CBC-256 [RFC3602]";
    } else if (cipher.id == config::encr::aes_gcm_16) {
        if (cipher.key_bits == 128) return "AES-GCM-128 with 16 octet ICV [RFC5282]";
        if (cipher.key_bits == 192) return "AES-GCM-192 with 16 octet ICV [RFC5282]";
        if (cipher.key_bits == 256) return "AES-GCM-256 with 16 octet ICV [RFC5282]";
    }
    return std::nullopt;
}

std::optional<std::string_view> ike_integrity_name(std::uint16_t integ) {
    switch (integ) {
        case config::integ::none:
            return "NONE [RFC4306]";
        case config::integ::hmac_sha1_96:
            return "HMAC_SHA1_96 [RFC2404]";
        case config::integ::hmac_sha2_256_128:
            return "HMAC_SHA2_256_128 [RFC4868]";
        case config::integ::hmac_sha2_384_192:
            return "HMAC_SHA2_384_192 [RFC4868]";
        case config::integ::hmac_sha2_512_256:
            return "HMAC_SHA2_512_256 [RFC4868]";
        default:
            return std::nullopt;
    }
}

std::optional<std::string_view> esp_encryption_name(const config::Cipher& cipher) {
    if (cipher.id == config::encr::aes_cbc) return "AES-CBC [RFC3602]";
    if (cipher.id == config::encr::aes_gcm_16) return "AES-GCM with 16 octet ICV [RFC4106]";
    return std::nullopt;
}

std::optional<std::string_view> esp_authentication_name(const config::Cipher& cipher,
                                                        std::uint16_t integ) {
    if (cipher.is_aead()) return "NULL";
    switch (integ) {
        case config::integ::hmac_sha1_96:
            return "HMAC-SHA-1-96 [RFC2404]";
        case config::integ::hmac_sha2_256_128:
            return "HMAC-SHA-256-128 [RFC4868]";
        case config::integ::hmac_sha2_384_192:
            return "HMAC-SHA-384-192 [RFC4868]";
        case config::integ::hmac_sha2_512_256:
            return "HMAC-SHA-512-256 [RFC4868]";
        default:
            return std::nullopt;
    }
}

std::optional<std::string> ike_record(const IkeSaKeysDerived& sa) {
    const auto encr = ike_encryption_name(sa.cipher);
    const auto integ = ike_integrity_name(sa.cipher.is_aead() ? config::integ::none : sa.integ);
    if (!encr || !integ || sa.keys == nullptr) return std::nullopt;
    const crypto::IkeSaKeys& k = *sa.keys;
    return spi64(sa.spi_i) + "," + spi64(sa.spi_r) + "," + hex(k.sk_ei.reveal()) + "," +
           hex(k.sk_er.reveal()) + "," + quoted(*encr) + "," + hex(k.sk_ai.reveal()) + "," +
           hex(k.sk_ar.reveal()) + "," + quoted(*integ) + "\n";
}

std::optional<std::string> esp_records(const ChildSaReady& sa) {
    const auto encr = esp_encryption_name(sa.cipher);
    const auto auth = esp_authentication_name(sa.cipher, sa.integ);
    if (!encr || !auth) return std::nullopt;
    auto record = [&](config::Ipv4Address src, config::Ipv4Address dst, std::uint32_t spi,
                      const crypto::EspKeys& keys) {
        return quoted("IPv4") + "," + quoted(src.to_string()) + "," + quoted(dst.to_string()) +
               "," + quoted(spi32(spi)) + "," + quoted(*encr) + "," +
               quoted("0x" + hex(keys.encr.reveal())) + "," + quoted(*auth) + "," +
               quoted("0x" + hex(keys.integ.reveal())) + "\n";
    };
    return record(sa.local, sa.remote, sa.spi_out, sa.keys_out) +
           record(sa.remote, sa.local, sa.spi_in, sa.keys_in);
}

std::expected<void, std::string> WiresharkKeyLog::write(const IkeSaKeysDerived& sa) const {
    const auto record = ike_record(sa);
    if (!record) return std::unexpected("IKE SA transforms not supported by Wireshark");
    return append(ike_table_name, *record);
}

std::expected<void, std::string> WiresharkKeyLog::write(const ChildSaReady& sa) const {
    const auto records = esp_records(sa);
    if (!records) return std::unexpected("CHILD_SA transforms not supported by Wireshark");
    return append(esp_table_name, *records);
}

std::expected<void, std::string> WiresharkKeyLog::append(std::string_view file,
                                                         const std::string& record) const {
    const std::string path = directory_ + "/" + std::string(file);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                          S_IRUSR | S_IWUSR);
    if (fd < 0) return std::unexpected(path + ": " + std::strerror(errno));
    std::expected<void, std::string> result;
    // An existing file may have wider permissions: narrow them before writing keys into it.
    if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
        result = std::unexpected(path + ": chmod: " + std::strerror(errno));
    } else {
        // O_APPEND with one write(): the record stays in one piece next to other writers.
        const ssize_t n = ::write(fd, record.data(), record.size());
        if (n < 0 || static_cast<std::size_t>(n) != record.size()) {
            result = std::unexpected(path + ": short write");
        }
    }
    ::close(fd);
    return result;
}

}  // namespace cgwd::ike::keylog
