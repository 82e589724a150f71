// The control protocol as JSON in / JSON out, and its framing, without a socket.
#include <catch2/catch.hpp>

#include "cgwd/daemon/control.hpp"

using namespace cgwd::daemon;
using nlohmann::json;

namespace {

CommandRegistry registry() {
    CommandRegistry r;
    r.add("echo", "Returns its arguments.", [](const json& a) {
        return Response{ResultCode::success, "ok", a};
    });
    r.add("boom", "Always fails.",
          [](const json&) -> Response { throw std::runtime_error("it broke"); });
    return r;
}

json ask(const CommandRegistry& r, std::string_view request) {
    return json::parse(r.handle(request));
}

}  // namespace

TEST_CASE("a known command answers with result, text and arguments") {
    auto out = ask(registry(), R"({"command": "echo", "arguments": {"x": 1}})");
    CHECK(out == json{{"result", 0}, {"text", "ok"}, {"arguments", {{"x", 1}}}});
    auto no_args = ask(registry(), R"({"command": "echo"})");
    CHECK(no_args["arguments"] == json::object());
}

TEST_CASE("unknown commands, malformed requests and failing handlers are answered, never thrown") {
    auto r = registry();
    auto unknown = ask(r, R"({"command": "shutdown-everything"})");
    CHECK(unknown["result"] == 2);
    CHECK(unknown["text"] == "unknown command \"shutdown-everything\"");
    CHECK(ask(r, "{not json")["text"] == "request is not valid JSON");
    CHECK(ask(r, "[1,2]")["text"] == "request must be a JSON object");
    CHECK(ask(r, R"({"arguments": {}})")["text"] == "request has no \"command\" string");
    CHECK(ask(r, R"({"command": "echo", "arguments": [1]})")["text"] ==
          "\"arguments\" must be an object");
    CHECK(ask(r, R"({"command": "echo", "extra": 1})")["result"] == 1);
    auto boom = ask(r, R"({"command": "boom"})");
    CHECK(boom["result"] == 1);
    CHECK(boom["text"] == "command failed: it broke");
    auto list = ask(r, R"({"command": "list-commands"})");
    CHECK(list["arguments"]["commands"].contains("echo"));
    CHECK(list["arguments"]["commands"].contains("list-commands"));
}

TEST_CASE("frames reassemble from any split and oversize requests are refused") {
    std::string body = R"({"command": "echo", "arguments": {"k": "v"}})";
    std::string stream = encode_frame(body) + encode_frame("{}");
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameReader reader;
        auto a = reader.feed(std::string_view(stream).substr(0, cut));
        auto b = reader.feed(std::string_view(stream).substr(cut));
        REQUIRE(a);
        REQUIRE(b);
        std::vector<std::string> frames = *a;
        frames.insert(frames.end(), b->begin(), b->end());
        REQUIRE(frames.size() == 2);
        CHECK(frames[0] == body);
        CHECK(frames[1] == "{}");
    }
    FrameReader big;
    std::string header = encode_frame(std::string(kMaxRequest + 1, ' ')).substr(0, 4);
    auto refused = big.feed(header);  // refused from the header alone, before buffering the body
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == FrameError::too_large);
    FrameReader empty;
    CHECK(empty.feed(std::string(4, '\0')).error() == FrameError::empty);
    CHECK(encode_frame("ab") == std::string("\0\0\0\x02"
                                            "ab",
                                            6));
}
