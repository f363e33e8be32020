#include "storage/s3/sigv4.hpp"
#include <algorithm>
#include <cctype>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pgship/common/sha256.hpp>

namespace pgship::receiver::s3 {
namespace {

using key = std::vector<unsigned char>;

key hmac(const key& k, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return key(out, out + len);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Header values are trimmed and inner runs of spaces become one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (const char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

std::string canonical_request(const signable& req, std::string& signed_headers) {
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [k, v] : req.query)
    query.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(query.begin(), query.end());
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : req.headers)
    headers.emplace_back(lower(k), canonical_value(v));
  std::sort(headers.begin(), headers.end());

  std::string out = req.method + "\n" + uri_encode(req.path.empty() ? "/" : req.path, true) + "\n";
  for (std::size_t i = 0; i < query.size(); ++i) {
    if (i > 0) out.push_back('&');
    out += query[i].first + "=" + query[i].second;
  }
  out.push_back('\n');
  signed_headers.clear();
  for (std::size_t i = 0; i < headers.size(); ++i) {
    out += headers[i].first + ":" + headers[i].second + "\n";
    if (i > 0) signed_headers.push_back(';');
    signed_headers += headers[i].first;
  }
  out += "\n" + signed_headers + "\n" + req.payload_sha256;
  return out;
}

std::string authorization(const signable& req, const credentials& creds,
                          std::chrono::system_clock::time_point at) {
  const auto when = amz_date(at);
  const auto day = when.substr(0, 8);
  const auto scope = day + "/" + creds.region + "/" + creds.service + "/aws4_request";
  std::string signed_headers;
  const auto canonical = canonical_request(req, signed_headers);
  const auto to_sign =
      "AWS4-HMAC-SHA256\n" + when + "\n" + scope + "\n" + to_hex(sha256_of(canonical));
  const std::string secret = "AWS4" + creds.secret_key;
  auto k = hmac(key(secret.begin(), secret.end()), day);
  k = hmac(k, creds.region);
  k = hmac(k, creds.service);
  k = hmac(k, "aws4_request");
  return "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" + to_hex(hmac(k, to_sign));
}

}  // namespace pgship::receiver::s3
