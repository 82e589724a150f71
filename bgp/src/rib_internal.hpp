// Helpers shared by rib.cpp and rib_export.cpp (not part of the public interface).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cgwd/bgp/attributes.hpp"

namespace cgwd::bgp::detail {

// RFC 4271 section 9.1.2.2 (a): AS_SET counts one, confederation segments (RFC 5065) zero.
[[nodiscard]] std::size_t as_path_length(const AsPath& path);
[[nodiscard]] bool as_path_contains(const AsPath& path, std::uint32_t asn);

}  // namespace cgwd::bgp::detail
