#include "cgwd/config/model.hpp"

namespace cgwd::config {

const char* to_string(GatewayKind g) {
    return g == GatewayKind::vgw ? "VGW" : "TGW";
}
const char* to_string(Routing r) {
    return r == Routing::bgp ? "BGP" : "static";
}
const char* to_string(DpdAction a) {
    switch (a) {
        case DpdAction::clear:
            return "clear";
        case DpdAction::none:
            return "none";
        case DpdAction::restart:
            return "restart";
    }
    return "?";
}
const char* to_string(StartupAction a) {
    return a == StartupAction::add ? "add" : "start";
}

std::string cipher_name(const Cipher& c) {
    std::string bits = std::to_string(c.key_bits);
    if (c.id == encr::aes_cbc) return "AES-" + bits + "-CBC";
    if (c.id == encr::aes_gcm_16) return "AES-" + bits + "-GCM-16";
    return "ENCR-" + std::to_string(c.id) + "-" + bits;
}

std::string integ_name(std::uint16_t id) {
    switch (id) {
        case integ::none:
            return "NONE";
        case integ::hmac_sha1_96:
            return "HMAC-SHA1-96";
        case integ::hmac_sha2_256_128:
            return "HMAC-SHA2-256-128";
        case integ::hmac_sha2_384_192:
            return "HMAC-SHA2-384-192";
        case integ::hmac_sha2_512_256:
            return "HMAC-SHA2-512-256";
    }
    return "INTEG-" + std::to_string(id);
}

std::string prf_name(std::uint16_t id) {
    switch (id) {
        case prf::hmac_sha1:
            return "PRF-HMAC-SHA1";
        case prf::hmac_sha2_256:
            return "PRF-HMAC-SHA2-256";
        case prf::hmac_sha2_384:
            return "PRF-HMAC-SHA2-384";
        case prf::hmac_sha2_512:
            return "PRF-HMAC-SHA2-512";
    }
    return "PRF-" + std::to_string(id);
}

std::string dh_name(std::uint16_t g) {
    switch (g) {
        case 2:
            return "MODP-1024";
        case 5:
            return "MODP-1536";
        case 14:
            return "MODP-2048";
        case 15:
            return "MODP-3072";
        case 16:
            return "MODP-4096";
        case 17:
            return "MODP-6144";
        case 18:
            return "MODP-8192";
        case 19:
            return "ECP-256";
        case 20:
            return "ECP-384";
        case 21:
            return "ECP-521";
        case 22:
            return "MODP-1024-S160";
        case 23:
            return "MODP-2048-S224";
        case 24:
            return "MODP-2048-S256";
        case 31:
            return "CURVE25519";
    }
    return "DH-" + std::to_string(g);
}

std::string proposal_string(const Proposal& p) {
    std::string out;
    auto add = [&](const std::string& s) {
        if (!out.empty()) out += '/';
        out += s;
    };
    auto list = [](const auto& items, auto name) {
        std::string s;
        for (const auto& i : items) s += (s.empty() ? "" : ",") + name(i);
        return s;
    };
    add(list(p.ciphers, cipher_name));
    if (!p.integ.empty()) add(list(p.integ, integ_name));
    if (!p.prf.empty()) add(list(p.prf, prf_name));
    if (!p.dh.empty()) add(list(p.dh, dh_name));
    return out;
}

std::size_t cipher_keymat_bytes(const Cipher& c) {
    if (c.key_bits != 128 && c.key_bits != 256) return 0;
    if (c.id == encr::aes_cbc) return c.key_bits / 8;
    if (c.id == encr::aes_gcm_16) return c.key_bits / 8 + 4;
    return 0;
}

std::size_t integ_key_bytes(std::uint16_t id) {
    switch (id) {
        case integ::hmac_sha1_96:
            return 20;
        case integ::hmac_sha2_256_128:
            return 32;
        case integ::hmac_sha2_384_192:
            return 48;
        case integ::hmac_sha2_512_256:
            return 64;
    }
    return 0;
}

std::size_t integ_icv_bytes(std::uint16_t id) {
    switch (id) {
        case integ::hmac_sha1_96:
            return 12;
        case integ::hmac_sha2_256_128:
            return 16;
        case integ::hmac_sha2_384_192:
            return 24;
        case integ::hmac_sha2_512_256:
            return 32;
    }
    return 0;
}

}  // namespace cgwd::config
