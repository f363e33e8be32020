#include "repository/manifest_builder.hpp"

#include <gtest/gtest.h>

namespace pgship::agent {
namespace {

using sys_clock = std::chrono::system_clock;

// 2026-11-21 03:00:00 UTC
const sys_clock::time_point at = sys_clock::time_point(std::chrono::seconds(1795230000));

manifest_start sales_start() {
  manifest_start start;
  start.name = "sales-20261121-030000.dump";
  start.database = "sales";
  start.run_id = "20261121T030000Z-abcdef";
  start.agent_host = "db1";
  start.started = at;
  return start;
}

TEST(ManifestBuilder, TheUploadWaitsForTheReceiverOnlyWithUploadOn) {
  auto start = sales_start();
  start.receiver = "https://backup.example/";
  const auto on = new_manifest(start);
  EXPECT_EQ(on.name, "sales-20261121-030000.dump");
  EXPECT_EQ(on.database, "sales");
  EXPECT_EQ(on.agent_host, "db1");
  EXPECT_EQ(on.started, "2026-11-21T03:00:00Z");
  EXPECT_EQ(on.upload.state, upload_state::pending);
  EXPECT_EQ(on.upload.receiver, "https://backup.example/");

  const auto off = new_manifest(sales_start());
  EXPECT_EQ(off.upload.state, upload_state::skipped);
  EXPECT_TRUE(off.upload.receiver.empty());
}

TEST(ManifestBuilder, StoredBytesGiveSizeDigestsRecipientsAndTheFinishTime) {
  auto m = new_manifest(sales_start());
  stored_bytes plain;
  plain.size = 10;
  plain.sha256 = std::string(64, 'a');
  record_stored(m, plain, at + std::chrono::minutes(1));
  EXPECT_EQ(m.size, 10u);
  EXPECT_EQ(m.sha256, std::string(64, 'a'));
  EXPECT_TRUE(m.plaintext_sha256.empty());
  EXPECT_EQ(m.finished, "2026-11-21T03:01:00Z");

  stored_bytes sealed = plain;
  sealed.plaintext_sha256 = std::string(64, 'b');
  sealed.plaintext_size = 40;
  sealed.recipients = {"age1example"};
  record_stored(m, sealed, at);
  EXPECT_EQ(m.plaintext_sha256, std::string(64, 'b'));
  EXPECT_EQ(m.plaintext_size, 40u);
  EXPECT_EQ(m.encryption_recipients, std::vector<std::string>{"age1example"});
}

}  // namespace
}  // namespace pgship::agent
