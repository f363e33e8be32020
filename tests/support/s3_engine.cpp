#include "s3_engine.hpp"
#include <stdexcept>

#include "process.hpp"

namespace pgship::test {

namespace stdfs = std::filesystem;

s3_engine::s3_engine(std::string kind, std::optional<std::filesystem::path> tls)
    : kind_(std::move(kind)), tls_(std::move(tls)), dir_("pgship-s3") {
  // As root the servers run as a service user, who must reach the directory.
  stdfs::permissions(dir_.path(), stdfs::perms::others_exec | stdfs::perms::group_exec,
                     stdfs::perm_options::add);
  std::map<std::string, std::string> env;
  if (tls_) {
    env["SWIFT_TLS_CERT"] = (*tls_ / "server.crt").string();
    env["SWIFT_TLS_KEY"] = (*tls_ / "server.key").string();
  }
  const auto r = run_process({script(), "start", (dir_.path() / "engine").string()},
                             {.env = env, .timeout = std::chrono::seconds(120)});
  if (!r.ok()) throw std::runtime_error(kind_ + " did not start: " + r.describe() + r.out);
  for (std::size_t at = 0; at < r.out.size();) {
    const auto nl = r.out.find('\n', at);
    const auto line = r.out.substr(at, nl - at);
    if (const auto eq = line.find('='); eq != std::string::npos) {
      env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  for (const char* key : {"S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY"}) {
    if (!env_.contains(key)) throw std::runtime_error(kind_ + " fixture printed no " + key);
  }
  // Ceph's fixture makes its bucket (with object lock); Swift's leaves it to us.
  if (kind_ == "swift") {
    // The proxy answers before the servers behind it do: 503 for a moment.
    curl_result made;
    wait_until(
        [&] {
          made = signed_curl("", {"-X", "PUT"});
          return made.status != 503 && made.status != 0;
        },
        std::chrono::seconds(20));
    if (made.status != 200) {
      throw std::runtime_error("cannot create the bucket: " + std::to_string(made.status) + " " +
                               made.body + made.error);
    }
  }
}

s3_engine::~s3_engine() {
  run_process({script(), "stop", (dir_.path() / "engine").string()},
              {.timeout = std::chrono::seconds(60)});
}

s3_engine& s3_engine::shared(const std::string& kind) {
  static std::map<std::string, std::unique_ptr<s3_engine>> engines;
  auto& e = engines[kind];
  if (!e) e = std::make_unique<s3_engine>(kind);
  return *e;
}

std::string s3_engine::script() const {
  return std::string(PGSHIP_SOURCE_DIR) +
         (kind_ == "ceph" ? "/tests/support/ceph/ceph-rgw.sh" : "/tests/support/swift/swift-s3.sh");
}

std::map<std::string, std::string> s3_engine::receiver_env(const std::string& prefix) const {
  return {{"STORAGE_BACKEND", "s3"},
          {"S3_ENDPOINT", endpoint()},
          {"S3_BUCKET", bucket()},
          {"S3_PREFIX", prefix},
          {"S3_ACCESS_KEY_ID", access_key()},
          {"S3_SECRET_ACCESS_KEY", secret_key()}};
}

curl_result s3_engine::signed_curl(const std::string& key, std::vector<std::string> args) const {
  const auto config = dir_.path() / "curl-credentials";
  write_file(config, "user = \"" + access_key() + ":" + secret_key() + "\"\n");
  // curl 7.88 signs but does not send x-amz-content-sha256, which both engines require.
  args.insert(args.begin(), {"-K", config.string(), "--aws-sigv4", "aws:amz:us-east-1:s3", "-H",
                             "x-amz-content-sha256: UNSIGNED-PAYLOAD"});
  if (tls_) args.insert(args.begin(), {"--cacert", (*tls_ / "ca.crt").string()});
  args.push_back(endpoint() + "/" + bucket() + (key.empty() ? "" : "/" + key));
  return curl(std::move(args));
}

}  // namespace pgship::test
