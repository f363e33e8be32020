// COMPRESSION=zstd: pg_dump -Z0 compressed in-process by libzstd into `.dump.zst`, shipped,
// and brought back by restore (streamed and --jobs) and by a drill, with data identical to
// the source. The zstd CLI and pg_restore are the judges of what the agent wrote.

#include <fstream>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "agent_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;

class AgentZstd : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("zstd_src");
    pg.load_sample_data("zstd_src", 30000);
  }
};

TEST_F(AgentZstd, AZstdBackupIsAZstdFileOfTheArchiveAndRestoresIdentically) {
  start();
  const auto cfg = write_config(agent_config("zstd_src", {{"COMPRESSION", "zstd"}}));
  const auto backup = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;

  const auto local = files_ending(backup_dir(), ".dump.zst");
  ASSERT_EQ(local.size(), 1u);
  const auto& name = local[0];
  const auto stored_dir = receiver_->storage_dir() / "default" / "zstd_src";
  ASSERT_EQ(files_ending(stored_dir, ".dump.zst"), local);
  const auto stored_sha = sha256_hex(stored_dir / name);
  EXPECT_EQ(sha256_hex(backup_dir() / name), stored_sha);

  // The manifest: the stored bytes' hash, and the archive's own.
  const auto stem = name.substr(0, name.size() - std::string(".dump.zst").size());
  const auto m = json::parse(read_file(backup_dir() / (stem + ".json"))).as_object();
  EXPECT_EQ(m.at("compression"), "zstd");
  EXPECT_EQ(m.at("sha256").as_string(), stored_sha);
  EXPECT_EQ(m.at("upload").as_object().at("status"), "uploaded");

  // The reference zstd tool decodes it into an archive pg_restore reads, and that archive is
  // the one the manifest describes.
  const auto plain = dir_ / "plain.dump";
  const auto unz =
      run_process({"zstd", "-q", "-d", "-o", plain.string(), (backup_dir() / name).string()});
  ASSERT_TRUE(unz.ok()) << unz.describe() << unz.err;
  EXPECT_EQ(sha256_hex(plain), m.at("plaintext_sha256").as_string());
  EXPECT_EQ(stdfs::file_size(plain), m.at("plaintext_size").to_number<std::uint64_t>());
  EXPECT_LT(stdfs::file_size(backup_dir() / name), stdfs::file_size(plain) / 2);
  const auto list =
      run_process({(pg().bin_dir() / "pg_restore").string(), "--list", plain.string()});
  EXPECT_TRUE(list.ok()) << list.err;

  const auto source = table_fingerprint("zstd_src");
  for (const std::string jobs : {"1", "2"}) {
    const auto target = "zstd_copy_" + jobs;
    const auto r = run_agent({"restore", "--config", cfg.string(), "--latest", "--database",
                              "zstd_src", "--target-db", target, "--create", "--jobs", jobs});
    ASSERT_EQ(r.exit_code, 0) << jobs << r.out << r.err;
    EXPECT_EQ(table_fingerprint(target), source) << "--jobs " << jobs;
    pg().drop_database(target);
  }

  const auto drill = run_agent({"drill", "--config", cfg.string()});
  EXPECT_EQ(drill.exit_code, 0) << drill.out << drill.err;
  EXPECT_NE(drill.out.find("as the backup counted (exact)"), std::string::npos) << drill.out;
}

TEST_F(AgentZstd, ACorruptZstdCopyIsAHashMismatchAndCommitsNothing) {
  start();
  const auto cfg = write_config(agent_config("zstd_src", {{"COMPRESSION", "zstd"}}));
  ASSERT_EQ(run_agent({"backup", "--config", cfg.string()}).exit_code, 0);
  const auto stored_dir = receiver_->storage_dir() / "default" / "zstd_src";
  const auto name = files_ending(stored_dir, ".dump.zst").at(0);
  {
    std::fstream f(stored_dir / name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(stdfs::file_size(stored_dir / name) / 3));
    f.put('\x11');
  }
  pg().create_database("zstd_empty");
  const auto r =
      run_agent({"restore", "--config", cfg.string(), "--id", name, "--target-db", "zstd_empty"});
  EXPECT_EQ(r.exit_code, 25) << r.out << r.err;
  // The same through the spool that pg_restore -j reads.
  const auto spooled = run_agent({"restore", "--config", cfg.string(), "--id", name, "--target-db",
                                  "zstd_empty", "--jobs", "2"});
  EXPECT_EQ(spooled.exit_code, 25) << spooled.out << spooled.err;
  EXPECT_TRUE(std::filesystem::is_empty(backup_dir() / ".restore")) << "the spool stayed";
  EXPECT_EQ(pg().query_value("zstd_empty",
                             "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                             "n.oid = c.relnamespace WHERE n.nspname = 'public'"),
            "0");
  pg().drop_database("zstd_empty");
}

TEST_F(AgentZstd, ABadCompressionSettingStopsStartUp) {
  start();
  const auto r = run_agent(
      {"backup", "--config",
       write_config(agent_config("zstd_src", {{"COMPRESSION", "lz4"}}), "bad.env").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("COMPRESSION"), std::string::npos) << r.err;
  const auto level = run_agent(
      {"backup", "--config",
       write_config(agent_config("zstd_src", {{"COMPRESSION", "zstd"}, {"ZSTD_LEVEL", "22"}}),
                    "level.env")
           .string()});
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_NE(level.err.find("ZSTD_LEVEL"), std::string::npos) << level.err;
}

}  // namespace
}  // namespace pgship::test
