#pragma once
// Ordered, bounded output for one TCP connection on the Asio loop. Bytes leave in the order
// they were given, never two writes at once (Asio allows one pending write per socket: two
// async_write calls can interleave their pieces under back-pressure), and at most `limit` bytes
// wait for a peer that does not read. send() never blocks: what the kernel takes goes at once,
// the rest when the socket is writable again.
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cgwd::daemon {

class TcpOutbox {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    // Called once, from the loop (posted, never from inside send()), when the connection
    // cannot go on: a write failed, or more than `limit` bytes would wait. The caller closes
    // the socket; `why` says which.
    using Failed = std::function<void(const std::string& why)>;

    // Puts the socket in non-blocking mode. `limit`: bytes that may wait beyond what the
    // kernel's send buffer holds; more than that after a send() is a failure.
    TcpOutbox(std::shared_ptr<Socket> socket, std::size_t limit, Failed failed);
    ~TcpOutbox();
    TcpOutbox(const TcpOutbox&) = delete;
    TcpOutbox& operator=(const TcpOutbox&) = delete;
    TcpOutbox(TcpOutbox&&) = default;
    TcpOutbox& operator=(TcpOutbox&&) = default;

    // Queues `bytes` behind what waits and writes what the socket takes now.
    void send(std::vector<std::uint8_t> bytes);
    // Bytes given to send() and not yet taken by the kernel.
    std::size_t waiting() const;
    // No more writes and no callback: the socket is about to be closed. Also done by the
    // destructor.
    void abandon();

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace cgwd::daemon
