#include "storage/s3/bucket.hpp"
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <vector>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/sha256.hpp>

#include "storage/s3/xml.hpp"

namespace pgship::receiver::s3 {
namespace {

namespace http = boost::beast::http;

std::error_code status_error(unsigned status) {
  switch (status) {
    case 404:
      return std::make_error_code(std::errc::no_such_file_or_directory);
    case 403:
      return std::make_error_code(std::errc::permission_denied);
    case 409:
    case 412:
      return std::make_error_code(std::errc::file_exists);
    default:
      return std::make_error_code(std::errc::io_error);
  }
}

// "2026-12-01T03:00:00.000Z"
std::chrono::system_clock::time_point parse_iso(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return {};
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string md5_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_md5(), nullptr);
  return to_hex(std::span<const unsigned char>(digest, len));
}

std::optional<std::string> digest_from_hex_md5(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < 32; i += 2) {
    int v = 0;
    for (const char c : hex.substr(i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string content_md5(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_md5(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::optional<std::string> content_md5(int fd, std::uint64_t offset, std::uint64_t length) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 20)));
  io::range_reader range(fd, offset, length);
  for (std::size_t n = 0;;) {
    if (range.read(buffer, n)) {
      EVP_MD_CTX_free(ctx);
      return std::nullopt;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buffer.data(), n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::error_code bucket::call(const char* what, const request& req, response& res,
                             std::initializer_list<unsigned> quiet) {
  if (const auto ec = http_.send(req, res)) {
    // No answer at all; a 5xx that outlasted the retries is reported below.
    if (res.status == 0) {
      spdlog::warn("S3 {} {}: {}", what, req.key, ec.message());
      return ec;
    }
  }
  if (res.ok()) return {};
  if (std::find(quiet.begin(), quiet.end(), res.status) == quiet.end()) {
    spdlog::warn("S3 {} {}: {}", what, req.key, res.describe());
  }
  return status_error(res.status);
}

std::error_code bucket::list(const std::string& prefix, std::vector<object_entry>& out, int page) {
  out.clear();
  std::string token;
  for (;;) {
    request req{http::verb::get,
                "",
                {{"list-type", "2"}, {"max-keys", std::to_string(page)}, {"prefix", prefix}},
                {},
                {}};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    response res;
    if (auto ec = call("LIST", req, res)) return ec;
    const auto doc = parse_xml(res.body);
    if (!doc || doc->name != "ListBucketResult") {
      spdlog::warn("S3 LIST {}: the answer is not a ListBucketResult", prefix);
      return std::make_error_code(std::errc::bad_message);
    }
    for (const auto* c : doc->all("Contents")) {
      object_entry e;
      e.key = c->text_of("Key");
      e.size = std::strtoull(c->text_of("Size").c_str(), nullptr, 10);
      e.etag = c->text_of("ETag");
      if (e.etag.size() >= 2 && e.etag.front() == '"') e.etag = e.etag.substr(1, e.etag.size() - 2);
      e.modified = parse_iso(c->text_of("LastModified"));
      out.push_back(std::move(e));
    }
    if (doc->text_of("IsTruncated") != "true") return {};
    token = doc->text_of("NextContinuationToken");
    if (token.empty()) {
      spdlog::warn("S3 LIST {}: truncated without a continuation token", prefix);
      return std::make_error_code(std::errc::bad_message);
    }
  }
}

std::error_code bucket::list_dirs(const std::string& prefix, std::vector<std::string>& out) {
  out.clear();
  std::string token;
  for (;;) {
    request req{
        http::verb::get, "", {{"list-type", "2"}, {"delimiter", "/"}, {"prefix", prefix}}, {}, {}};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    response res;
    if (auto ec = call("LIST", req, res)) return ec;
    const auto doc = parse_xml(res.body);
    if (!doc || doc->name != "ListBucketResult") {
      spdlog::warn("S3 LIST {}: the answer is not a ListBucketResult", prefix);
      return std::make_error_code(std::errc::bad_message);
    }
    for (const auto* c : doc->all("CommonPrefixes"))
      out.push_back(c->text_of("Prefix"));
    if (doc->text_of("IsTruncated") != "true") return {};
    token = doc->text_of("NextContinuationToken");
    if (token.empty()) {
      spdlog::warn("S3 LIST {}: truncated without a continuation token", prefix);
      return std::make_error_code(std::errc::bad_message);
    }
  }
}

std::error_code bucket::put(const std::string& key, std::string_view text,
                            const header_list& headers) {
  request req{http::verb::put, key, {}, headers, {.text = text}};
  req.headers.emplace_back("content-md5", content_md5(text));
  response res;
  return call("PUT", req, res);
}

std::error_code bucket::put_file(const std::string& key, int fd, std::uint64_t offset,
                                 std::uint64_t length, const std::string& sha256_hex,
                                 const header_list& headers, std::string& etag) {
  const request req{http::verb::put,
                    key,
                    {},
                    headers,
                    {.fd = fd, .offset = offset, .length = length, .sha256 = sha256_hex}};
  response res;
  if (auto ec = call("PUT", req, res)) return ec;
  etag = res.etag();
  return {};
}

std::error_code bucket::put_if_absent(const std::string& key, const body_source& body,
                                      const header_list& headers, std::string& etag) {
  request req{http::verb::put, key, {}, headers, body};
  req.headers.emplace_back("if-none-match", "*");
  response res;
  const auto ec = call("PUT", req, res, {412, 501});
  if (res.status == 501) return std::make_error_code(std::errc::not_supported);
  if (ec) return ec;
  etag = res.etag();
  return {};
}

std::error_code bucket::get_text(const std::string& key, std::optional<std::string>& out) {
  out.reset();
  const request req{http::verb::get, key, {}, {}, {}};
  response res;
  const auto ec = call("GET", req, res, {404});
  if (ec == std::errc::no_such_file_or_directory) return {};
  if (ec) return ec;
  out = std::move(res.body);
  return {};
}

std::error_code bucket::head(const std::string& key, std::optional<object_entry>& out) {
  out.reset();
  const request req{http::verb::head, key, {}, {}, {}};
  response res;
  const auto ec = call("HEAD", req, res, {404});
  if (ec == std::errc::no_such_file_or_directory) return {};
  if (ec) return ec;
  object_entry e;
  e.key = key;
  e.size =
      std::strtoull(std::string(res.headers[http::field::content_length]).c_str(), nullptr, 10);
  e.etag = res.etag();
  for (const auto& field : res.headers) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (name.starts_with("x-amz-meta-")) e.metadata.emplace_back(name, field.value());
  }
  out = std::move(e);
  return {};
}

std::error_code bucket::remove(const std::vector<std::string>& keys) {
  for (std::size_t at = 0; at < keys.size(); at += 1000) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
    for (std::size_t i = at; i < std::min(keys.size(), at + 1000); ++i)
      body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    body += "</Delete>";
    request req{http::verb::post, "", {{"delete", ""}}, {}, {.text = body}};
    req.headers.emplace_back("content-md5", content_md5(body));
    req.headers.emplace_back("content-type", "application/xml");
    response res;
    if (auto ec = call("DELETE", req, res)) return ec;
    // 200 with per-key errors: an object that could not be deleted (object lock) is a failure.
    if (const auto doc = parse_xml(res.body); doc) {
      for (const auto* e : doc->all("Error")) {
        spdlog::warn("S3 DELETE {}: {} {}", e->text_of("Key"), e->text_of("Code"),
                     e->text_of("Message"));
        return std::make_error_code(std::errc::permission_denied);
      }
    }
  }
  return {};
}

std::error_code bucket::create_multipart(const std::string& key, const header_list& headers,
                                         std::string& upload_id) {
  const request req{http::verb::post, key, {{"uploads", ""}}, headers, {}};
  response res;
  if (auto ec = call("CreateMultipartUpload", req, res)) return ec;
  const auto doc = parse_xml(res.body);
  upload_id = doc ? doc->text_of("UploadId") : std::string();
  if (upload_id.empty()) {
    spdlog::warn("S3 CreateMultipartUpload {}: no UploadId in the answer", key);
    return std::make_error_code(std::errc::bad_message);
  }
  return {};
}

std::error_code bucket::upload_part(const std::string& key, const std::string& upload_id,
                                    int number, int fd, std::uint64_t offset, std::uint64_t length,
                                    const std::string& sha256_hex, const header_list& headers,
                                    std::string& etag) {
  const request req{http::verb::put,
                    key,
                    {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                    headers,
                    {.fd = fd, .offset = offset, .length = length, .sha256 = sha256_hex}};
  response res;
  if (auto ec = call("UploadPart", req, res)) return ec;
  etag = res.etag();
  return {};
}

std::error_code bucket::complete_multipart(const std::string& key, const std::string& upload_id,
                                           const std::vector<std::string>& etags) {
  std::string body = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" +
            xml_escape(etags[i]) + "\"</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  const request req{http::verb::post, key, {{"uploadId", upload_id}}, {}, {.text = body}};
  response res;
  if (auto ec = call("CompleteMultipartUpload", req, res)) return ec;
  // S3 may answer 200 and still fail: the error is in the body.
  if (const auto doc = parse_xml(res.body); !doc || doc->name == "Error") {
    spdlog::warn("S3 CompleteMultipartUpload {}: {}", key,
                 doc ? doc->text_of("Code") + " " + doc->text_of("Message") : "unreadable answer");
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

std::error_code bucket::abort_multipart(const std::string& key, const std::string& upload_id) {
  const request req{http::verb::delete_, key, {{"uploadId", upload_id}}, {}, {}};
  response res;
  const auto ec = call("AbortMultipartUpload", req, res, {404});
  return ec == std::errc::no_such_file_or_directory ? std::error_code{} : ec;
}

std::error_code bucket::list_multipart(const std::string& prefix, std::vector<upload_entry>& out) {
  out.clear();
  std::string key_marker, id_marker;
  for (;;) {
    request req{http::verb::get, "", {{"uploads", ""}, {"prefix", prefix}}, {}, {}};
    if (!key_marker.empty()) {
      req.query.emplace_back("key-marker", key_marker);
      req.query.emplace_back("upload-id-marker", id_marker);
    }
    response res;
    if (auto ec = call("ListMultipartUploads", req, res)) return ec;
    const auto doc = parse_xml(res.body);
    if (!doc) return std::make_error_code(std::errc::bad_message);
    for (const auto* u : doc->all("Upload"))
      out.push_back(
          {u->text_of("Key"), u->text_of("UploadId"), parse_iso(u->text_of("Initiated"))});
    if (doc->text_of("IsTruncated") != "true") return {};
    key_marker = doc->text_of("NextKeyMarker");
    id_marker = doc->text_of("NextUploadIdMarker");
    if (key_marker.empty()) return std::make_error_code(std::errc::bad_message);
  }
}

std::error_code bucket::put_retention(const std::string& key, const std::string& mode,
                                      const std::string& until) {
  const std::string body = "<Retention><Mode>" + mode + "</Mode><RetainUntilDate>" + until +
                           "</RetainUntilDate></Retention>";
  request req{http::verb::put, key, {{"retention", ""}}, {}, {.text = body}};
  req.headers.emplace_back("content-md5", content_md5(body));
  response res;
  return call("PutObjectRetention", req, res);
}

std::error_code bucket::object_lock_enabled(bool& enabled) {
  enabled = false;
  const request req{http::verb::get, "", {{"object-lock", ""}}, {}, {}};
  response res;
  // An engine without object lock answers 404 (no configuration) or 501.
  const auto ec = call("GET ?object-lock", req, res, {404, 400, 501});
  if (ec && res.status == 0) return ec;
  if (ec) return {};
  const auto doc = parse_xml(res.body);
  enabled = doc && doc->text_of("ObjectLockEnabled") == "Enabled";
  return {};
}

}  // namespace pgship::receiver::s3
