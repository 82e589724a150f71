#include "cgwd/daemon/tcp_outbox.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace cgwd::daemon {

struct TcpOutbox::State {
    std::shared_ptr<Socket> socket;
    std::size_t limit = 0;
    Failed failed;
    std::deque<std::vector<std::uint8_t>> queue;
    std::size_t offset = 0;   // of queue.front() already written
    std::size_t waiting = 0;  // bytes in the queue not yet written
    bool awaiting_writable = false;
    bool done = false;  // abandoned or failed: nothing more is written or reported

    static void fail(const std::shared_ptr<State>& st, std::string why) {
        if (st->done) return;
        st->done = true;
        st->queue.clear();
        st->waiting = 0;
        // Posted: the caller closes the socket and may be inside a send() of its own.
        boost::asio::post(st->socket->get_executor(), [st, why = std::move(why)] {
            if (st->failed) std::exchange(st->failed, nullptr)(why);
        });
    }

    static void flush(const std::shared_ptr<State>& st) {
        while (!st->done && !st->queue.empty()) {
            auto& front = st->queue.front();
            boost::system::error_code ec;
            const std::size_t n = st->socket->write_some(
                boost::asio::buffer(front.data() + st->offset, front.size() - st->offset), ec);
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                wait_writable(st);
                return;
            }
            if (ec) return fail(st, "write failed: " + ec.message());
            st->offset += n;
            st->waiting -= n;
            if (st->offset == front.size()) {
                st->queue.pop_front();
                st->offset = 0;
            }
        }
    }

    static void wait_writable(const std::shared_ptr<State>& st) {
        if (st->awaiting_writable) return;
        st->awaiting_writable = true;
        st->socket->async_wait(Socket::wait_write, [st](boost::system::error_code ec) {
            st->awaiting_writable = false;
            if (st->done) return;
            if (ec) return fail(st, "write failed: " + ec.message());
            flush(st);
        });
    }
};

TcpOutbox::TcpOutbox(std::shared_ptr<Socket> socket, std::size_t limit, Failed failed)
    : state_(std::make_shared<State>()) {
    state_->socket = std::move(socket);
    state_->limit = limit;
    state_->failed = std::move(failed);
    boost::system::error_code ec;
    state_->socket->non_blocking(true, ec);
    if (ec) State::fail(state_, "non-blocking mode: " + ec.message());
}

TcpOutbox::~TcpOutbox() {
    abandon();
}

void TcpOutbox::send(std::vector<std::uint8_t> bytes) {
    if (!state_ || state_->done || bytes.empty()) return;
    state_->waiting += bytes.size();
    state_->queue.push_back(std::move(bytes));
    if (!state_->awaiting_writable) State::flush(state_);
    if (state_->waiting > state_->limit)
        State::fail(state_, "the peer is not reading: " + std::to_string(state_->waiting) +
                                " bytes waiting to be sent");
}

std::size_t TcpOutbox::waiting() const {
    return state_ ? state_->waiting : 0;
}

void TcpOutbox::abandon() {
    if (!state_) return;
    state_->done = true;
    state_->failed = nullptr;
    state_->queue.clear();
    state_->waiting = 0;
}

}  // namespace cgwd::daemon
