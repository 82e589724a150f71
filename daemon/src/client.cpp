#include "cgwd/daemon/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "cgwd/daemon/control.hpp"

namespace cgwd::daemon {

std::expected<nlohmann::json, std::string> call(const std::string& path, const std::string& command,
                                                const nlohmann::json& arguments) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return std::unexpected("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        return std::unexpected(
            "cannot reach cgwd at " + path + ": " + std::strerror(errno) +
            (errno == ENOENT || errno == ECONNREFUSED ? " (is cgwd running?)" : ""));
    std::string frame =
        encode_frame(nlohmann::json{{"command", command}, {"arguments", arguments}}.dump());
    for (std::size_t sent = 0; sent < frame.size();) {
        auto n = ::send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return std::unexpected(std::string("send: ") + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
    FrameReader reader(kMaxAnswer);
    std::vector<char> buf(64 * 1024);
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return std::unexpected("no answer from cgwd within 10 s");
        auto n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) return std::unexpected("cgwd closed the connection without answering");
        auto frames = reader.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        if (!frames)
            return std::unexpected(frames.error() == FrameError::too_large
                                       ? "answer from cgwd larger than " +
                                             std::to_string(kMaxAnswer >> 20) + " MiB"
                                       : std::string("malformed answer from cgwd"));
        if (!frames->empty()) {
            auto j = nlohmann::json::parse(frames->front(), nullptr, false);
            if (j.is_discarded() || !j.is_object())
                return std::unexpected("malformed answer from cgwd");
            return j;
        }
    }
}

}  // namespace cgwd::daemon
