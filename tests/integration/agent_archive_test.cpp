// ARCHIVE_DIRS: a directory tree (thousands of files, symlinks, a 100 MB file) goes through
// the same chain as the dumps, to the receiver, and comes back byte for byte with the
// standard tools (zstd, GNU tar, diff as judges).

#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "agent_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;

class AgentArchive : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("archive_db");
    pg.load_sample_data("archive_db", 1000);
  }

  // 3000 small files in 30 directories (one name with spaces), an empty directory, a
  // relative and a dangling symlink, and one 100 MB file of random bytes.
  stdfs::path make_tree() {
    const auto root = dir_ / "tree";
    for (int d = 0; d < 30; ++d) {
      const auto sub = root / ("dir " + std::to_string(d));
      stdfs::create_directories(sub);
      for (int f = 0; f < 100; ++f) {
        write_file(sub / ("file-" + std::to_string(f) + ".conf"),
                   "setting_" + std::to_string(d * 100 + f) + " = " + std::to_string(f * 7) + "\n");
      }
    }
    stdfs::create_directories(root / "empty");
    stdfs::create_symlink("dir 0/file-1.conf", root / "link-to-file");
    stdfs::create_symlink("nowhere/at/all", root / "dangling");
    write_file(root / "big.bin", random_bytes(100 * 1024 * 1024, 99));
    return root;
  }

  std::vector<std::string> stored(const std::string& archive, const std::string& suffix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e :
         stdfs::directory_iterator(receiver_->storage_dir() / "default" / archive, ec)) {
      const auto name = e.path().filename().string();
      if (name.ends_with(suffix)) out.push_back(name);
    }
    return out;
  }
};

TEST_F(AgentArchive, ATreeRoundTripsByteForByteThroughZstd) {
  start();
  const auto tree = make_tree();
  const auto textfile = dir_ / "agent.prom";
  const auto cfg =
      write_config(agent_config("archive_db", {{"ARCHIVE_DIRS", "conf=" + tree.string()},
                                               {"COMPRESSION", "zstd"},
                                               {"METRICS_TEXTFILE", textfile.string()}}));
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok      conf  conf-"), std::string::npos) << r.out;
  const auto names = stored("conf", ".tar.zst");
  ASSERT_EQ(names.size(), 1u);
  const auto file = receiver_->storage_dir() / "default" / "conf" / names[0];
  EXPECT_LT(stdfs::file_size(file), 110u * 1024 * 1024);

  const auto out = dir_ / "out";
  stdfs::create_directories(out);
  const auto unpack = run_process(
      {"sh", "-c", "zstd -dc '" + file.string() + "' | tar -x -C '" + out.string() + "'"});
  ASSERT_TRUE(unpack.ok()) << unpack.describe() << unpack.err;
  const auto diff = run_process({"diff", "-r", "--no-dereference", tree.string(), out.string()});
  EXPECT_TRUE(diff.ok()) << diff.out << diff.err;
  EXPECT_EQ(stdfs::read_symlink(out / "link-to-file"), "dir 0/file-1.conf");
  EXPECT_EQ(stdfs::read_symlink(out / "dangling"), "nowhere/at/all");
  EXPECT_TRUE(stdfs::is_directory(out / "empty"));

  const auto metrics = read_file(textfile);
  EXPECT_NE(metrics.find("pgship_archive_last_size_bytes{archive=\"conf\"} " +
                         std::to_string(stdfs::file_size(file))),
            std::string::npos)
      << metrics;
  // The archive is not a database: no backup metrics, no row counts.
  EXPECT_EQ(metrics.find("database=\"conf\""), std::string::npos) << metrics;
}

TEST_F(AgentArchive, APlainTarIsWhatTarReadsAndOldOnesRotate) {
  start();
  const auto tree = dir_ / "small";
  stdfs::create_directories(tree / "a");
  write_file(tree / "a" / "x.txt", "hello\n");
  const auto cfg = write_config(agent_config(
      "archive_db", {{"ARCHIVE_DIRS", "small=" + tree.string()}, {"KEEP_LOCAL_BACKUPS", "1"}}));
  for (int i = 0; i < 2; ++i) {
    const auto r = run_agent({"backup", "--config", cfg.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  const auto names = stored("small", ".tar");
  ASSERT_EQ(names.size(), 2u);
  const auto list = run_process(
      {"tar", "-tf", (receiver_->storage_dir() / "default" / "small" / names[0]).string()});
  ASSERT_TRUE(list.ok()) << list.err;
  EXPECT_NE(list.out.find("./a/x.txt"), std::string::npos) << list.out;
  int local = 0;
  for (const auto& e : stdfs::directory_iterator(backup_dir()))
    if (e.path().filename().string().ends_with(".tar")) ++local;
  EXPECT_EQ(local, 1) << "KEEP_LOCAL_BACKUPS=1 keeps the newest archive only";
}

TEST_F(AgentArchive, ADirectoryThatIsNotThereStopsStartUp) {
  start();
  const auto r = run_agent(
      {"backup", "--config",
       write_config(agent_config("archive_db", {{"ARCHIVE_DIRS", "conf=/no/such/dir"}}), "bad.env")
           .string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ARCHIVE_DIRS"), std::string::npos) << r.err;
  const auto clash = run_agent(
      {"backup", "--config",
       write_config(
           agent_config("archive_db", {{"ARCHIVE_DIRS", "archive_db=" + dir_.path().string()}}),
           "clash.env")
           .string()});
  EXPECT_EQ(clash.exit_code, 2);
  EXPECT_NE(clash.err.find("also a database"), std::string::npos) << clash.err;
}

}  // namespace
}  // namespace pgship::test
