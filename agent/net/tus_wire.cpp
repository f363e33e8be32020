#include "net/tus_wire.hpp"
#include <algorithm>
#include <charconv>

#include <boost/url/parse.hpp>

#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>

#include "net/retry_policy.hpp"

namespace pgship::agent {

attempt_end retry_with(errc code, std::string message) {
  return {fail(code, std::move(message)), true};
}
attempt_end give_up(errc code, std::string message) {
  return {fail(code, std::move(message)), false};
}

attempt_end from_reply(const http_outcome& reply, std::string_view what) {
  if (!reply.ok()) {
    // A certificate the agent does not trust will not become trusted by retrying.
    const bool retryable = reply.failure == errc::receiver_unreachable;
    return {fail(reply.failure, std::string(what) + ": " + reply.message), retryable};
  }
  const auto status = reply.status();
  const auto error = error_field(reply.response);
  const std::string message = std::string(what) + ": " + describe_response(reply.response);
  if (classify_reply(status, error) == reply_class::retry) {
    auto end = retry_with(errc::upload_failed, message);
    end.wait = retry_after(reply);
    return end;
  }
  return give_up(refusal_code(status, error), message);
}

std::optional<std::chrono::seconds> retry_after(const http_outcome& reply) {
  if (!reply.ok() || (reply.status() != 429 && reply.status() != 503)) return std::nullopt;
  const auto value = reply.response[boost::beast::http::field::retry_after];
  if (value.empty() || value.size() > 9) return std::nullopt;
  long long seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;  // an HTTP-date: the usual backoff applies
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::seconds(std::clamp<long long>(seconds, 1, 600));
}

http_request tus_request(boost::beast::http::verb method, std::string target,
                         const std::string& token) {
  http_request r{method, target, 11};
  r.set(boost::beast::http::field::authorization, "Bearer " + token);
  r.set(tus::header::resumable, tus::version);
  return r;
}

http_request tus_patch(std::string target, const std::string& token, std::uint64_t offset) {
  auto r = tus_request(boost::beast::http::verb::patch, std::move(target), token);
  r.set(tus::header::upload_offset, std::to_string(offset));
  r.set(boost::beast::http::field::content_type, "application/offset+octet-stream");
  return r;
}

http_request tus_patch(std::string target, const std::string& token, std::uint64_t offset,
                       const sha256_digest& digest) {
  auto r = tus_patch(std::move(target), token, offset);
  r.set(tus::header::upload_checksum,
        std::string(tus::checksum_algorithm) + " " + to_base64(digest));
  return r;
}

void set_final_length(http_request& r, std::uint64_t size, const std::string& sha256_hex) {
  r.set(tus::header::upload_length, std::to_string(size));
  r.set(wire::content_sha256_header, sha256_hex);
}

std::optional<std::uint64_t> header_u64(const http_response& r, std::string_view name) {
  const auto it = r.find(name);
  if (it == r.end()) return std::nullopt;
  const auto v = it->value();
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

std::string location_target(std::string_view location, const receiver_endpoint& ep) {
  std::string path;
  if (location.starts_with("http://") || location.starts_with("https://")) {
    const auto url = boost::urls::parse_absolute_uri(location);
    if (!url || url->host_address() != ep.host) return {};
    path = url->encoded_path();
  } else if (location.starts_with("/")) {
    path = location;
  } else {
    // Relative to the uploads collection, .../api/backup/uploads.
    const auto collection = wire::uploads_path.substr(0, wire::uploads_path.rfind('/') + 1);
    path = std::string(collection) + std::string(location);
  }
  if (!ep.base_path.empty() && !path.starts_with(ep.base_path + "/")) path = ep.base_path + path;
  return path;
}

std::optional<sha256_digest> hash_range(int fd, std::uint64_t offset, std::uint64_t length) {
  io::discard_sink nowhere;
  io::hash_filter hash(nowhere);
  if (io::pump_file(fd, hash, offset, length)) return std::nullopt;
  return hash.digest();
}

}  // namespace pgship::agent
