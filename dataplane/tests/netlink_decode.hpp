// Decoding the netlink messages the kernel backend builds, for the dataplane tests: one message
// as libmnl sees it (fixed family header, then attributes that must fill it exactly), nested
// attributes, and typed reads of attribute payloads.
#pragma once

#include <libmnl/libmnl.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace cgwd::dataplane::test::nl {

struct Attr {
    std::uint16_t type = 0;
    bool nested_flag = false;
    Bytes payload;
};

struct Decoded {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    Bytes header;  // the fixed family header
    std::vector<Attr> attrs;
    const Attr* find(std::uint16_t t) const {
        for (const auto& a : attrs)
            if (a.type == t) return &a;
        return nullptr;
    }
    const Attr& get(std::uint16_t t) const {
        const Attr* a = find(t);
        if (!a) FAIL("no attribute " << t);
        return *a;
    }
    std::vector<std::uint16_t> types() const {
        std::vector<std::uint16_t> v;
        for (const auto& a : attrs) v.push_back(a.type);
        return v;
    }
    template <class T>
    T header_as() const {
        REQUIRE(header.size() == sizeof(T));
        T t;
        std::memcpy(&t, header.data(), sizeof t);
        return t;
    }
};

// The attributes of a block of `size` bytes, which they must fill exactly.
inline std::vector<Attr> walk(const std::uint8_t* p, std::size_t size) {
    std::vector<Attr> out;
    std::size_t at = 0;
    while (at < size) {
        REQUIRE(at + 4 <= size);
        nlattr h{};
        std::memcpy(&h, p + at, 4);
        REQUIRE(h.nla_len >= 4);
        REQUIRE(at + h.nla_len <= size);
        out.push_back(Attr{static_cast<std::uint16_t>(h.nla_type & NLA_TYPE_MASK),
                           (h.nla_type & NLA_F_NESTED) != 0,
                           Bytes(p + at + 4, p + at + h.nla_len)});
        at += MNL_ALIGN(h.nla_len);
    }
    CHECK(at == size);
    return out;
}

inline int collect(const nlattr* a, void* data) {
    auto* out = static_cast<std::vector<Attr>*>(data);
    const auto* p = static_cast<const std::uint8_t*>(mnl_attr_get_payload(a));
    out->push_back(Attr{mnl_attr_get_type(a), (a->nla_type & NLA_F_NESTED) != 0,
                        Bytes(p, p + mnl_attr_get_payload_len(a))});
    return MNL_CB_OK;
}

// Decodes one message: exactly one nlmsghdr spanning the whole buffer, a fixed header of
// `header_size` bytes, then attributes that exactly fill the rest.
inline Decoded decode(std::span<const std::uint8_t> bytes, std::size_t header_size) {
    Bytes copy(bytes.begin(), bytes.end());
    const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(copy.data()));
    REQUIRE(mnl_nlmsg_ok(nlh, static_cast<int>(copy.size())));
    REQUIRE(nlh->nlmsg_len == copy.size());
    Decoded d;
    d.type = nlh->nlmsg_type;
    d.flags = nlh->nlmsg_flags;
    const auto* payload = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh));
    REQUIRE(mnl_nlmsg_get_payload_len(nlh) >= MNL_ALIGN(header_size));
    d.header.assign(payload, payload + header_size);
    REQUIRE(mnl_attr_parse(nlh, static_cast<unsigned>(header_size), collect, &d.attrs) >= 0);
    // Attributes fill the message exactly (no trailing garbage).
    std::size_t used = MNL_ALIGN(header_size);
    for (const auto& a : d.attrs) used += MNL_ALIGN(MNL_ATTR_HDRLEN + a.payload.size());
    CHECK(used == mnl_nlmsg_get_payload_len(nlh));
    return d;
}

inline std::vector<Attr> decode_nested(const Attr& nest) {
    return walk(nest.payload.data(), nest.payload.size());
}

inline std::uint16_t u16_of(const Attr& a) {
    REQUIRE(a.payload.size() == 2);
    std::uint16_t v = 0;
    std::memcpy(&v, a.payload.data(), 2);
    return v;
}
inline std::uint32_t u32_of(const Attr& a) {
    REQUIRE(a.payload.size() == 4);
    std::uint32_t v = 0;
    std::memcpy(&v, a.payload.data(), 4);
    return v;
}
inline std::string str_of(const Attr& a) {
    REQUIRE(!a.payload.empty());
    CHECK(a.payload.back() == 0);
    return std::string(a.payload.begin(), a.payload.end() - 1);
}
inline Bytes tail(const Attr& a, std::size_t from) {
    REQUIRE(a.payload.size() >= from);
    return Bytes(a.payload.begin() + static_cast<long>(from), a.payload.end());
}
template <class T>
T struct_of(const Attr& a, std::size_t expected_size = sizeof(T)) {
    REQUIRE(a.payload.size() == expected_size);
    T t;
    std::memcpy(&t, a.payload.data(), sizeof t);
    return t;
}

}  // namespace cgwd::dataplane::test::nl
