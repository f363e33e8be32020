#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/whoami.hpp>

namespace pgship::wire {

bool whoami_reply::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::string to_json(const whoami_reply& reply) {
  boost::json::object o;
  o["client"] = reply.client;
  boost::json::array scopes;
  for (const auto& s : reply.scopes)
    scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  o["can_upload"] = reply.can_upload;
  if (!reply.reason.empty()) o["reason"] = reply.reason;
  if (reply.free_bytes) o["free_bytes"] = *reply.free_bytes;
  if (reply.quota_left_bytes) o["quota_left_bytes"] = *reply.quota_left_bytes;
  return boost::json::serialize(o);
}

std::optional<whoami_reply> parse_whoami(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  const auto* client = o.if_contains("client");
  const auto* scopes = o.if_contains("scopes");
  const auto* can = o.if_contains("can_upload");
  if (!client || !client->is_string() || !scopes || !scopes->is_array() || !can ||
      !can->is_bool()) {
    return std::nullopt;
  }
  whoami_reply r;
  r.client = std::string(client->as_string());
  for (const auto& s : scopes->as_array()) {
    if (!s.is_string()) return std::nullopt;
    r.scopes.emplace_back(s.as_string());
  }
  r.can_upload = can->as_bool();
  if (const auto* reason = o.if_contains("reason"); reason && reason->is_string())
    r.reason = std::string(reason->as_string());
  const auto number = [&o](std::string_view key) -> std::optional<std::uint64_t> {
    const auto* v = o.if_contains(key);
    if (v && v->is_uint64()) return v->as_uint64();
    if (v && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
    return std::nullopt;
  };
  r.free_bytes = number("free_bytes");
  r.quota_left_bytes = number("quota_left_bytes");
  return r;
}

}  // namespace pgship::wire
