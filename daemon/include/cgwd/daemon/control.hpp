// The control channel, independent of its transport (the unix socket adapter lives in the
// daemon's I/O layer): length-framed JSON requests {"command": NAME, "arguments": {...}} answered
// by {"result": CODE, "text": MESSAGE, "arguments": {...}}.
//
// Frame: 4-byte big-endian length, then that many bytes of UTF-8 JSON. Requests larger than
// kMaxRequest are refused before they are buffered. Result codes follow ISC Kea's convention:
// 0 success, 1 error, 2 unknown command.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgwd::daemon {

inline constexpr std::size_t kMaxRequest = 64 * 1024;
// Answers are larger: `status` lists every installed route (AWS allows 5000 from a TGW), and
// `events` the last 1000 events. cgwctl refuses an answer above this.
inline constexpr std::size_t kMaxAnswer = 16 * 1024 * 1024;

enum class ResultCode { success = 0, error = 1, unknown_command = 2 };

struct Response {
    ResultCode result = ResultCode::success;
    std::string text;
    nlohmann::json arguments = nlohmann::json::object();
};

class CommandRegistry {
  public:
    using Handler = std::function<Response(const nlohmann::json& arguments)>;

    // Registers a command; "list-commands" is built in.
    void add(std::string name, std::string help, Handler handler);

    // One request body (the JSON text, without the frame) in, one response body out. Never
    // throws: malformed requests and handler exceptions become result 1.
    std::string handle(std::string_view request) const;
    Response dispatch(const nlohmann::json& request) const;

  private:
    struct Entry {
        std::string help;
        Handler handler;
    };
    std::map<std::string, Entry, std::less<>> commands_;
};

enum class FrameError { too_large, empty };

// Reassembles frames from a byte stream delivered in arbitrary pieces; a frame longer than
// `max_frame` (the daemon reading requests: kMaxRequest; cgwctl reading answers: kMaxAnswer) is
// refused from its 4-byte header, before its body is buffered.
class FrameReader {
  public:
    explicit FrameReader(std::size_t max_frame = kMaxRequest) : max_frame_(max_frame) {}
    // Appends bytes; returns the complete frames they finish, or an error after which the
    // connection must be closed.
    [[nodiscard]] std::expected<std::vector<std::string>, FrameError> feed(std::string_view bytes);

  private:
    std::size_t max_frame_;
    std::string buffer_;
};

std::string encode_frame(std::string_view body);

}  // namespace cgwd::daemon
