#include "api/conditional.hpp"
#include <optional>

#include <pgship/common/http/framing.hpp>

namespace pgship::receiver {
namespace {

struct entity_tag {
  bool weak = false;
  std::string_view opaque;  // with its quotes
};

using http_framing::trim_ows;

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
std::optional<entity_tag> parse_tag(std::string_view s) {
  entity_tag t;
  if (s.starts_with("W/")) {
    t.weak = true;
    s.remove_prefix(2);
  }
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  for (const char c : s.substr(1, s.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '"' || u < 0x21 || u == 0x7f) return std::nullopt;
  }
  t.opaque = s;
  return t;
}

// Whether the list (or "*") names `etag`; `strong` asks for RFC 9110's strong comparison.
bool list_matches(std::string_view list, std::string_view etag, bool strong) {
  if (trim_ows(list) == "*") return true;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim_ows(list.substr(0, comma));
    if (const auto t = parse_tag(item); t && t->opaque == etag && !(strong && t->weak)) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

precondition evaluate_preconditions(std::string_view if_match, std::string_view if_none_match,
                                    std::string_view etag) {
  if (!trim_ows(if_match).empty() && !list_matches(if_match, etag, true))
    return precondition::failed;
  if (!trim_ows(if_none_match).empty() && list_matches(if_none_match, etag, false)) {
    return precondition::not_modified;
  }
  return precondition::proceed;
}

bool if_range_holds(std::string_view if_range, std::string_view etag) {
  const auto v = trim_ows(if_range);
  if (v.empty()) return true;
  const auto t = parse_tag(v);
  return t && !t->weak && t->opaque == etag;
}

}  // namespace pgship::receiver
