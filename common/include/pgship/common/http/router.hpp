#pragma once
// Maps (method, path) to a handler. Patterns are literal segments and `{name}` segments that
// capture one non-empty, percent-decoded path segment (left encoded when it cannot be decoded
// safely, so that name validation in the handler rejects it). Tells "no such path" (404) apart from
// "path exists, other method" (405 with Allow).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pgship/common/http/net.hpp>

namespace pgship::http_server {

class exchange;

using handler = std::function<net::awaitable<void>(exchange&)>;

struct route_options {
  /// The most body bytes the route accepts; nullopt for routes that stream and check sizes
  /// themselves. A declared Content-Length above it is answered 413 before the handler runs.
  std::optional<std::uint64_t> body_limit = 1024 * 1024;
};

class route_params {
 public:
  void add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
  }
  /// The captured value, or "" when the pattern has no such name.
  std::string_view get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct route_match {
  enum class outcome { found, not_found, method_not_allowed };
  outcome result = outcome::not_found;
  const handler* target = nullptr;
  route_options options;
  route_params params;
  std::string allow;  // for 405: the methods the path does accept, comma-separated
};

/// Not thread-safe to modify; safe to match from many threads once built.
class router {
 public:
  /// Throws std::invalid_argument for a malformed pattern (start-up misconfiguration).
  void add(http::verb method, std::string_view pattern, handler h, route_options options = {});

  route_match match(http::verb method, std::string_view path) const;

 private:
  struct route {
    http::verb method;
    std::vector<std::string> segments;  // "{name}" marks a capture
    handler target;
    route_options options;
  };
  std::vector<route> routes_;
};

/// Percent-decodes a path segment; nullopt for a malformed escape or a decoded NUL or '/'.
std::optional<std::string> decode_segment(std::string_view segment);

}  // namespace pgship::http_server
