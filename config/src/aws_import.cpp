#include "cgwd/config/aws_import.hpp"

#include "aws_common.hpp"

namespace cgwd::config {

const char* to_string(AwsFormat f) {
    switch (f) {
        case AwsFormat::xml:
            return "CustomerGatewayConfiguration XML";
        case AwsFormat::json:
            return "describe-vpn-connections JSON";
        case AwsFormat::generic_text:
            return "Generic text";
        case AwsFormat::unknown:
            break;
    }
    return "unknown";
}

AwsFormat detect_aws_format(std::string_view content) {
    if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);  // UTF-8 BOM
    auto first = content.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return AwsFormat::unknown;
    if (content[first] == '<') return AwsFormat::xml;
    if (content[first] == '{') return AwsFormat::json;
    auto text = detail::lower(content.substr(0, 64 * 1024));
    if (text.find("ipsec tunnel #") != std::string::npos) return AwsFormat::generic_text;
    return AwsFormat::unknown;
}

std::expected<std::vector<Connection>, ConfigError> import_aws(std::string_view content,
                                                               const std::string& file) {
    try {
        if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);
        switch (detect_aws_format(content)) {
            case AwsFormat::xml: {
                Connection c = detail::parse_cgw_xml(content, detail::Loc{file, 0, ""});
                detail::finish_connection(c, detail::Loc{file, c.origin.line, "<vpn_connection>"});
                return std::vector<Connection>{std::move(c)};
            }
            case AwsFormat::json:
                return detail::parse_aws_json(content, file);
            case AwsFormat::generic_text:
                return detail::parse_aws_text(content, file);
            case AwsFormat::unknown:
                break;
        }
        return std::unexpected(ConfigError{
            file, 0, 0, "",
            "not an AWS VPN configuration: expected the CustomerGatewayConfiguration XML, the "
            "describe-vpn-connections JSON or the Generic text download"});
    } catch (const ConfigException& e) {
        return std::unexpected(e.error);
    }
}

std::expected<std::vector<Connection>, ConfigError> import_aws_file(const std::string& path) {
    auto content = detail::read_file_bounded(path, 4 * 1024 * 1024, "4 MiB");
    if (!content) return std::unexpected(content.error());
    return import_aws(*content, path);
}

}  // namespace cgwd::config
