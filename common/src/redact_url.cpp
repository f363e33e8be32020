#include <pgship/common/redact_url.hpp>

namespace pgship {
namespace {

constexpr std::string_view scheme_end = "://";
constexpr std::string_view hidden = "<redacted>";

}  // namespace

std::string redact_url(std::string_view value) {
  const auto scheme = value.find(scheme_end);
  if (scheme == std::string_view::npos) return std::string(value);
  const std::size_t start = scheme + scheme_end.size();
  const std::size_t query = value.find_first_of("?#", start);
  const auto before_query =
      value.substr(start, query == std::string_view::npos ? query : query - start);
  const std::size_t at = before_query.rfind('@');
  if (at == std::string_view::npos) return std::string(value);
  const std::string_view userinfo = before_query.substr(0, at);
  if (userinfo.ends_with(hidden) || userinfo == hidden) return std::string(value);
  std::string out(value.substr(0, start));
  const std::size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
  out.append(hidden);
  out.append(value.substr(start + at));
  return out;
}

}  // namespace pgship
