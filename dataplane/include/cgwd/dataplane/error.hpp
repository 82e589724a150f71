// Error type of the dataplane control interface (SA, policy, interface and route programming).
//
// Control operations (dataplane.hpp) return std::expected<void, Error>. Packet paths do not use
// this type: they return per-module disposition enums (esp.hpp, ipv4.hpp, udp_encap.hpp) so
// the per-packet path never builds a string.
#pragma once

#include <cstdint>
#include <string>

namespace cgwd::dataplane {

enum class Errc : std::uint8_t {
    invalid_argument,  // the request itself is malformed (bad key length, unknown transform...)
    not_found,         // delete/update/query of an object that does not exist
    already_exists,    // add of an object that exists
    unsupported,       // valid request the backend cannot do
    system,            // the OS refused (sys_errno tells why)
    crypto,            // the crypto library failed
};

const char* to_string(Errc code);

struct Error {
    Errc code = Errc::invalid_argument;
    std::string message;  // for humans; never contains key material
    int sys_errno = 0;    // set with Errc::system
};

}  // namespace cgwd::dataplane
