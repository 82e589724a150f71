// Batched route programming (nl_batch.hpp, KernelRoutes::apply, Dataplane::apply_routes): the
// send buffer decoded message by message, acknowledgements matched by sequence number, and the
// per-change results of the default (one by one) implementation.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

#include "cgwd/dataplane/fake_dataplane.hpp"
#include "cgwd/dataplane/kernel.hpp"
#include "cgwd/dataplane/nl_batch.hpp"
#include "cgwd/dataplane/routes.hpp"
#include "cgwd/dataplane/rtnl_messages.hpp"
#include "cgwd/dataplane/userspace.hpp"
#include "netlink_decode.hpp"
#include "netns_child.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::Ipv4Address;
using cgwd::config::Ipv4Prefix;
using test::Bytes;
using namespace test::nl;

namespace {

Ipv4Address ip(const char* s) {
    return *Ipv4Address::parse(s);
}
Ipv4Prefix pfx(const char* s) {
    return *Ipv4Prefix::parse(s);
}

// The messages of a send buffer, each copied out with its header.
std::vector<Bytes> split(std::span<const std::uint8_t> buffer) {
    std::vector<Bytes> out;
    std::size_t at = 0;
    while (at < buffer.size()) {
        REQUIRE(at + sizeof(nlmsghdr) <= buffer.size());
        nlmsghdr h{};
        std::memcpy(&h, buffer.data() + at, sizeof h);
        REQUIRE(h.nlmsg_len >= sizeof(nlmsghdr));
        REQUIRE(at + h.nlmsg_len <= buffer.size());
        out.emplace_back(buffer.begin() + static_cast<long>(at),
                         buffer.begin() + static_cast<long>(at + h.nlmsg_len));
        at += NLMSG_ALIGN(h.nlmsg_len);
    }
    CHECK(at == buffer.size());  // no trailing bytes
    return out;
}

nlmsghdr header_of(const Bytes& m) {
    nlmsghdr h{};
    std::memcpy(&h, m.data(), sizeof h);
    return h;
}

// An acknowledgement as the kernel sends it with NETLINK_CAP_ACK: NLMSG_ERROR carrying
// struct nlmsgerr (the error, negative, and the request's header).
Bytes ack(std::uint32_t seq, std::uint32_t portid, int error) {
    Bytes b(NLMSG_LENGTH(sizeof(nlmsgerr)));
    nlmsghdr h{};
    h.nlmsg_len = static_cast<std::uint32_t>(b.size());
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_flags = error == 0 ? NLM_F_CAPPED : 0;
    h.nlmsg_seq = seq;
    h.nlmsg_pid = portid;
    nlmsgerr e{};
    e.error = error;
    e.msg.nlmsg_len = 60;
    e.msg.nlmsg_type = RTM_NEWROUTE;
    e.msg.nlmsg_seq = seq;
    e.msg.nlmsg_pid = portid;
    std::memcpy(b.data(), &h, sizeof h);
    std::memcpy(b.data() + NLMSG_HDRLEN, &e, sizeof e);
    return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

rtnl::RouteMessage route(const char* dst, std::uint32_t ifindex, const char* gw) {
    return rtnl::RouteMessage{pfx(dst), {{ifindex, ip(gw), 1}}, 254, 10, 240};
}

}  // namespace

TEST_CASE("Route batch: N netlink messages, consecutive sequence numbers, ACK requested") {
    const std::vector<rtnl::RouteMessage> adds = {
        route("10.1.0.0/24", 3, "10.99.0.2"),
        route("10.1.1.0/24", 3, "10.99.0.2"),
        rtnl::RouteMessage{
            pfx("10.2.0.0/16"), {{3, ip("10.99.0.2"), 1}, {4, ip("10.99.1.2"), 5}}, 1000, 0, 240},
    };
    nl::BatchBuffer batch;
    batch.reset(7000);
    for (const auto& r : adds) REQUIRE(batch.append(rtnl::build_route_replace(r)));
    REQUIRE(batch.append(rtnl::build_route_delete(pfx("10.3.0.0/24"), 254, 10, 240)));
    REQUIRE(batch.append(rtnl::build_route_delete(pfx("10.3.1.0/24"), 1000, 0, 240)));
    CHECK(batch.count() == 5);
    CHECK(batch.first_seq() == 7000);

    const auto messages = split(batch.bytes());
    REQUIRE(messages.size() == 5);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const nlmsghdr h = header_of(messages[i]);
        CHECK(h.nlmsg_seq == 7000 + i);
        CHECK(h.nlmsg_pid == 0);
        const Decoded d = decode(messages[i], sizeof(rtmsg));
        if (i < 3) {
            CHECK(d.type == RTM_NEWROUTE);
            CHECK(d.flags == (NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE));
            // Byte for byte what replace() would send, apart from the header's seq and flags.
            auto one = rtnl::build_route_replace(adds[i]);
            REQUIRE(one.bytes().size() == messages[i].size());
            CHECK(Bytes(one.bytes().begin() + sizeof(nlmsghdr), one.bytes().end()) ==
                  Bytes(messages[i].begin() + sizeof(nlmsghdr), messages[i].end()));
            // And it decodes back into the route.
            Bytes copy = messages[i];
            const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(copy.data()));
            CHECK(rtnl::parse_route(nlh) == adds[i]);
        } else {
            CHECK(d.type == RTM_DELROUTE);
            CHECK(d.flags == (NLM_F_REQUEST | NLM_F_ACK));
            CHECK(d.header_as<rtmsg>().rtm_protocol == 240);
            CHECK(d.header_as<rtmsg>().rtm_dst_len == 24);
        }
    }
    CHECK(u32_of(*decode(messages[3], sizeof(rtmsg)).find(RTA_DST)) == htonl(0x0a030000));
    CHECK(u32_of(*decode(messages[4], sizeof(rtmsg)).find(RTA_TABLE)) == 1000);

    // reset() starts over with the new numbering.
    batch.reset(1);
    CHECK(batch.empty());
    REQUIRE(batch.append(rtnl::build_route_replace(adds[0])));
    CHECK(header_of(split(batch.bytes()).at(0)).nlmsg_seq == 1);
}

TEST_CASE("Route batch: the message and byte budgets of one send") {
    const auto r = route("10.1.0.0/24", 3, "10.99.0.2");
    const std::size_t one = NLMSG_ALIGN(rtnl::build_route_replace(r).bytes().size());

    nl::BatchBuffer by_count(65536, 3);
    by_count.reset(1);
    for (int i = 0; i < 3; ++i) REQUIRE(by_count.append(rtnl::build_route_replace(r)));
    CHECK_FALSE(by_count.append(rtnl::build_route_replace(r)));
    CHECK(by_count.count() == 3);
    CHECK(split(by_count.bytes()).size() == 3);

    nl::BatchBuffer by_bytes(2 * one + one / 2, 256);
    by_bytes.reset(1);
    REQUIRE(by_bytes.append(rtnl::build_route_replace(r)));
    REQUIRE(by_bytes.append(rtnl::build_route_replace(r)));
    CHECK_FALSE(by_bytes.append(rtnl::build_route_replace(r)));
    CHECK(by_bytes.bytes().size() == 2 * one);

    // A message larger than the byte budget still goes, alone.
    nl::BatchBuffer tiny(8, 256);
    tiny.reset(1);
    REQUIRE(tiny.append(rtnl::build_route_replace(r)));
    CHECK_FALSE(tiny.append(rtnl::build_route_replace(r)));

    // The 64 KiB / 256 defaults: 256 single-hop routes (68 bytes each) fit by bytes.
    nl::BatchBuffer defaults;
    defaults.reset(1);
    std::size_t n = 0;
    while (defaults.append(rtnl::build_route_replace(r))) ++n;
    CHECK(n == nl::BatchBuffer::default_max_messages);
    CHECK(defaults.bytes().size() <= nl::BatchBuffer::default_max_bytes);
}

TEST_CASE("Route batch: acknowledgements matched by sequence number, one refused") {
    const std::uint32_t port = 4242;
    nl::AckTracker acks(500, 5, port);
    CHECK_FALSE(acks.complete());
    // Two acks in one datagram, out of order; plus strangers that must be ignored: an older
    // request's ack, another port's, a sequence number past the batch, a data message.
    Bytes data(NLMSG_LENGTH(sizeof(rtmsg)), 0);
    nlmsghdr dh{};
    dh.nlmsg_len = static_cast<std::uint32_t>(data.size());
    dh.nlmsg_type = RTM_NEWROUTE;
    dh.nlmsg_seq = 501;
    dh.nlmsg_pid = port;
    std::memcpy(data.data(), &dh, sizeof dh);
    CHECK(acks.feed(concat({ack(501, port, 0), ack(500, port, 0)})));
    CHECK(acks.feed(
        concat({ack(499, port, -EEXIST), ack(502, 77, -EINVAL), ack(505, port, 0), data})));
    CHECK(acks.acknowledged() == 2);
    CHECK(acks.result(0) == 0);
    CHECK(acks.result(1) == 0);
    CHECK_FALSE(acks.result(2).has_value());

    CHECK(acks.feed(ack(502, port, -ESRCH)));  // the third change: no such route
    CHECK(acks.feed(ack(502, port, 0)));       // a duplicate does not overwrite it
    CHECK(acks.result(2) == ESRCH);
    CHECK(acks.feed(ack(504, port, 0)));
    CHECK_FALSE(acks.complete());
    CHECK_FALSE(acks.result(3).has_value());
    CHECK(acks.feed(ack(503, port, 0)));
    CHECK(acks.complete());
    CHECK(acks.acknowledged() == 5);
    CHECK(acks.result(4) == 0);

    // The errno becomes the same Error a single request gives (ESRCH -> not_found).
    CHECK(nl::errno_error(*acks.result(2), "delete route").error().code == Errc::not_found);

    // A malformed datagram (length past its end) is refused and records nothing.
    nl::AckTracker other(1, 1, port);
    Bytes bad = ack(1, port, 0);
    bad.resize(bad.size() - 4);
    CHECK_FALSE(other.feed(bad));
    CHECK(other.acknowledged() == 0);

    // Sequence numbers that wrap past 2^32 inside a batch.
    nl::AckTracker wrap(0xfffffffe, 3, port);
    CHECK(wrap.feed(concat({ack(0xfffffffe, port, 0), ack(0xffffffff, port, 0), ack(0, port, 0)})));
    CHECK(wrap.complete());
}

TEST_CASE("KernelRoutes::apply: changes that do not resolve fail alone, before any netlink") {
    auto routes = KernelRoutes::open(KernelRoutes::Options{300, 240});
    REQUIRE(routes.has_value());
    std::vector<RouteOp> ops(3);
    ops[0].route.destination = pfx("10.9.0.0/24");  // no hop
    ops[1].route.destination = pfx("10.9.1.0/24");
    ops[1].route.hops = {RouteHop{0, "nosuchdev0", std::nullopt, 1}};
    ops[2].route.destination = pfx("10.9.2.0/24");
    ops[2].route.hops = {RouteHop{0, "lo", std::nullopt, 0}};  // weight 0
    const RouteBatchOutcome out = routes->apply(ops);
    REQUIRE(out.errors.size() == 3);
    CHECK(out.failures == 3);
    CHECK(out.sends == 0);
    CHECK_FALSE(out.resynced);
    CHECK(out.errors[0]->code == Errc::invalid_argument);
    CHECK(out.errors[1]->code == Errc::not_found);
    CHECK(out.errors[2]->code == Errc::invalid_argument);
    CHECK(routes->apply({}).errors.empty());
}

TEST_CASE("Dataplane::apply_routes default: in order, one result per change") {
    FakeDataplane dp;
    TunnelInterface t;
    t.name = "cgwd7";
    t.if_id = 7;
    REQUIRE(dp.create_tunnel(t));
    Route a{pfx("10.1.0.0/24"), {NextHop{7, ip("169.254.10.1"), 1, ""}}, 100, 0};
    Route b{pfx("10.2.0.0/24"), {NextHop{7, std::nullopt, 1, ""}}, 100, 0};
    Route bad{pfx("10.3.0.0/24"), {NextHop{99, std::nullopt, 1, ""}}, 100, 0};
    const std::vector<RouteChange> changes = {
        RouteChange::add(a),          RouteChange::add(b),          RouteChange::add(bad),
        RouteChange::remove(b.key()), RouteChange::remove(b.key()),
    };
    CHECK(changes[3].target() == b.key());
    const RouteBatchResult r = dp.apply_routes(changes);
    REQUIRE(r.errors.size() == 5);
    CHECK(r.failures == 2);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.resynced);
    CHECK_FALSE(r.errors[0].has_value());
    CHECK_FALSE(r.errors[1].has_value());
    CHECK(r.errors[2]->code == Errc::not_found);  // unknown tunnel
    CHECK_FALSE(r.errors[3].has_value());
    CHECK(r.errors[4]->code == Errc::not_found);  // already gone
    CHECK(dp.route_count() == 1);
    CHECK(dp.find_route(a.key()) != nullptr);
    // The fake saw the calls one by one, in order.
    const auto& calls = dp.calls();
    REQUIRE(calls.size() >= 5);
    CHECK(std::holds_alternative<call::DelRoute>(calls.back()));
}

namespace {

void need(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
}

Ipv4Prefix host(std::uint32_t i) {
    return Ipv4Prefix::of(Ipv4Address{0x0ac80000 + i}, 32);  // 10.200.0.0 + i
}

// In a private namespace: 300 routes via lo in one apply (two sends: 256 + 47 messages), one of
// them refused (gateway 192.0.2.1 is unreachable), plus, late in the second send, a delete of
// one of them, a replace of another with a gateway, and a delete of a route that never existed.
// Then the kernel's table must be exactly the batch's final state, whether or not the
// acknowledgements arrived; then everything is deleted in a second apply.
void batch_in_kernel(int receive_buffer, bool expect_resync) {
    KernelRoutes::Options o;
    o.table = 254;
    o.protocol = 240;
    o.receive_buffer = receive_buffer;
    auto routes = KernelRoutes::open(o);
    need(routes.has_value(), "open");
    const std::uint32_t lo = if_nametoindex("lo");
    std::vector<RouteOp> ops;
    for (std::uint32_t i = 0; i < 300; ++i) {
        RouteOp op;
        op.route.destination = host(i);
        op.route.hops = {RouteHop{lo, "", std::nullopt, 1}};
        ops.push_back(op);
    }
    ops[150].route.hops[0].gateway = ip("192.0.2.1");
    RouteOp del10;
    del10.remove = true;
    del10.route.destination = host(10);
    ops.push_back(del10);  // 300
    RouteOp via;
    via.route.destination = host(20);
    via.route.hops = {RouteHop{lo, "", ip("127.0.0.2"), 1}};
    ops.push_back(via);  // 301
    RouteOp ghost;
    ghost.remove = true;
    ghost.route.destination = host(5000);
    ops.push_back(ghost);  // 302

    const RouteBatchOutcome out = routes->apply(ops);
    need(out.sends == 2, "sends " + std::to_string(out.sends));
    need(out.resynced == expect_resync, "resynced " + std::to_string(out.resynced));
    need(out.errors.size() == ops.size(), "errors size");
    need(out.errors[150].has_value() && out.errors[150]->code == Errc::system &&
             out.errors[150]->sys_errno == ENETUNREACH,
         "the unreachable gateway is not reported as refused");
    // The never-existing route: not_found when its acknowledgement arrived, done when the
    // resync found it absent as wanted.
    need(!out.errors[302] || out.errors[302]->code == Errc::not_found, "delete of a ghost");
    need(!expect_resync || !out.errors[302].has_value(), "ghost acknowledgement not lost");
    need(out.failures == 1 + (out.errors[302] ? 1U : 0U),
         "failures " + std::to_string(out.failures));

    auto listed = routes->list();
    need(listed.has_value(), "list");
    std::set<std::uint32_t> want;
    for (std::uint32_t i = 0; i < 300; ++i)
        if (i != 10 && i != 150) want.insert(host(i).address.value);
    std::set<std::uint32_t> got;
    for (const auto& r : *listed) {
        need(r.destination.address.v4() && r.destination.length == 32 && r.table == 254 &&
                 r.hops.size() == 1 && r.hops[0].ifindex == lo,
             "a route in the wrong shape: " + r.destination.to_string());
        const bool gw = r.destination == host(20);
        need(r.hops[0].gateway == (gw ? std::optional(ip("127.0.0.2")) : std::nullopt),
             "hop of " + r.destination.to_string());
        got.insert(r.destination.address.v4()->value);
    }
    need(got == want, "table has " + std::to_string(got.size()) + " routes, want 298");

    std::vector<RouteOp> removals(ops.begin(), ops.begin() + 300);
    for (auto& op : removals) op.remove = true;
    const RouteBatchOutcome gone = routes->apply(removals);
    need(gone.resynced == expect_resync, "second resynced");
    for (std::size_t i = 0; i < removals.size(); ++i)
        need(!gone.errors[i] || ((i == 10 || i == 150) && gone.errors[i]->code == Errc::not_found),
             "delete " + std::to_string(i));
    listed = routes->list();
    need(listed.has_value() && listed->empty(), "routes left after the delete");
}

}  // namespace

TEST_CASE("KernelRoutes::apply in a private namespace: exact table, acknowledgements received") {
    CHECK(test::run_in_netns([] { batch_in_kernel(1 << 20, false); }) == "ok");
}

TEST_CASE("KernelRoutes::apply with a tiny receive buffer: ENOBUFS, resync, exact table") {
    // A receive buffer of 1 byte becomes the kernel's minimum (~2 KiB): a few of the 256
    // acknowledgements of a send fit, the rest are dropped and the socket reports ENOBUFS.
    CHECK(test::run_in_netns([] { batch_in_kernel(1, true); }) == "ok");
}

namespace {

// 100 routes via lo and one via a tunnel that does not exist, through a backend's
// apply_routes; the tiny receive buffer forces the resync.
std::vector<RouteChange> backend_batch() {
    std::vector<RouteChange> changes;
    for (std::uint32_t i = 0; i < 100; ++i) {
        Route r;
        r.destination = host(i);
        r.next_hops = {NextHop{0, std::nullopt, 1, "lo"}};
        changes.push_back(RouteChange::add(r));
    }
    Route lost;
    lost.destination = host(100);
    lost.next_hops = {NextHop{0x63670005, std::nullopt, 1, ""}};
    changes.push_back(RouteChange::add(lost));
    return changes;
}

void check_backend_result(const RouteBatchResult& r) {
    need(r.errors.size() == 101, "one result per change");
    need(r.resynced, "no resync with a tiny receive buffer");
    need(r.failures == 1 && r.errors[100] && r.errors[100]->code == Errc::not_found,
         "only the unknown tunnel fails");
}

std::size_t our_routes() {
    auto routes = KernelRoutes::open(KernelRoutes::Options{254, 240});
    need(routes.has_value(), "open");
    auto listed = routes->list();
    need(listed.has_value(), "list");
    return listed->size();
}

}  // namespace

TEST_CASE("KernelDataplane and UserspaceDataplane apply_routes: batched, resync, shutdown") {
    CHECK(test::run_in_netns([] {
              KernelDataplane::Options o;
              o.routes = KernelRoutes::Options{254, 240, 1};
              auto plane = KernelDataplane::create(o);
              need(plane.has_value(), "KernelDataplane::create");
              const auto changes = backend_batch();
              check_backend_result((*plane)->apply_routes(changes));
              need(our_routes() == 100, "kernel backend: 100 routes");
              // shutdown() removes what apply_routes installed (batched, route_keys_).
              need((*plane)->shutdown().has_value(), "shutdown");
              need(our_routes() == 0, "kernel backend: routes left after shutdown");
          }) == "ok");
    CHECK(test::run_in_netns([] {
              UserspaceDataplane::Options o;
              o.udp_port = 0;
              o.bind_address = ip("127.0.0.1");
              o.routes = KernelRoutes::Options{254, 240, 1};
              auto plane = UserspaceDataplane::create(std::move(o));
              need(plane.has_value(), "UserspaceDataplane::create");
              auto changes = backend_batch();
              check_backend_result((*plane)->apply_routes(changes));
              need(our_routes() == 100, "userspace backend: 100 routes");
              std::vector<RouteChange> removals;
              for (const auto& c : changes) removals.push_back(RouteChange::remove(c.target()));
              const RouteBatchResult gone = (*plane)->apply_routes(removals);
              need(gone.resynced, "no resync for the removals");
              need(our_routes() == 0, "userspace backend: routes left");
          }) == "ok");
}
