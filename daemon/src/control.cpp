#include "cgwd/daemon/control.hpp"

namespace cgwd::daemon {

using nlohmann::json;

void CommandRegistry::add(std::string name, std::string help, Handler handler) {
    commands_[std::move(name)] = Entry{std::move(help), std::move(handler)};
}

Response CommandRegistry::dispatch(const json& request) const {
    if (!request.is_object())
        return {ResultCode::error, "request must be a JSON object", json::object()};
    auto cmd = request.find("command");
    if (cmd == request.end() || !cmd->is_string())
        return {ResultCode::error, "request has no \"command\" string", json::object()};
    auto args_it = request.find("arguments");
    json args = json::object();
    if (args_it != request.end() && !args_it->is_null()) {
        if (!args_it->is_object())
            return {ResultCode::error, "\"arguments\" must be an object", json::object()};
        args = *args_it;
    }
    for (const auto& [key, value] : request.items())
        if (key != "command" && key != "arguments")
            return {ResultCode::error, "unexpected member \"" + key + "\" in request",
                    json::object()};

    const auto& name = cmd->get_ref<const std::string&>();
    if (name == "list-commands") {
        json list = json::object();
        list["list-commands"] = "List the commands this daemon understands.";
        for (const auto& [n, e] : commands_) list[n] = e.help;
        return {ResultCode::success, std::to_string(list.size()) + " commands",
                json{{"commands", list}}};
    }
    auto it = commands_.find(name);
    if (it == commands_.end()) {
        std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
        return {ResultCode::unknown_command, "unknown command \"" + shown + "\"", json::object()};
    }
    try {
        return it->second.handler(args);
    } catch (const std::exception& e) {
        return {ResultCode::error, std::string("command failed: ") + e.what(), json::object()};
    }
}

std::string CommandRegistry::handle(std::string_view request) const {
    Response r;
    auto parsed = json::parse(request.begin(), request.end(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded())
        r = {ResultCode::error, "request is not valid JSON", json::object()};
    else
        r = dispatch(parsed);
    json out{{"result", static_cast<int>(r.result)}, {"text", r.text}, {"arguments", r.arguments}};
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::expected<std::vector<std::string>, FrameError> FrameReader::feed(std::string_view bytes) {
    std::vector<std::string> frames;
    buffer_.append(bytes);
    while (buffer_.size() >= 4) {
        auto b = [&](std::size_t i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[i]));
        };
        std::uint32_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
        if (len == 0) return std::unexpected(FrameError::empty);
        if (len > max_frame_) return std::unexpected(FrameError::too_large);
        if (buffer_.size() < 4 + std::size_t{len}) break;
        frames.emplace_back(buffer_.substr(4, len));
        buffer_.erase(0, 4 + std::size_t{len});
    }
    return frames;
}

std::string encode_frame(std::string_view body) {
    auto len = static_cast<std::uint32_t>(body.size());
    std::string out;
    out.reserve(4 + body.size());
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((len >> shift) & 0xff));
    out.append(body);
    return out;
}

}  // namespace cgwd::daemon
