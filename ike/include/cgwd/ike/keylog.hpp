// Wireshark key export (debug only): the keys of our IKE SAs and CHILD_SAs as records of
// Wireshark's decryption tables, so that a capture can be decrypted.
//
//   ikev2_decryption_table (Wireshark's ISAKMP dissector, IKEv2 decryption table UAT):
//     SPIi,SPIr,SK_ei,SK_er,"<encryption>",SK_ai,SK_ar,"<integrity>"
//     SPIs as 16 hex digits (as in the IKE header), keys as hex digits; for AES-GCM SK_e* is
//     key | 4-octet salt (RFC 5282 section 7.1) and the integrity algorithm is "NONE [RFC4306]"
//     with empty SK_a*.
//   esp_sa (Wireshark's ESP dissector, ESP SAs UAT, the 8 columns of Wireshark 4.0):
//     "IPv4","<src>","<dst>","0x<SPI>","<encryption>","0x<key>","<authentication>","0x<key>"
//     one record per direction; for AES-GCM the key is key | 4-octet salt (RFC 4106 section 8.1)
//     and the authentication "NULL".
//
// Algorithm names are those of Wireshark's UAT choices (RFC 7296 / RFC 4303 transforms). The
// files are opened O_APPEND, created with mode 0600 (and set to 0600 if they existed); one
// record is appended per SA, never logged. This is a debugging aid that defeats the protection
// of every SA it records: it is off unless a directory is configured.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "cgwd/config/model.hpp"
#include "cgwd/ike/sa.hpp"

namespace cgwd::ike::keylog {

inline constexpr std::string_view ike_table_name = "ikev2_decryption_table";
inline constexpr std::string_view esp_table_name = "esp_sa";

// Names in Wireshark's UATs; nullopt for a transform Wireshark cannot decrypt.
[[nodiscard]] std::optional<std::string_view> ike_encryption_name(const config::Cipher& cipher);
[[nodiscard]] std::optional<std::string_view> ike_integrity_name(std::uint16_t integ);
[[nodiscard]] std::optional<std::string_view> esp_encryption_name(const config::Cipher& cipher);
[[nodiscard]] std::optional<std::string_view> esp_authentication_name(const config::Cipher& cipher,
                                                                      std::uint16_t integ);

// One ikev2_decryption_table record, with its newline.
[[nodiscard]] std::optional<std::string> ike_record(const IkeSaKeysDerived& sa);
// Two esp_sa records, outbound (local -> remote, spi_out) then inbound (remote -> local,
// spi_in), each with its newline.
[[nodiscard]] std::optional<std::string> esp_records(const ChildSaReady& sa);

// Appends records to <directory>/ikev2_decryption_table and <directory>/esp_sa.
class WiresharkKeyLog {
  public:
    // The directory must exist. Nothing is opened before the first record.
    explicit WiresharkKeyLog(std::string directory) : directory_(std::move(directory)) {}
    [[nodiscard]] const std::string& directory() const { return directory_; }

    // Errors are returned as text without key material.
    [[nodiscard]] std::expected<void, std::string> write(const IkeSaKeysDerived& sa) const;
    [[nodiscard]] std::expected<void, std::string> write(const ChildSaReady& sa) const;

  private:
    [[nodiscard]] std::expected<void, std::string> append(std::string_view file,
                                                          const std::string& record) const;
    std::string directory_;
};

}  // namespace cgwd::ike::keylog
