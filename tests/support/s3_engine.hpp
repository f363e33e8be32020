#pragma once
// A real S3 engine for the tests, started by the project's own fixture scripts:
// tests/support/swift/swift-s3.sh (OpenStack Swift + s3api) or tests/support/ceph/ceph-rgw.sh
// (Ceph radosgw, bucket with object lock). One engine per test process, stopped at exit. The
// bucket exists once shared() returns; it was made by curl --aws-sigv4, an independent client.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "curl.hpp"
#include "temp_dir.hpp"

namespace pgship::test {

class s3_engine {
 public:
  /// "swift" or "ceph". With `tls` (a test_pki directory) Swift serves HTTPS with its server
  /// certificate. Throws when the engine does not come up.
  explicit s3_engine(std::string kind, std::optional<std::filesystem::path> tls = std::nullopt);
  ~s3_engine();
  s3_engine(const s3_engine&) = delete;
  s3_engine& operator=(const s3_engine&) = delete;

  /// The engine for `kind`, started on first use and shared by the tests of this process.
  static s3_engine& shared(const std::string& kind);

  const std::string& kind() const { return kind_; }
  std::string endpoint() const { return env_.at("S3_ENDPOINT"); }
  std::string bucket() const { return env_.at("S3_BUCKET"); }
  std::string access_key() const { return env_.at("S3_ACCESS_KEY"); }
  std::string secret_key() const { return env_.at("S3_SECRET_KEY"); }
  bool object_lock() const { return kind_ == "ceph"; }

  /// The receiver's STORAGE_BACKEND=s3 settings for this engine under `prefix`.
  std::map<std::string, std::string> receiver_env(const std::string& prefix) const;

  /// curl --aws-sigv4 (the credentials go in a config file, not argv) against
  /// <endpoint>/<bucket>/<key>, with `args` before the URL.
  curl_result signed_curl(const std::string& key, std::vector<std::string> args = {}) const;

 private:
  std::string script() const;
  std::string kind_;
  std::optional<std::filesystem::path> tls_;
  temp_dir dir_;
  std::map<std::string, std::string> env_;
};

}  // namespace pgship::test
