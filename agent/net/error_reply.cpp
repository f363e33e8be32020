#include "net/error_reply.hpp"

#include <boost/json/parse.hpp>

namespace pgship::agent {

using boost::system::error_code;

std::string describe_response(const http_response& response) {
  std::string s = "HTTP " + std::to_string(response.result_int());
  const auto reason = response.reason();
  if (!reason.empty()) s += " " + std::string(reason);
  error_code ec;
  const auto value = boost::json::parse(response.body(), ec);
  if (!ec && value.is_object()) {
    const auto& o = value.get_object();
    const auto* detail = o.if_contains("detail");
    const auto* error = o.if_contains("error");
    if (detail != nullptr && detail->is_string() && !detail->get_string().empty()) {
      s += ": " + std::string(detail->get_string());
    } else if (error != nullptr && error->is_string()) {
      s += ": " + std::string(error->get_string());
    }
  }
  return s;
}

std::optional<wire::api_error> error_field(const http_response& response) {
  error_code ec;
  const auto value = boost::json::parse(response.body(), ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto* error = value.get_object().if_contains("error");
  if (error == nullptr || !error->is_string()) return std::nullopt;
  return wire::parse_api_error(error->get_string());
}

}  // namespace pgship::agent
