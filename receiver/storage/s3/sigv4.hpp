#pragma once
// AWS Signature Version 4 for S3 requests (the "Authorization header" form), written here
// because no well-kept C++ library without an SDK does it: the canonical request (method,
// URI-encoded path, sorted query, lowercase sorted headers, the payload's SHA-256), the string
// to sign, and the HMAC-SHA-256 key chain date → region → service → aws4_request. The payload
// hash is always signed (x-amz-content-sha256), which Swift's s3api and Ceph RGW both verify.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgship::receiver::s3 {

struct credentials {
  std::string access_key;
  std::string secret_key;  // never logged
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct signable {
  std::string method;  // "GET"
  std::string path;    // unencoded: "/bucket/db/app-20261201-030000.dump"
  std::vector<std::pair<std::string, std::string>> query;    // unencoded
  std::vector<std::pair<std::string, std::string>> headers;  // host included; any case
  std::string payload_sha256;                                // hex, or "UNSIGNED-PAYLOAD"
};

/// "20130524T000000Z" for `t` (UTC, whole seconds).
std::string amz_date(std::chrono::system_clock::time_point t);

/// RFC 3986 encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, every
/// other byte is %XX (upper case); '/' stays only when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);

/// The canonical request (exposed for tests and for debugging a SignatureDoesNotMatch).
std::string canonical_request(const signable& req, std::string& signed_headers);

/// The Authorization header value for `req` made at `at` (whose x-amz-date header, amz_date(at),
/// the caller must send and should include in `req.headers`).
std::string authorization(const signable& req, const credentials& creds,
                          std::chrono::system_clock::time_point at);

}  // namespace pgship::receiver::s3
