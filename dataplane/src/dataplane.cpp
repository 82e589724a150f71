#include "cgwd/dataplane/dataplane.hpp"

namespace cgwd::dataplane {

namespace {

std::unexpected<Error> invalid(std::string message) {
    return std::unexpected(Error{Errc::invalid_argument, std::move(message), 0});
}

bool limit_ok(const Limit& l) {
    return l.soft == 0 || l.hard == 0 || l.soft <= l.hard;
}

}  // namespace

std::size_t enc_key_length(const config::Cipher& cipher) {
    return config::cipher_keymat_bytes(cipher);
}

std::size_t integ_key_length(std::uint16_t integ) {
    return config::integ_key_bytes(integ);
}

std::expected<void, Error> validate(const SaConfig& sa) {
    if (sa.spi < 256) return invalid("SPI 0..255 is reserved (RFC 4303 section 2.1)");
    const std::size_t enc_len = enc_key_length(sa.cipher);
    if (enc_len == 0) return invalid("unsupported cipher or key length");
    if (!sa.enc_key.valid() || sa.enc_key.size() != enc_len)
        return invalid("encryption key has the wrong length");
    if (sa.cipher.is_aead()) {
        if (sa.integ != config::integ::none || !sa.integ_key.empty())
            return invalid("AES-GCM takes no integrity transform");
    } else {
        const std::size_t integ_len = integ_key_length(sa.integ);
        if (integ_len == 0) return invalid("AES-CBC needs a supported integrity transform");
        if (!sa.integ_key.valid() || sa.integ_key.size() != integ_len)
            return invalid("integrity key has the wrong length");
    }
    if (sa.direction == Direction::inbound && (sa.replay_window < 64 || sa.replay_window > 4096))
        return invalid("replay window must be 64..4096");
    if (!limit_ok(sa.lifetime.bytes) || !limit_ok(sa.lifetime.packets) ||
        !limit_ok(sa.lifetime.seconds))
        return invalid("soft lifetime above hard lifetime");
    if (sa.encap && (sa.encap->src_port == 0 || sa.encap->dst_port == 0))
        return invalid("UDP encapsulation port 0");
    return {};
}

RouteBatchResult Dataplane::apply_routes(std::span<const RouteChange> changes) {
    RouteBatchResult out;
    out.errors.reserve(changes.size());
    for (const RouteChange& c : changes) {
        auto r = c.kind == RouteChange::Kind::add ? add_route(c.route) : del_route(c.key);
        if (r) {
            out.errors.emplace_back();
        } else {
            out.errors.emplace_back(std::move(r.error()));
            ++out.failures;
        }
    }
    return out;
}

}  // namespace cgwd::dataplane
