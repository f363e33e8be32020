#include <algorithm>

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <pgship/common/http/framing.hpp>

namespace pgship::http_framing {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

namespace {

std::string_view trim(std::string_view s) {
  return trim_ows(s);
}

std::size_t count(const http::fields& fields, http::field name) {
  const auto [first, last] = fields.equal_range(name);
  return static_cast<std::size_t>(std::distance(first, last));
}

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pgship.http_framing"; }
  std::string message(int ev) const override {
    if (static_cast<errc>(ev) == errc::line_too_long) {
      return "chunk-size line or trailer section longer than " + std::to_string(max_chunk_line) +
             " bytes";
    }
    return "unknown framing error";
  }
};

}  // namespace

std::optional<std::string> framing_problem(const http::fields& fields, unsigned version) {
  const auto te_fields = count(fields, http::field::transfer_encoding);
  const auto cl_fields = count(fields, http::field::content_length);
  if (te_fields > 0) {
    // RFC 9112 §6.1: an HTTP/1.0 recipient cannot know chunked; with Content-Length beside
    // it the two readings differ; any coding but a lone "chunked" leaves the length unknown.
    if (version < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 message";
    if (cl_fields > 0) return "Transfer-Encoding and Content-Length together";
    if (te_fields > 1) return "more than one Transfer-Encoding field";
    const auto value = trim(fields[http::field::transfer_encoding]);
    if (!beast::iequals(value, "chunked")) {
      return "Transfer-Encoding must be exactly \"chunked\"";
    }
  }
  if (cl_fields > 1) return "more than one Content-Length field";
  if (cl_fields == 1) {
    const auto value = trim(fields[http::field::content_length]);
    if (value.empty() ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "Content-Length must be one decimal number";
    }
  }
  return std::nullopt;
}

std::optional<std::string> host_problem(const http::fields& fields, unsigned version) {
  const auto hosts = count(fields, http::field::host);
  if (hosts > 1) return "more than one Host field";
  if (hosts == 0) {
    if (version >= 11) return "an HTTP/1.1 request needs a Host field";
    return std::nullopt;
  }
  // An empty Host is allowed (a target without authority); anything else is host[:port].
  const auto value = trim(fields[http::field::host]);
  if (value.empty()) return std::nullopt;
  const auto authority = boost::urls::parse_authority(value);
  if (!authority || authority->has_userinfo()) return "Host is not a valid host[:port]";
  return std::nullopt;
}

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace pgship::http_framing
