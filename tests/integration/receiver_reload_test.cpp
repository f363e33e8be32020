// SIGHUP on a real receiver: tokens and TLS files are read again while requests in flight carry
// on; a file that does not load is logged and the old settings stay; the process never dies.
// A certificate renewal the way Let's Encrypt's clients do it (new files in place, then a
// reload) switches new connections to the new certificate.

#include <csignal>
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "curl.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

class ReceiverReload : public receiver_fixture {
 protected:
  ReceiverReload() : receiver_fixture("all-scopes-token") {}

  // SIGHUP, then waits for the receiver to log how the reload went (the n-th time).
  void hangup(const std::string& expect, int nth = 1) {
    ASSERT_EQ(::kill(receiver_->pid(), SIGHUP), 0);
    const bool seen = wait_until(
        [&] {
          const auto log = receiver_->log();
          int found = 0;
          for (auto at = log.find(expect); at != std::string::npos; at = log.find(expect, at + 1))
            ++found;
          return found >= nth;
        },
        5s);
    ASSERT_TRUE(seen) << receiver_->log();
    ASSERT_TRUE(receiver_->running());
  }
  int list_with(const std::string& token, const std::string& base = "") {
    return curl({"-H", "Authorization: Bearer " + token,
                 (base.empty() ? receiver_->url("") : base) + "/api/backup/list"})
        .status;
  }
};

TEST_F(ReceiverReload, NewTokensApplyBadOnesAreRefusedAndAnUploadInFlightCarriesOn) {
  const auto tokens = dir_ / "tokens";
  write_file(tokens, "alpha:upload,read:alpha-token\n");
  start({{"API_TOKENS_FILE", tokens.string()}, {"RATE_LIMIT", "off"}});
  EXPECT_EQ(list_with("alpha-token"), 200);
  EXPECT_EQ(list_with("beta-token"), 401);

  // An upload by alpha, slowed down so that it is still arriving during the reload.
  write_file(dir_ / "body.bin", random_bytes(600 * 1024, 3));
  auto upload = std::async(std::launch::async, [&] {
    return curl({"--limit-rate", "300K", "-H", "Authorization: Bearer alpha-token", "-H",
                 "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                 "@" + (dir_ / "body.bin").string(), receiver_->url("/api/backup/upload")});
  });
  std::this_thread::sleep_for(500ms);
  write_file(tokens, "beta:upload,read:beta-token\n");
  hangup("reloaded on SIGHUP: 2 tokens");  // beta and BACKUP_API_TOKEN's default
  EXPECT_EQ(list_with("beta-token"), 200);
  EXPECT_EQ(list_with("alpha-token"), 401);
  const auto finished = upload.get();
  EXPECT_EQ(finished.status, 201) << "the upload that began before the reload completes: "
                                  << finished.body << finished.error;

  // A file that does not parse: logged, the tokens in force stay.
  write_file(tokens, "gamma:teleport:gamma-token\n");
  hangup("reload on SIGHUP refused, the old settings stay");
  EXPECT_EQ(list_with("beta-token"), 200);
  EXPECT_EQ(list_with("gamma-token"), 401);
  EXPECT_EQ(receiver_->log().find("gamma-token"), std::string::npos) << "no token in the log";
  // And once more for good measure: still alive, still serving.
  hangup("reload on SIGHUP refused", 2);
  EXPECT_EQ(curl({receiver_->url("/health")}).status, 200);
}

TEST_F(ReceiverReload, ARenewedCertificateServesNewConnectionsAndABrokenRenewalIsRefused) {
  stdfs::create_directories(dir_ / "old");
  stdfs::create_directories(dir_ / "new");
  const test_pki old_pki(dir_ / "old");
  const test_pki new_pki(dir_ / "new");
  // Let's Encrypt's layout: live/ holds the current files, renewal replaces them in place.
  const auto live = dir_ / "live";
  stdfs::create_directories(live);
  const auto install = [&](const test_pki& cert_from, const test_pki& key_from) {
    stdfs::copy_file(cert_from.path("server.crt"), live / "fullchain.pem.new");
    stdfs::copy_file(key_from.path("server.key"), live / "privkey.pem.new");
    stdfs::rename(live / "fullchain.pem.new", live / "fullchain.pem");
    stdfs::rename(live / "privkey.pem.new", live / "privkey.pem");
  };
  install(old_pki, old_pki);
  start({{"TLS_CERT_FILE", (live / "fullchain.pem").string()},
         {"TLS_KEY_FILE", (live / "privkey.pem").string()}});
  const std::string https = "https://127.0.0.1:" + std::to_string(receiver_->port());
  const auto health_with = [&](const test_pki& trust) {
    return curl({"--cacert", trust.path("ca.crt"), https + "/health"}).status;
  };
  EXPECT_EQ(health_with(old_pki), 200);
  EXPECT_NE(health_with(new_pki), 200);

  // A half-done renewal (new certificate, old key) does not go live.
  install(new_pki, old_pki);
  hangup("reload on SIGHUP refused, the old settings stay");
  EXPECT_NE(receiver_->log().find("key values mismatch"), std::string::npos);
  EXPECT_EQ(health_with(old_pki), 200);

  // The finished renewal does.
  install(new_pki, new_pki);
  hangup("TLS certificate and key");
  EXPECT_EQ(health_with(new_pki), 200);
  EXPECT_NE(health_with(old_pki), 200);
  EXPECT_EQ(curl({"--cacert", new_pki.path("ca.crt"), "-H", "Authorization: Bearer " + token_,
                  https + "/api/backup/list"})
                .status,
            200);
}

}  // namespace
}  // namespace pgship::test
