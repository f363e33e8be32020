#pragma once
// The S3 operations the storage uses, typed: objects (PUT from text or a file range, GET,
// HEAD, DeleteObjects), multipart uploads (create, part, complete, abort, list) and the
// bucket's object-lock setting. Each logs what S3 answered when it fails ("S3 PUT key: 403
// AccessDenied: ...") and returns ENOENT for 404, EACCES for 403, EEXIST for 409/412, EIO
// for other refusals, or the network error.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "storage/s3/client.hpp"

namespace pgship::receiver::s3 {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct object_entry {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // without quotes
  std::chrono::system_clock::time_point modified;
  /// From head() only: the object's x-amz-meta-* headers, names in lower case.
  header_list metadata;
};

struct upload_entry {
  std::string key;
  std::string upload_id;
  std::chrono::system_clock::time_point initiated;
};

/// The lowercase hex MD5 of `bytes`.
std::string md5_hex(std::string_view bytes);
/// The 16 bytes of a hex MD5 (an ETag of a simple object); nullopt when it is not one.
std::optional<std::string> digest_from_hex_md5(std::string_view hex);
/// Content-MD5 of `bytes`: base64 of the MD5 digest.
std::string content_md5(std::string_view bytes);
/// Content-MD5 of `length` bytes of `fd` from `offset`, read 1 MiB at a time; nullopt when
/// the file cannot be read that far.
std::optional<std::string> content_md5(int fd, std::uint64_t offset, std::uint64_t length);

class bucket {
 public:
  explicit bucket(client_config cfg) : http_(std::move(cfg)) {}

  client& http() { return http_; }
  const std::string& name() const { return http_.config().bucket; }

  /// Every object under `prefix` (ListObjectsV2, all pages of up to `page` keys).
  std::error_code list(const std::string& prefix, std::vector<object_entry>& out, int page = 1000);
  /// The "directories" right under `prefix` (ListObjectsV2 with delimiter '/'), each ending in
  /// '/': a listing that skips whole subtrees.
  std::error_code list_dirs(const std::string& prefix, std::vector<std::string>& out);
  std::error_code put(const std::string& key, std::string_view text, const header_list& headers);
  /// `length` bytes of `fd` from `offset`, whose SHA-256 is `sha256_hex` (signed: the engine
  /// refuses a body that does not match).
  std::error_code put_file(const std::string& key, int fd, std::uint64_t offset,
                           std::uint64_t length, const std::string& sha256_hex,
                           const header_list& headers, std::string& etag);
  /// A PUT of `body` only where `key` does not exist yet (If-None-Match: *): EEXIST when it
  /// does, ENOTSUP when the engine cannot make a PUT conditional (Swift's s3api answers 501).
  std::error_code put_if_absent(const std::string& key, const body_source& body,
                                const header_list& headers, std::string& etag);
  /// `out` is nullopt when there is no such object.
  std::error_code get_text(const std::string& key, std::optional<std::string>& out);
  std::error_code head(const std::string& key, std::optional<object_entry>& out);
  /// DeleteObjects (with Content-MD5, which Swift requires), 1000 keys per request.
  std::error_code remove(const std::vector<std::string>& keys);

  std::error_code create_multipart(const std::string& key, const header_list& headers,
                                   std::string& upload_id);
  std::error_code upload_part(const std::string& key, const std::string& upload_id, int number,
                              int fd, std::uint64_t offset, std::uint64_t length,
                              const std::string& sha256_hex, const header_list& headers,
                              std::string& etag);
  std::error_code complete_multipart(const std::string& key, const std::string& upload_id,
                                     const std::vector<std::string>& etags);
  std::error_code abort_multipart(const std::string& key, const std::string& upload_id);
  std::error_code list_multipart(const std::string& prefix, std::vector<upload_entry>& out);

  /// PutObjectRetention: `mode` (COMPLIANCE) until `until` (ISO 8601, UTC).
  std::error_code put_retention(const std::string& key, const std::string& mode,
                                const std::string& until);
  /// Whether the bucket was created with object lock (GET ?object-lock).
  std::error_code object_lock_enabled(bool& enabled);

 private:
  std::error_code call(const char* what, const request& req, response& res,
                       std::initializer_list<unsigned> quiet = {});
  client http_;
};

}  // namespace pgship::receiver::s3
