#include <algorithm>
#include <stdexcept>

#include <pgship/common/http/router.hpp>

namespace pgship::http_server {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_capture(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view route_params::get(std::string_view name) const {
  const auto it = std::find_if(items_.begin(), items_.end(),
                               [&](const auto& item) { return item.first == name; });
  return it == items_.end() ? std::string_view{} : std::string_view(it->second);
}

std::optional<std::string> decode_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '%') {
      if (i + 2 >= segment.size()) return std::nullopt;
      const int hi = hex_value(segment[i + 1]);
      const int lo = hex_value(segment[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (c == '\0' || c == '/') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

void router::add(http::verb method, std::string_view pattern, handler h, route_options options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  route r{method, {}, std::move(h), options};
  for (auto segment : split_path(pattern)) {
    const bool braces = segment.find_first_of("{}") != std::string_view::npos;
    const bool braces_in_name =
        is_capture(segment) &&
        segment.substr(1, segment.size() - 2).find_first_of("{}") != std::string_view::npos;
    if (braces && (!is_capture(segment) || braces_in_name)) {
      throw std::invalid_argument("malformed capture in route pattern: " + std::string(pattern));
    }
    r.segments.emplace_back(segment);
  }
  routes_.push_back(std::move(r));
}

route_match router::match(http::verb method, std::string_view path) const {
  route_match out;
  const auto segments = split_path(path);
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    route_params params;
    bool matched = true;
    for (std::size_t i = 0; i < segments.size() && matched; ++i) {
      if (is_capture(r.segments[i])) {
        if (segments[i].empty()) {
          matched = false;
          break;
        }
        // An undecodable segment (bad escape, encoded '/' or NUL) is passed on still encoded:
        // the handler's name validation then refuses it with 400 instead of a puzzling 404.
        auto value = decode_segment(segments[i]);
        params.add(r.segments[i].substr(1, r.segments[i].size() - 2),
                   value ? std::move(*value) : std::string(segments[i]));
      } else {
        matched = r.segments[i] == segments[i];
      }
    }
    if (!matched) continue;
    if (r.method == method) {
      out.result = route_match::outcome::found;
      out.target = &r.target;
      out.options = r.options;
      out.params = std::move(params);
      return out;
    }
    out.result = route_match::outcome::method_not_allowed;
    const std::string name(http::to_string(r.method));
    // Whole-token comparison: "LOCK" must not be taken as already listed in "UNLOCK".
    if ((", " + out.allow + ", ").find(", " + name + ", ") == std::string::npos) {
      out.allow += out.allow.empty() ? name : ", " + name;
    }
  }
  return out;
}

}  // namespace pgship::http_server
