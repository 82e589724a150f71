// IKEv2 codec: byte-exact encodings hand-computed from the RFC 7296 section 3 / RFC 7383
// section 2.5 layouts (each expected byte string is annotated field by field), and round trips
// of every payload type.
//
// A tshark cross-check would go here (tshark is not installed on the build machine): write the
// encoded messages into a pcap as UDP/500 and compare `tshark -V -d udp.port==500,isakmp`'s
// field dump with the structs. Not done.
#include <catch2/catch.hpp>

#include "cgwd/ike/message.hpp"
#include "message_test_util.hpp"

using namespace cgwd::ike;
using cgwd::ike::test::counting;
using cgwd::ike::test::filled;
using cgwd::ike::test::hex;
using cgwd::ike::test::make;

namespace {

Bytes encode_chain(std::vector<Payload> payloads) {
    auto out = encode_payloads(payloads);
    REQUIRE(out.has_value());
    return *out;
}

std::vector<Payload> decode_chain(PayloadType first, const Bytes& bytes) {
    auto out = decode_payloads(first, bytes);
    if (!out) FAIL("decode error " << to_string(out.error().kind) << " at " << out.error().offset);
    return *out;
}

SaPayload two_proposals() {
    Proposal ike{1, ProtocolId::ike, {}, {}};
    ike.transforms = {Transform::make(TransformType::encr, 12, 256),  // AES-CBC-256
                      Transform::make(TransformType::prf, 5),         // PRF-HMAC-SHA2-256
                      Transform::make(TransformType::integ, 12),      // HMAC-SHA2-256-128
                      Transform::make(TransformType::dh, 14)};        // MODP-2048
    Proposal esp{2, ProtocolId::esp, hex("de ad be ef"), {}};
    esp.transforms = {Transform::make(TransformType::encr, 20, 128),  // AES-GCM-16-128
                      Transform::make(TransformType::esn, 0)};
    return SaPayload{{ike, esp}};
}

}  // namespace

TEST_CASE("IKE header encodes to the RFC 7296 3.1 layout", "[ike][message]") {
    Message m;
    m.header.spi_i = 0x0102030405060708;
    m.header.spi_r = 0;
    m.header.exchange = ExchangeType::ike_sa_init;
    m.header.initiator = true;
    m.header.message_id = 0;
    const Bytes expected =
        hex("01 02 03 04 05 06 07 08"  // IKE SA Initiator's SPI
            "00 00 00 00 00 00 00 00"  // IKE SA Responder's SPI
            "00"                       // Next Payload: none
            "20"                       // MjVer 2, MnVer 0
            "22"                       // Exchange Type 34 IKE_SA_INIT
            "08"                       // Flags: I
            "00 00 00 00"              // Message ID
            "00 00 00 1c");            // Length 28
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    CHECK(*bytes == expected);

    m.header.spi_r = 0xfedcba9876543210;
    m.header.exchange = ExchangeType::informational;
    m.header.initiator = false;
    m.header.response = true;
    m.header.higher_version = true;
    m.header.message_id = 0x01020304;
    const Bytes expected2 =
        hex("01 02 03 04 05 06 07 08 fe dc ba 98 76 54 32 10"
            "00 20 25"     // none, 2.0, INFORMATIONAL (37)
            "30"           // Flags: R | V
            "01 02 03 04"  // Message ID
            "00 00 00 1c");
    bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    CHECK(*bytes == expected2);
    auto back = decode_message(*bytes);
    REQUIRE(back.has_value());
    CHECK(*back == m);
}

TEST_CASE("IKE header decode ignores minor version and reserved flag bits", "[ike][message]") {
    // MnVer 1 and flag bits 0x80|0x40|0x04 set: both MUST be ignored on receipt (RFC 7296 3.1).
    const Bytes in =
        hex("11 11 11 11 11 11 11 11 00 00 00 00 00 00 00 00 00 21 22 cc"
            "00 00 00 00 00 00 00 1c");
    auto h = decode_header(in);
    REQUIRE(h.has_value());
    CHECK(h->spi_i == 0x1111111111111111);
    CHECK(h->exchange == ExchangeType::ike_sa_init);
    CHECK(h->initiator);
    CHECK_FALSE(h->response);
    CHECK_FALSE(h->higher_version);
}

TEST_CASE("SA payload with proposals, transforms and Key Length attributes", "[ike][message]") {
    const Bytes expected =
        hex("00 00 00 50"  // generic header: next none, length 80
            // Proposal 1: more (2), length 44, #1, IKE, SPI size 0, 4 transforms
            "02 00 00 2c  01 01 00 04"
            "03 00 00 0c  01 00 00 0c  80 0e 01 00"  // ENCR 12 (AES-CBC), Key Length (TV) 256
            "03 00 00 08  02 00 00 05"               // PRF 5 (HMAC-SHA2-256)
            "03 00 00 08  03 00 00 0c"               // INTEG 12 (HMAC-SHA2-256-128)
            "00 00 00 08  04 00 00 0e"               // DH 14, last transform
            // Proposal 2: last (0), length 32, #2, ESP, SPI size 4, 2 transforms, SPI
            "00 00 00 20  02 03 04 02  de ad be ef"
            "03 00 00 0c  01 00 00 14  80 0e 00 80"  // ENCR 20 (AES-GCM-16), Key Length 128
            "00 00 00 08  05 00 00 00");             // ESN 0, last transform
    const Bytes bytes = encode_chain({make(PayloadType::sa, two_proposals())});
    CHECK(bytes == expected);

    auto back = decode_chain(PayloadType::sa, expected);
    REQUIRE(back.size() == 1);
    const SaPayload* sa = back[0].get<SaPayload>();
    REQUIRE(sa != nullptr);
    CHECK(*sa == two_proposals());
    CHECK(sa->proposals[0].transforms[0].key_length() == 256);
    CHECK_FALSE(sa->proposals[0].transforms[1].key_length().has_value());
    CHECK(sa->proposals[1].spi == hex("de ad be ef"));
}

TEST_CASE("SA transform TLV attribute round-trips", "[ike][message]") {
    Transform t = Transform::make(TransformType::encr, 12, 128);
    t.attributes.push_back(Attribute{0x1234, false, 0, hex("aa bb cc")});
    SaPayload sa{{Proposal{1, ProtocolId::ike, hex("01 02 03 04 05 06 07 08"), {t}}}};
    const Bytes bytes = encode_chain({make(PayloadType::sa, sa)});
    CHECK(bytes == hex("00 00 00 27"
                       "00 00 00 23  01 01 08 01  01 02 03 04 05 06 07 08"
                       "00 00 00 13  01 00 00 0c  80 0e 00 80  12 34 00 03 aa bb cc"));
    auto back = decode_chain(PayloadType::sa, bytes);
    REQUIRE(back.size() == 1);
    CHECK(back[0] == make(PayloadType::sa, sa));
}

TEST_CASE("KE and Nonce chain: Next Payload linking and lengths", "[ike][message]") {
    const Bytes expected =
        hex("28 00 00 0c  00 0e 00 00  aa bb cc dd"  // KE: next Nonce (40), len 12, group 14
            "00 00 00 14  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");  // Nonce, len 20
    std::vector<Payload> chain = {make(PayloadType::ke, KePayload{14, hex("aa bb cc dd")}),
                                  make(PayloadType::nonce, NoncePayload{counting(16)})};
    CHECK(encode_chain(chain) == expected);
    CHECK(decode_chain(PayloadType::ke, expected) == chain);

    // The same chain inside a full IKE_SA_INIT request: header Next Payload = KE (34).
    Message m{Header{0x0102030405060708, 0, ExchangeType::ike_sa_init, true, false, false, 0},
              chain};
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    Bytes full =
        hex("01 02 03 04 05 06 07 08 00 00 00 00 00 00 00 00 22 20 22 08"
            "00 00 00 00 00 00 00 3c");  // length 28 + 12 + 20 = 60
    full.insert(full.end(), expected.begin(), expected.end());
    CHECK(*bytes == full);
    auto back = decode_message(full);
    REQUIRE(back.has_value());
    CHECK(*back == m);
}

TEST_CASE("Notify payloads: NAT detection and REKEY_SA with an ESP SPI", "[ike][message]") {
    Bytes expected = hex("29 00 00 1c  00 00 40 04");  // N: next N, len 28, no SPI, 16388
    const Bytes hash = filled(20, 0x11);
    expected.insert(expected.end(), hash.begin(), hash.end());
    const Bytes rekey = hex("00 00 00 0c  03 04 40 09  01 02 03 04");  // ESP, SPI size 4, 16393
    expected.insert(expected.end(), rekey.begin(), rekey.end());

    std::vector<Payload> chain = {
        make(PayloadType::notify,
             NotifyPayload{ProtocolId::none, {}, NotifyType::nat_detection_source_ip, hash}),
        make(PayloadType::notify,
             NotifyPayload{ProtocolId::esp, hex("01 02 03 04"), NotifyType::rekey_sa, {}})};
    CHECK(encode_chain(chain) == expected);
    CHECK(decode_chain(PayloadType::notify, expected) == chain);
}

TEST_CASE("TS payload with an IPv4 and an IPv6 range", "[ike][message]") {
    const Bytes expected =
        hex("00 00 00 40  02 00 00 00"                            // TSi len 64, 2 selectors
            "07 00 00 10  00 00 ff ff  0a 00 00 00  0a 00 00 ff"  // IPv4, any proto, 0-65535
            "08 06 00 28  01 bb 01 bb"                            // IPv6, TCP, 443-443
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
            "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff");
    std::array<std::uint8_t, 16> ones{};
    ones.fill(0xff);
    TsPayload ts{{TrafficSelector::ipv4({10, 0, 0, 0}, {10, 0, 0, 255}),
                  TrafficSelector::ipv6({}, ones, 6, 443, 443)}};
    CHECK(encode_chain({make(PayloadType::tsi, ts)}) == expected);
    auto back = decode_chain(PayloadType::tsi, expected);
    REQUIRE(back.size() == 1);
    CHECK(back[0].type == PayloadType::tsi);
    CHECK(*back[0].get<TsPayload>() == ts);
}

TEST_CASE("Delete, IDi and AUTH payload bytes", "[ike][message]") {
    std::vector<Payload> chain = {
        make(PayloadType::idi, IdPayload{IdType::ipv4_addr, hex("c0 00 02 01")}),
        make(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, hex("01 02")}),
        make(PayloadType::del, DeletePayload{ProtocolId::esp, {0x11223344, 0x55667788}}),
        make(PayloadType::del, DeletePayload{ProtocolId::ike, {}})};
    const Bytes expected =
        hex("27 00 00 0c  01 00 00 00  c0 00 02 01"              // IDi: next AUTH, ID_IPV4_ADDR
            "2a 00 00 0a  02 00 00 00  01 02"                    // AUTH: next D, shared key MIC
            "2a 00 00 10  03 04 00 02  11 22 33 44 55 66 77 88"  // D: ESP, SPI size 4, 2 SPIs
            "00 00 00 08  01 00 00 00");                         // D: IKE, SPI size 0, 0 SPIs
    CHECK(encode_chain(chain) == expected);
    CHECK(decode_chain(PayloadType::idi, expected) == chain);
}

TEST_CASE("SK and SKF messages: opaque body, first inner type, AEAD layout", "[ike][message]") {
    Message m{Header{1, 2, ExchangeType::ike_auth, true, false, false, 1},
              {make(PayloadType::sk, SkPayload{PayloadType::idi, counting(16)})}};
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    Bytes expected =
        hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02"
            "2e 20 23 08 00 00 00 01 00 00 00 30"  // next SK, IKE_AUTH, len 48
            "23 00 00 14");                        // SK: next IDi (35), len 20
    const Bytes body = counting(16);
    expected.insert(expected.end(), body.begin(), body.end());
    CHECK(*bytes == expected);
    auto back = decode_message(*bytes);
    REQUIRE(back.has_value());
    CHECK(*back == m);
    auto layout = encrypted_layout(*bytes);
    REQUIRE(layout.has_value());
    CHECK(layout->type == PayloadType::sk);
    CHECK(layout->payload_offset == 28);
    CHECK(layout->body_offset == 32);  // associated data = header + SK generic header
    CHECK(layout->end == 48);

    // Fragment 2 of 3 (RFC 7383 2.5): Next Payload 0, AAD includes the two fragment fields.
    Message f{Header{1, 2, ExchangeType::ike_auth, true, false, false, 1},
              {make(PayloadType::notify,
                    NotifyPayload{ProtocolId::none, {}, NotifyType::initial_contact, {}}),
               make(PayloadType::skf, SkfPayload{PayloadType::none, 2, 3, counting(8)})}};
    bytes = encode_message(f);
    REQUIRE(bytes.has_value());
    expected =
        hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02"
            "29 20 23 08 00 00 00 01 00 00 00 34"  // next N, len 52
            "35 00 00 08 00 00 40 00"              // N: next SKF (53), INITIAL_CONTACT
            "00 00 00 10 00 02 00 03"              // SKF: len 16, fragment 2 of 3
            "00 01 02 03 04 05 06 07");
    CHECK(*bytes == expected);
    back = decode_message(*bytes);
    REQUIRE(back.has_value());
    CHECK(*back == f);
    layout = encrypted_layout(*bytes);
    REQUIRE(layout.has_value());
    CHECK(layout->type == PayloadType::skf);
    CHECK(layout->payload_offset == 36);
    CHECK(layout->body_offset == 44);
    CHECK(layout->end == 52);
}

TEST_CASE("Every payload type round-trips through the inner and outer chains", "[ike][message]") {
    std::array<std::uint8_t, 16> v6a{0x20, 0x01, 0x0d, 0xb8};
    std::array<std::uint8_t, 16> v6b = v6a;
    v6b[15] = 0xff;
    std::vector<Payload> inner = {
        make(PayloadType::sa, two_proposals()),
        make(PayloadType::ke, KePayload{31, filled(32, 0x42)}),
        make(PayloadType::idi, IdPayload{IdType::fqdn, {'c', 'g', 'w'}}),
        make(PayloadType::idr, IdPayload{IdType::ipv4_addr, hex("0a 00 00 01")}),
        make(PayloadType::cert, GenericPayload{hex("04 30 82")}),
        make(PayloadType::certreq, GenericPayload{hex("04")}),
        make(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, filled(32, 7)}),
        make(PayloadType::nonce, NoncePayload{filled(256, 9)}),
        make(PayloadType::notify,
             NotifyPayload{ProtocolId::none, {}, NotifyType::invalid_ke_payload, hex("00 13")}),
        make(PayloadType::del, DeletePayload{ProtocolId::ah, {1}}),
        make(PayloadType::vendor_id, VendorIdPayload{}),
        make(PayloadType::tsi,
             TsPayload{{TrafficSelector::ipv4({0, 0, 0, 0}, {255, 255, 255, 255})}}),
        make(PayloadType::tsr, TsPayload{{TrafficSelector::ipv6(v6a, v6b, 17, 500, 4500)}}),
        make(PayloadType::cp, GenericPayload{hex("01 00 00 00")}),
        make(PayloadType::eap, GenericPayload{hex("01 02 00 05 01")}),
        make(static_cast<PayloadType>(200), GenericPayload{hex("ca fe")}),  // unknown, not critical
        make(PayloadType::nonce, NoncePayload{filled(16, 1)}, true),  // critical on a known type
    };
    const Bytes plain = encode_chain(inner);
    CHECK(decode_chain(PayloadType::sa, plain) == inner);

    for (const Payload& encrypted :
         {make(PayloadType::sk, SkPayload{PayloadType::sa, plain}),
          make(PayloadType::skf, SkfPayload{PayloadType::sa, 1, 1, plain})}) {
        Message m{Header{7, 8, ExchangeType::create_child_sa, false, false, true, 42},
                  {make(PayloadType::vendor_id, VendorIdPayload{hex("01")}), encrypted}};
        auto bytes = encode_message(m);
        REQUIRE(bytes.has_value());
        auto back = decode_message(*bytes);
        REQUIRE(back.has_value());
        CHECK(*back == m);
        REQUIRE(back->payloads.size() == 2);
        const Bytes* body = nullptr;
        PayloadType first = PayloadType::none;
        if (auto* sk = back->payloads[1].get<SkPayload>())
            body = &sk->body, first = sk->first_inner;
        if (auto* skf = back->payloads[1].get<SkfPayload>())
            body = &skf->body, first = skf->first_inner;
        REQUIRE(body != nullptr);
        CHECK(decode_chain(first, *body) == inner);
    }
}

TEST_CASE("Names for payloads, exchanges, notifies", "[ike][message]") {
    CHECK(std::string_view(to_string(PayloadType::skf)) == "SKF");
    CHECK(std::string_view(to_string(static_cast<PayloadType>(200))) == "?");
    CHECK(std::string_view(to_string(ExchangeType::create_child_sa)) == "CREATE_CHILD_SA");
    CHECK(std::string_view(to_string(NotifyType::ikev2_fragmentation_supported)) ==
          "IKEV2_FRAGMENTATION_SUPPORTED");
    CHECK(is_error(NotifyType::ts_unacceptable));
    CHECK_FALSE(is_error(NotifyType::cookie));
}

TEST_CASE("IKEV2_FRAGMENTATION_SUPPORTED notify: protocol 0, no SPI, no data", "[ike][message]") {
    // RFC 7383 section 2.3 / 3: Notify Message Type 16430 (0x402E), Protocol ID 0, SPI Size 0,
    // empty Notification Data.
    const std::vector<Payload> chain = {
        make(PayloadType::notify,
             NotifyPayload{ProtocolId::none, {}, NotifyType::ikev2_fragmentation_supported, {}})};
    const Bytes expected = hex("00 00 00 08 00 00 40 2e");
    CHECK(encode_chain(chain) == expected);
    CHECK(decode_chain(PayloadType::notify, expected) == chain);
}
