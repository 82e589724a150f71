// TcpOutbox over a loopback TCP connection with small socket buffers, so that the kernel soon
// stops taking bytes and the outbox has to queue and wait for writability.
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/daemon/tcp_outbox.hpp"

using cgwd::daemon::TcpOutbox;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct Pair {
    asio::io_context io;
    std::shared_ptr<tcp::socket> writer = std::make_shared<tcp::socket>(io);
    tcp::socket reader{io};

    Pair() {
        tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        writer->connect(acc.local_endpoint());
        acc.accept(reader);
        // Small buffers: the kernel takes a few kB, then the writer is not writable.
        const int small = 4096;
        REQUIRE(::setsockopt(writer->native_handle(), SOL_SOCKET, SO_SNDBUF, &small,
                             sizeof small) == 0);
        REQUIRE(::setsockopt(reader.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small) ==
                0);
    }

    // Runs the handlers that are ready (an io_context that ran out of work stays stopped
    // until restarted).
    void poll() {
        io.restart();
        io.poll();
    }

    // Reads up to `want` bytes, the loop run in between; gives up after 10 s without a byte.
    std::vector<std::uint8_t> read(std::size_t want) {
        std::vector<std::uint8_t> got;
        std::uint8_t buf[8192];
        reader.non_blocking(true);
        auto idle_since = std::chrono::steady_clock::now();
        while (got.size() < want &&
               std::chrono::steady_clock::now() - idle_since < std::chrono::seconds(10)) {
            poll();
            boost::system::error_code ec;
            const auto n = reader.read_some(asio::buffer(buf, sizeof buf), ec);
            if (ec == asio::error::would_block) {
                io.restart();
                io.run_for(std::chrono::milliseconds(1));
                continue;
            }
            if (ec) break;
            got.insert(got.end(), buf, buf + n);
            idle_since = std::chrono::steady_clock::now();
        }
        poll();
        return got;
    }
};

// Chunk i: `size` bytes of a pattern that differs from chunk to chunk and within one.
std::vector<std::uint8_t> chunk(std::size_t i, std::size_t size) {
    std::vector<std::uint8_t> c(size);
    for (std::size_t j = 0; j < size; ++j)
        c[j] = static_cast<std::uint8_t>((i * 131 + j * 7) % 251);
    return c;
}

}  // namespace

TEST_CASE("TcpOutbox: a peer reading slowly gets every byte in order, one write at a time") {
    Pair p;
    std::optional<std::string> failure;
    TcpOutbox out(p.writer, 1 << 20, [&](const std::string& why) { failure = why; });
    std::vector<std::uint8_t> expected;
    // 300 chunks of 1000-3000 bytes handed over while the reader reads nothing: the kernel
    // takes the first few, the rest wait in the outbox.
    for (std::size_t i = 0; i < 300; ++i) {
        auto c = chunk(i, 1000 + (i * 37) % 2001);
        expected.insert(expected.end(), c.begin(), c.end());
        out.send(std::move(c));
        p.poll();
    }
    CHECK(out.waiting() > 0);
    CHECK(out.waiting() < expected.size());
    auto got = p.read(expected.size());
    CHECK(got.size() == expected.size());
    CHECK(got == expected);
    CHECK(out.waiting() == 0);
    CHECK_FALSE(failure);
}

TEST_CASE("TcpOutbox: more than the limit waiting fails the connection once, from the loop") {
    Pair p;
    int failures = 0;
    std::string why;
    TcpOutbox out(p.writer, 64 * 1024, [&](const std::string& w) {
        ++failures;
        why = w;
    });
    std::size_t sent = 0;
    for (std::size_t i = 0; i < 200; ++i) {
        out.send(chunk(i, 1000));
        sent += 1000;
        // Reported from the loop, never from inside send().
        CHECK(failures == 0);
        if (out.waiting() == 0 && sent > 64 * 1024 + 4096 * 8) break;  // dropped: failed
    }
    p.poll();
    CHECK(failures == 1);
    CHECK(why.find("the peer is not reading") != std::string::npos);
    CHECK(out.waiting() == 0);  // the queue is dropped
    // Nothing more is written or reported.
    out.send(chunk(999, 1000));
    p.poll();
    CHECK(failures == 1);
    CHECK(out.waiting() == 0);
}

TEST_CASE("TcpOutbox: a reset connection is reported, an abandoned one is not") {
    SECTION("peer resets") {
        Pair p;
        std::optional<std::string> failure;
        TcpOutbox out(p.writer, 1 << 20, [&](const std::string& why) { failure = why; });
        // RST on close: SO_LINGER with a zero timeout.
        linger l{1, 0};
        REQUIRE(::setsockopt(p.reader.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
        p.reader.close();
        for (std::size_t i = 0; i < 50 && !failure; ++i) {
            out.send(chunk(i, 1000));
            p.poll();
        }
        REQUIRE(failure);
        CHECK(failure->find("write failed") != std::string::npos);
    }
    SECTION("abandoned before the loop runs") {
        Pair p;
        int failures = 0;
        TcpOutbox out(p.writer, 1000, [&](const std::string&) { ++failures; });
        out.send(chunk(0, 200000));  // over the limit: a failure is posted
        out.abandon();               // the owner closes first
        p.poll();
        CHECK(failures == 0);
    }
}
