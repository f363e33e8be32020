#include <charconv>

#include <boost/beast/http/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <pgship/common/http/exchange.hpp>

namespace pgship::http_server {

std::optional<std::string> exchange::query_param(std::string_view name) const {
  const std::string target = "/?" + query_;
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  for (const auto& p : url->params()) {  // decoded keys and values
    if (p.key == name) return p.value;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> exchange::header_u64(std::string_view name) const {
  const auto it = request_.find(name);
  if (it == request_.end()) return std::nullopt;
  const auto v = it->value();
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return n;
}

net::awaitable<std::pair<error_code, std::size_t>> exchange::read_body_full(
    net::mutable_buffer buffer) {
  std::size_t filled = 0;
  while (filled < buffer.size()) {
    auto [ec, n] = co_await read_body(buffer + filled);
    if (ec) co_return std::pair{ec, filled};
    if (n == 0) break;
    filled += n;
  }
  co_return std::pair{error_code{}, filled};
}

string_response make_error_response(http::status status, wire::api_error error,
                                    std::string_view detail) {
  boost::json::object body;
  body["error"] = wire::to_string(error);
  body["detail"] = detail;
  string_response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body) + "\n";
  return res;
}

net::awaitable<error_code> exchange::respond_error(http::status status, wire::api_error error,
                                                   std::string_view detail) {
  co_return co_await respond(make_error_response(status, error, detail));
}

net::awaitable<error_code> exchange::respond_json(http::status status, std::string body) {
  string_response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  co_return co_await respond(std::move(res));
}

}  // namespace pgship::http_server
