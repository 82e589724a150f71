// IKEv2 codec robustness: truncation at every length, length-field corruption, critical unknown
// payloads, caps on payload / proposal / transform / selector counts, field values RFC 7296
// forbids, encoder-side validation, encrypted layout and NAT-T demultiplexing.
#include <catch2/catch.hpp>

#include "cgwd/ike/codec_natt.hpp"
#include "cgwd/ike/message.hpp"
#include "message_test_util.hpp"

using namespace cgwd::ike;
using cgwd::ike::test::counting;
using cgwd::ike::test::filled;
using cgwd::ike::test::hex;
using cgwd::ike::test::make;

namespace {

void append(Bytes& out, const Bytes& more) {
    out.insert(out.end(), more.begin(), more.end());
}

// A 28-byte header (SPIs 1 / 0, IKE_SA_INIT, I flag) with the right Length, then `payloads`.
Bytes with_header(std::uint8_t first, const Bytes& payloads) {
    Bytes out = hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00");
    out.push_back(first);
    append(out, hex("20 22 08 00 00 00 00"));
    const std::size_t length = 28 + payloads.size();
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(length >> shift));
    append(out, payloads);
    return out;
}

// A generic payload header.
Bytes generic(std::uint8_t next, std::size_t body_size, bool critical = false) {
    const std::size_t length = 4 + body_size;
    return {next, static_cast<std::uint8_t>(critical ? 0x80 : 0),
            static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

DecodeError decode_error(const Bytes& bytes) {
    auto m = decode_message(bytes);
    REQUIRE_FALSE(m.has_value());
    return m.error();
}

DecodeError inner_error(PayloadType first, const Bytes& bytes) {
    auto m = decode_payloads(first, bytes);
    REQUIRE_FALSE(m.has_value());
    return m.error();
}

Bytes encoded(const Message& m) {
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    return *bytes;
}

std::vector<Payload> child_sa_chain() {
    Proposal esp{
        1,
        ProtocolId::esp,
        hex("c1 c2 c3 c4"),
        {Transform::make(TransformType::encr, 12, 128), Transform::make(TransformType::integ, 2),
         Transform::make(TransformType::esn, 0)}};
    return {make(PayloadType::sa, SaPayload{{esp}}),
            make(PayloadType::nonce, NoncePayload{filled(32, 0x5a)}),
            make(PayloadType::tsi,
                 TsPayload{{TrafficSelector::ipv4({169, 254, 0, 0}, {169, 254, 255, 255})}}),
            make(PayloadType::tsr,
                 TsPayload{{TrafficSelector::ipv4({0, 0, 0, 0}, {255, 255, 255, 255})}}),
            make(PayloadType::del, DeletePayload{ProtocolId::esp, {0xa1a2a3a4}})};
}

Message sa_init_request() {
    Proposal ike{1,
                 ProtocolId::ike,
                 {},
                 {Transform::make(TransformType::encr, 20, 256),
                  Transform::make(TransformType::prf, 7), Transform::make(TransformType::dh, 19)}};
    return Message{
        Header{0x1122334455667788, 0, ExchangeType::ike_sa_init, true, false, false, 0},
        {make(PayloadType::sa, SaPayload{{ike}}),
         make(PayloadType::ke, KePayload{19, filled(64, 0x42)}),
         make(PayloadType::nonce, NoncePayload{filled(32, 0x77)}),
         make(PayloadType::notify,
              NotifyPayload{
                  ProtocolId::none, {}, NotifyType::nat_detection_source_ip, filled(20, 0x33)}),
         make(
             PayloadType::notify,
             NotifyPayload{
                 ProtocolId::none, {}, NotifyType::nat_detection_destination_ip, filled(20, 0x44)}),
         make(PayloadType::notify,
              NotifyPayload{ProtocolId::none, {}, NotifyType::ikev2_fragmentation_supported, {}}),
         make(PayloadType::vendor_id, VendorIdPayload{filled(16, 0x99)})}};
}

std::vector<Bytes> sample_messages() {
    Message auth{Header{5, 6, ExchangeType::ike_auth, true, false, false, 1},
                 {make(PayloadType::sk, SkPayload{PayloadType::idi, counting(64)})}};
    Message frag{Header{5, 6, ExchangeType::ike_auth, true, false, false, 1},
                 {make(PayloadType::skf, SkfPayload{PayloadType::idi, 1, 2, counting(40)})}};
    Message info{Header{5, 6, ExchangeType::informational, false, false, true, 9}, {}};
    return {encoded(sa_init_request()), encoded(auth), encoded(frag), encoded(info)};
}

// Offsets of the generic payload headers of a chain that starts at `start`.
std::vector<std::size_t> payload_offsets(const Bytes& bytes, std::size_t start) {
    std::vector<std::size_t> out;
    for (std::size_t at = start; at + 4 <= bytes.size();) {
        out.push_back(at);
        at += std::size_t{bytes[at + 2]} << 8 | bytes[at + 3];
    }
    return out;
}

void set_u16(Bytes& b, std::size_t at, std::size_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

}  // namespace

TEST_CASE("Every strict prefix of a message is rejected", "[ike][message][robustness]") {
    for (const Bytes& full : sample_messages()) {
        REQUIRE(decode_message(full).has_value());
        for (std::size_t len = 0; len < full.size(); ++len) {
            Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
            INFO("length " << len << " of " << full.size());
            CHECK_FALSE(decode_message(cut).has_value());
            CHECK_FALSE(encrypted_layout(cut).has_value());
            if (len < header_size) continue;
            // Also with the header Length patched to match, so the payload chain is exercised.
            set_u16(cut, 26, len);
            cut[24] = cut[25] = 0;
            auto m = decode_message(cut);
            CHECK_FALSE(m.has_value());
            if (!m) CHECK(m.error().kind == DecodeErrorKind::truncated);
        }
    }
}

TEST_CASE("Every strict prefix of an inner payload chain is rejected",
          "[ike][message][robustness]") {
    auto plain = encode_payloads(child_sa_chain());
    REQUIRE(plain.has_value());
    REQUIRE(decode_payloads(PayloadType::sa, *plain).has_value());
    for (std::size_t len = 0; len < plain->size(); ++len) {
        INFO("length " << len);
        auto r = decode_payloads(PayloadType::sa, std::span(*plain).first(len));
        CHECK_FALSE(r.has_value());
    }
}

TEST_CASE("Header Length that disagrees with the datagram is rejected",
          "[ike][message][robustness]") {
    const Bytes good = encoded(sa_init_request());
    for (std::size_t v :
         {std::size_t{0}, std::size_t{27}, good.size() - 1, good.size() + 1, std::size_t{0xffff}}) {
        Bytes b = good;
        set_u16(b, 26, v);
        const DecodeError e = decode_error(b);
        CHECK(e.offset == 24);
        CHECK(e.kind ==
              (v > good.size() ? DecodeErrorKind::truncated : DecodeErrorKind::bad_length));
    }
    // Trailing bytes after a correct message (length says 28 + payloads, datagram is longer).
    Bytes trailing = good;
    trailing.push_back(0);
    CHECK(decode_error(trailing).kind == DecodeErrorKind::bad_length);
}

// A Payload Length that makes an opaque payload swallow whole following payloads can be
// well-formed (the chain then continues at a real payload boundary, re-typed by the Next
// Payload field) - the format cannot detect that. Every other wrong value must be rejected:
// the chain then resumes mid-payload or overruns.
template <class Decode>
void sweep_payload_lengths(const Bytes& good, std::size_t start, std::size_t expected_payloads,
                           Decode decode) {
    REQUIRE(decode(good));
    const auto offsets = payload_offsets(good, start);
    REQUIRE(offsets.size() == expected_payloads);
    for (std::size_t i = 0; i < offsets.size(); ++i) {
        const std::size_t at = offsets[i];
        const std::size_t original = std::size_t{good[at + 2]} << 8 | good[at + 3];
        for (std::size_t v = 0; v <= 0xffff; v = v < good.size() + 8 ? v + 1 : v * 2 + 1) {
            if (v == original) continue;
            bool boundary = at + v == good.size();
            for (std::size_t j = i + 1; j < offsets.size(); ++j) boundary |= at + v == offsets[j];
            Bytes b = good;
            set_u16(b, at + 2, v);
            INFO("payload at " << at << " length " << v);
            const bool ok = decode(b);  // must not crash either way
            if (!boundary) CHECK_FALSE(ok);
        }
    }
}

TEST_CASE("Wrong payload Length values are rejected", "[ike][message][robustness]") {
    sweep_payload_lengths(encoded(sa_init_request()), header_size, 7,
                          [](const Bytes& b) { return decode_message(b).has_value(); });
    auto plain = encode_payloads(child_sa_chain());
    REQUIRE(plain.has_value());
    sweep_payload_lengths(*plain, 0, 5, [](const Bytes& b) {
        return decode_payloads(PayloadType::sa, b).has_value();
    });
}

TEST_CASE("Corrupt substructure lengths are rejected", "[ike][message][robustness]") {
    auto plain = encode_payloads(child_sa_chain());
    REQUIRE(plain.has_value());
    // SA payload at 0: proposal header at 4 (length at 6), first transform at 16 (length 18),
    // its Key Length attribute at 24.
    for (std::size_t field : {std::size_t{6}, std::size_t{18}}) {
        const std::size_t original = std::size_t{(*plain)[field]} << 8 | (*plain)[field + 1];
        for (std::size_t v :
             {std::size_t{0}, std::size_t{7}, original - 1, original + 1, std::size_t{0xffff}}) {
            Bytes b = *plain;
            set_u16(b, field, v);
            const DecodeError e = inner_error(PayloadType::sa, b);
            CHECK(e.kind == DecodeErrorKind::bad_length);
            CHECK(e.payload == PayloadType::sa);
        }
    }
    // Num Transforms one too many / one too few.
    for (std::uint8_t n : {std::uint8_t{2}, std::uint8_t{4}}) {
        Bytes b = *plain;
        b[11] = n;
        CHECK_FALSE(decode_payloads(PayloadType::sa, b).has_value());
    }
    // A TS Selector Length that is not 16 for an IPv4 range.
    const Bytes ts =
        hex("00 00 00 18  01 00 00 00  07 00 00 11  00 00 ff ff  01 02 03 04 05 06 07 08");
    CHECK(inner_error(PayloadType::tsi, ts).kind == DecodeErrorKind::bad_length);
    // Notify SPI Size larger than the payload.
    const Bytes n = hex("00 00 00 0a  03 08 40 09  01 02");
    CHECK(inner_error(PayloadType::notify, n).kind == DecodeErrorKind::bad_length);
    // Delete with Num of SPIs not matching the payload length.
    const Bytes d = hex("00 00 00 0c  03 04 00 02  01 02 03 04");
    CHECK(inner_error(PayloadType::del, d).kind == DecodeErrorKind::bad_length);
}

TEST_CASE("Critical bit on an unknown payload rejects the message", "[ike][message][robustness]") {
    // N(INITIAL_CONTACT) -> unknown type 200 with body ca fe.
    Bytes payloads = generic(200, 4);
    append(payloads, hex("00 00 40 00"));
    Bytes unknown_critical = payloads;
    append(unknown_critical, generic(0, 2, true));
    append(unknown_critical, hex("ca fe"));
    const DecodeError e = decode_error(with_header(41, unknown_critical));
    CHECK(e.kind == DecodeErrorKind::unsupported_critical);
    CHECK(e.offset == 36);
    CHECK(e.payload == static_cast<PayloadType>(200));
    const NotifyPayload reply = error_notify(e);
    CHECK(reply.type == NotifyType::unsupported_critical_payload);
    CHECK(reply.data == Bytes{200});  // RFC 7296 3.10.1: the one-octet payload type
    CHECK(inner_error(PayloadType::notify, unknown_critical).kind ==
          DecodeErrorKind::unsupported_critical);

    // Without the critical bit it is kept as a generic payload and round-trips.
    Bytes skippable = payloads;
    append(skippable, generic(0, 2, false));
    append(skippable, hex("ca fe"));
    auto m = decode_message(with_header(41, skippable));
    REQUIRE(m.has_value());
    REQUIRE(m->payloads.size() == 2);
    CHECK(m->payloads[1].type == static_cast<PayloadType>(200));
    CHECK(m->payloads[1].get<GenericPayload>()->body == hex("ca fe"));
    CHECK(encoded(*m) == with_header(41, skippable));
}

TEST_CASE("Payload and element counts are capped", "[ike][message][robustness]") {
    // 64 empty Vendor ID payloads decode; 65 do not.
    for (std::size_t count : {limits::max_payloads, limits::max_payloads + 1}) {
        Bytes chain;
        for (std::size_t i = 0; i < count; ++i) append(chain, generic(i + 1 < count ? 43 : 0, 0));
        auto m = decode_message(with_header(43, chain));
        auto inner = decode_payloads(PayloadType::vendor_id, chain);
        if (count <= limits::max_payloads) {
            REQUIRE(m.has_value());
            CHECK(m->payloads.size() == count);
            CHECK(inner.has_value());
        } else {
            REQUIRE_FALSE(m.has_value());
            CHECK(m.error().kind == DecodeErrorKind::too_many);
            CHECK(m.error().offset == header_size + 4 * limits::max_payloads);
            REQUIRE_FALSE(inner.has_value());
            CHECK(inner.error().kind == DecodeErrorKind::too_many);
        }
    }
    std::vector<Payload> many(limits::max_payloads + 1,
                              make(PayloadType::vendor_id, VendorIdPayload{}));
    CHECK(encode_payloads(many).error() == EncodeError::too_many);

    // 65 proposals of 8 bytes (no transforms).
    Bytes sa = generic(0, 8 * (limits::max_proposals + 1));
    for (std::size_t i = 0; i <= limits::max_proposals; ++i)
        append(sa,
               {static_cast<std::uint8_t>(i < limits::max_proposals ? 2 : 0), 0, 0, 8, 1, 1, 0, 0});
    CHECK(inner_error(PayloadType::sa, sa).kind == DecodeErrorKind::too_many);

    // One proposal announcing 65 transforms (and carrying them).
    const std::size_t n = limits::max_transforms + 1;
    Bytes transforms = generic(0, 8 + 8 * n);
    append(transforms, hex("00 00"));
    transforms.push_back(static_cast<std::uint8_t>((8 + 8 * n) >> 8));
    transforms.push_back(static_cast<std::uint8_t>(8 + 8 * n));
    append(transforms, {1, 1, 0, static_cast<std::uint8_t>(n)});
    for (std::size_t i = 0; i < n; ++i)
        append(transforms, {static_cast<std::uint8_t>(i + 1 < n ? 3 : 0), 0, 0, 8, 4, 0, 0, 14});
    CHECK(inner_error(PayloadType::sa, transforms).kind == DecodeErrorKind::too_many);

    // 17 attributes on one transform.
    const std::size_t a = limits::max_attributes + 1;
    Bytes attrs = generic(0, 16 + 4 * a);
    append(attrs, {0, 0, 0, static_cast<std::uint8_t>(16 + 4 * a), 1, 1, 0, 1});
    append(attrs, {0, 0, 0, static_cast<std::uint8_t>(8 + 4 * a), 1, 0, 0, 12});
    for (std::size_t i = 0; i < a; ++i) append(attrs, hex("80 0e 00 80"));
    CHECK(inner_error(PayloadType::sa, attrs).kind == DecodeErrorKind::too_many);

    // TS payload announcing 65 selectors.
    Bytes ts = generic(0, 4 + 16 * 65);
    append(ts, hex("41 00 00 00"));
    for (int i = 0; i < 65; ++i) append(ts, hex("07 00 00 10 00 00 ff ff 00 00 00 00 ff ff ff ff"));
    CHECK(inner_error(PayloadType::tsi, ts).kind == DecodeErrorKind::too_many);
}

TEST_CASE("Field values RFC 7296 forbids are invalid syntax", "[ike][message][robustness]") {
    using K = DecodeErrorKind;
    // Major version 3 -> INVALID_MAJOR_VERSION; IKEv1 (1.0) likewise rejected.
    for (std::uint8_t version : {std::uint8_t{0x30}, std::uint8_t{0x10}}) {
        Bytes b = with_header(0, {});
        b[17] = version;
        const DecodeError e = decode_error(b);
        CHECK(e.kind == K::bad_version);
        CHECK(e.offset == 17);
        CHECK(error_notify(e).type == NotifyType::invalid_major_version);
    }
    struct Case {
        const char* what;
        PayloadType first;
        Bytes bytes;
        DecodeErrorKind kind;
    };
    const Case cases[] = {
        {"proposal marker 2 on the last proposal", PayloadType::sa,
         hex("00 00 00 14  02 00 00 10 01 01 00 01  00 00 00 08 04 00 00 0e"), K::invalid_syntax},
        {"transform marker 3 on the last transform", PayloadType::sa,
         hex("00 00 00 14  00 00 00 10 01 01 00 01  03 00 00 08 04 00 00 0e"), K::invalid_syntax},
        {"SPI size 3", PayloadType::sa, hex("00 00 00 0f  00 00 00 0b 01 03 03 00  01 02 03"),
         K::invalid_syntax},
        {"Delete IKE with SPI size 4", PayloadType::del, hex("00 00 00 0c 01 04 00 01 01 02 03 04"),
         K::invalid_syntax},
        {"Delete ESP with SPI size 0", PayloadType::del, hex("00 00 00 08 03 00 00 00"),
         K::invalid_syntax},
        {"SKF fragment 0", PayloadType::skf, hex("00 00 00 08 00 00 00 03"), K::invalid_syntax},
        {"SKF fragment 4 of 3", PayloadType::skf, hex("00 00 00 08 00 04 00 03"),
         K::invalid_syntax},
        {"TS count 0", PayloadType::tsi, hex("00 00 00 08 00 00 00 00"), K::invalid_syntax},
        {"TS type 9", PayloadType::tsi,
         hex("00 00 00 18 01 00 00 00 09 00 00 10 00 00 ff ff 00 00 00 00 ff ff ff ff"),
         K::invalid_syntax},
        {"Nonce of 15 bytes", PayloadType::nonce,
         [] {
             Bytes b = generic(0, 15);
             append(b, filled(15, 1));
             return b;
         }(),
         K::bad_length},
        {"Nonce of 257 bytes", PayloadType::nonce,
         [] {
             Bytes b = generic(0, 257);
             append(b, filled(257, 1));
             return b;
         }(),
         K::invalid_syntax},
        {"SA payload with no proposal", PayloadType::sa, hex("00 00 00 04"), K::bad_length},
        {"Payload Length below 4", PayloadType::vendor_id, hex("00 00 00 03"), K::bad_length},
        {"SK inside an inner chain", PayloadType::sk, hex("00 00 00 08 01 02 03 04"),
         K::invalid_syntax},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        // Skip the SKF cases for the inner chain (encrypted payloads are outer-only).
        const bool encrypted = c.first == PayloadType::skf || c.first == PayloadType::sk;
        if (!encrypted || c.first == PayloadType::sk)
            CHECK(inner_error(c.first, c.bytes).kind == c.kind);
        if (c.first != PayloadType::sk) {
            const DecodeError e =
                decode_error(with_header(static_cast<std::uint8_t>(c.first), c.bytes));
            CHECK(e.kind == c.kind);
            CHECK(e.payload == c.first);
            if (c.kind == K::invalid_syntax)
                CHECK(error_notify(e).type == NotifyType::invalid_syntax);
        }
    }
    // SK followed by another payload in the outer chain: SK must be last.
    Bytes sk = generic(40, 4);
    append(sk, hex("01 02 03 04"));
    append(sk, generic(0, 16));
    append(sk, filled(16, 1));
    CHECK(decode_error(with_header(46, sk)).kind == K::invalid_syntax);
}

TEST_CASE("Encoder rejects payloads it cannot put on the wire", "[ike][message][robustness]") {
    auto enc = [](std::vector<Payload> p) { return encode_payloads(p); };
    CHECK(enc({make(PayloadType::sa, KePayload{})}).error() == EncodeError::type_mismatch);
    CHECK(enc({make(PayloadType::cert, NoncePayload{})}).error() == EncodeError::type_mismatch);
    CHECK(enc({make(static_cast<PayloadType>(200), VendorIdPayload{})}).error() ==
          EncodeError::type_mismatch);
    CHECK(enc({make(PayloadType::none, GenericPayload{})}).error() == EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::nonce, NoncePayload{filled(15, 0)})}).error() ==
          EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::sa, SaPayload{})}).error() == EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::sa, SaPayload{{Proposal{1, ProtocolId::ike, {1, 2, 3}, {}}}})})
              .error() == EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::tsi, TsPayload{})}).error() == EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::del, DeletePayload{ProtocolId::ike, {1}})}).error() ==
          EncodeError::invalid_value);
    CHECK(enc({make(PayloadType::vendor_id, VendorIdPayload{filled(65532, 0)})}).error() ==
          EncodeError::too_large);
    CHECK(enc({make(PayloadType::vendor_id, VendorIdPayload{filled(65531, 0)})}).has_value());
    CHECK(enc({make(PayloadType::sk, SkPayload{})}).error() == EncodeError::misplaced_encrypted);

    Message m{
        Header{},
        {make(PayloadType::sk, SkPayload{}), make(PayloadType::vendor_id, VendorIdPayload{})}};
    CHECK(encode_message(m).error() == EncodeError::misplaced_encrypted);
    m.payloads = {make(PayloadType::skf, SkfPayload{PayloadType::none, 3, 2, {}})};
    CHECK(encode_message(m).error() == EncodeError::invalid_value);
}

TEST_CASE("Encrypted layout needs an SK or SKF payload", "[ike][message][robustness]") {
    CHECK(encrypted_layout(encoded(sa_init_request())).error().kind ==
          DecodeErrorKind::invalid_syntax);
    CHECK(encrypted_layout(with_header(0, {})).error().kind == DecodeErrorKind::invalid_syntax);
    // SKF whose length cannot hold the fragment fields.
    CHECK(encrypted_layout(with_header(53, hex("00 00 00 06 00 01"))).error().kind ==
          DecodeErrorKind::bad_length);
}

TEST_CASE("UDP 4500: non-ESP marker, ESP and NAT-keepalive", "[ike][natt]") {
    const Bytes ike = encoded(sa_init_request());
    const Bytes framed = add_non_esp_marker(ike);
    REQUIRE(framed.size() == ike.size() + 4);
    CHECK(Bytes(framed.begin(), framed.begin() + 4) == hex("00 00 00 00"));
    auto p = classify_udp4500(framed);
    CHECK(p.kind == Udp4500Kind::ike);
    CHECK(Bytes(p.data.begin(), p.data.end()) == ike);
    CHECK(decode_message(p.data).has_value());

    const Bytes esp = hex("c1 c2 c3 c4 00 00 00 01 aa bb");
    p = classify_udp4500(esp);
    CHECK(p.kind == Udp4500Kind::esp);
    CHECK(p.data.size() == esp.size());

    CHECK(classify_udp4500(hex("ff")).kind == Udp4500Kind::keepalive);
    CHECK(classify_udp4500(hex("00 00 00")).kind == Udp4500Kind::invalid);
    CHECK(classify_udp4500(hex("c1 c2 c3 c4 00 00 00")).kind == Udp4500Kind::invalid);
    CHECK(classify_udp4500(hex("fe")).kind == Udp4500Kind::invalid);
}
