// The agent, unchanged, against a receiver that stores on S3 (Swift's s3api through the
// project's fixture): a backup streams up while pg_dump writes (tus with a deferred length,
// parts shipped to the bucket as they arrive), lands in the bucket with the agent's sha256,
// and restores to the same rows.

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "agent_fixture.hpp"
#include "s3_engine.hpp"

namespace pgship::test {
namespace {

class AgentS3 : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("agent_s3_src");
    pg.load_sample_data("agent_s3_src", 60000);
  }
};

TEST_F(AgentS3, BackupLandsInTheBucketAndRestoresTheSameRows) {
  auto& engine = s3_engine::shared("swift");
  start(engine.receiver_env("agent/"));
  const auto config = write_config(agent_config("agent_s3_src"));
  const auto backup = run_agent({"backup", "--config", config.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u);
  const auto local_sha = sha256_hex(backup_dir() / local[0]);
  // Read straight from the bucket by an independent client.
  const auto stored = engine.signed_curl("agent/default/agent_s3_src/" + local[0]);
  ASSERT_EQ(stored.status, 200) << stored.body.substr(0, 300);
  EXPECT_EQ(to_hex(sha256_of(stored.body)), local_sha);
  EXPECT_TRUE(stored_dumps("agent_s3_src").empty()) << "nothing committed to STORAGE_DIR";

  const auto restore = run_agent({"restore", "--config", config.string(), "--latest", "--database",
                                  "agent_s3_src", "--target-db", "agent_s3_copy", "--create"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_EQ(table_fingerprint("agent_s3_copy"), table_fingerprint("agent_s3_src"));
  pg().drop_database("agent_s3_copy");
}

}  // namespace
}  // namespace pgship::test
