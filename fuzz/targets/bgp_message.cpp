// Fuzz target for the BGP wire codecs: feeds the input to the stream framer in chunks whose
// sizes come from the input itself, then decodes every framed message (UPDATE under the four
// session contexts, OPEN, NOTIFICATION, ROUTE-REFRESH). Round-trip properties are asserted:
// a cleanly decoded UPDATE or OPEN re-encodes to something that decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cgwd/bgp/framer.hpp"
#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/update.hpp"
#include "targets.hpp"

using namespace cgwd::bgp;

namespace {

void check_update(ByteView body, const UpdateContext& ctx) {
    auto u = decode_update(body, ctx);
    if (!u) return;
    (void)effective_as_path(u->attributes);
    (void)u->routes_withdrawn();
    (void)u->end_of_rib();
    if (!u->errors.empty()) return;
    auto again = encode_update(*u, ctx);
    if (!again) return;
    auto back = decode_update(ByteView(*again).subspan(kHeaderSize), ctx);
    if (!back || back->attributes != u->attributes || back->nlri != u->nlri ||
        back->withdrawn != u->withdrawn) {
        std::abort();
    }
}

void check_open(ByteView body) {
    auto o = decode_open(body);
    if (!o) return;
    (void)validate_open(*o, OpenPolicy{});
    const Bytes again = encode_open(*o);
    auto back = decode_open(ByteView(again).subspan(kHeaderSize));
    if (!back || back->capabilities != o->capabilities) std::abort();
}

void handle(const RawMessage& m) {
    const ByteView body(m.body);
    switch (m.type) {
        case MessageType::Update:
            for (bool four : {false, true}) {
                for (bool external : {false, true})
                    check_update(body, UpdateContext{four, external});
            }
            break;
        case MessageType::Open:
            check_open(body);
            break;
        case MessageType::Notification: {
            auto n = decode_notification(body);
            if (n) (void)shutdown_communication(*n);
            break;
        }
        case MessageType::RouteRefresh:
            (void)decode_route_refresh(body);
            break;
        case MessageType::Keepalive:
            break;
    }
}

}  // namespace

int cgwd::fuzz::fuzz_bgp_message(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // First octet picks the chunk size (1..256) used to feed the rest.
    const std::size_t chunk = std::size_t{data[0]} + 1;
    const ByteView input(data + 1, size - 1);
    Framer framer;
    for (std::size_t off = 0; off < input.size(); off += chunk) {
        framer.feed(input.subspan(off, std::min(chunk, input.size() - off)));
        for (;;) {
            auto r = framer.next();
            if (!r) return 0;
            if (!*r) break;
            handle(**r);
        }
    }
    // The UPDATE parser is also fed the raw input directly, without a header.
    check_update(input, UpdateContext{true, true});
    check_update(input, UpdateContext{false, false});
    return 0;
}
