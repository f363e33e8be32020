// The backup pipeline in-process, for what only a seam between stages can show: bytes that
// change on disk between the dump and its verification must fail the run and leave nothing.

#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "agent_fixture.hpp"
#include "pipeline/backup_run.hpp"

namespace pgship::test {
namespace {

namespace net = boost::asio;

class AgentPipeline : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    pg_cluster::shared().create_database("pipeline_src");
    pg_cluster::shared().load_sample_data("pipeline_src", 5000);
  }

  agent::settings settings_for(const std::string& database) {
    agent::settings s;
    s.postgres_host = pg().host();
    s.postgres_port = pg().port();
    s.databases = {database};
    s.postgres_user = pg().user();
    s.postgres_password = pg().password();
    s.backup_dir = backup_dir();
    s.run_log_dir = backup_dir() / "logs";  // read_settings() default; never the cwd
    s.upload = receiver_ != nullptr;
    if (receiver_) {
      s.backup_api_url = receiver_->url();
      s.backup_api_token = token_;
    }
    s.retry_delay = std::chrono::milliseconds(100);
    s.globals = false;  // these tests are about one database's pipeline (agent_globals_test)
    return s;
  }

  // The receiver's unfinished uploads: .incoming/<uid>.tus and .data (a finished one keeps
  // only a .tus marked completed).
  std::vector<std::string> open_uploads() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(receiver_->storage_dir() / ".incoming", ec)) {
      const auto name = e.path().filename().string();
      if (name.ends_with(".data")) out.push_back(name);
      if (name.ends_with(".tus") &&
          read_file(e.path()).find("\"completed\":true") == std::string::npos) {
        out.push_back(name);
      }
    }
    return out;
  }

  agent::run_record run(const agent::settings& s, const agent::run_request& request) {
    net::io_context io;
    agent::run_control control;
    agent::run_record record;
    std::exception_ptr failure;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> { record = co_await agent::run_backup(s, request, control); },
        [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return record;
  }
};

TEST_F(AgentPipeline, BytesChangedOnDiskAfterTheyWereHashedNeverBecomeAStoredBackup) {
  // The file is hashed as it is written and not read again; what changes on disk afterwards
  // reaches the receiver, whose check against the hash taken while writing refuses it.
  start();
  agent::run_request request;
  int corrupted = 0;
  request.hooks.after_dump = [&](const std::filesystem::path& partial) {
    std::fstream f(partial, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(std::filesystem::file_size(partial) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(partial) / 2));
    c = static_cast<char>(c ^ 0x01);
    f.write(&c, 1);
    ++corrupted;
  };
  // One chunk bigger than the dump: nothing is sent before the corruption.
  auto s = settings_for("pipeline_src");
  s.max_retries = 0;
  const auto record = run(s, request);
  EXPECT_EQ(corrupted, 1);
  ASSERT_TRUE(record.error.failed());
  EXPECT_EQ(record.error.code, make_error_code(errc::hash_mismatch)) << record.error.message;
  EXPECT_TRUE(stored_dumps("pipeline_src").empty());
  EXPECT_TRUE(open_uploads().empty());
  // The local copy stays (it never reached the receiver), and its sidecar gives it away.
  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u);
  const auto check = run_process(
      {"sh", "-c", "cd '" + backup_dir().string() + "' && sha256sum -c '" + local[0] + ".sha256'"});
  EXPECT_FALSE(check.ok()) << check.out;
}

TEST_F(AgentPipeline, AFailedDumpOrVerifyEndsTheUploadThatRanDuringIt) {
  start();
  // pg_restore that rejects every archive: the listing during the dump fails, so does the run.
  const auto tools = dir_ / "rejecting-tools";
  std::filesystem::create_directories(tools);
  std::error_code ec;
  std::filesystem::create_symlink(pg().bin_dir() / "pg_dump", tools / "pg_dump", ec);
  const auto real = (pg().bin_dir() / "pg_restore").string();
  write_file(tools / "pg_restore", "#!/bin/sh\ncase \"$1\" in --version) exec '" + real +
                                       "' --version;; esac\ncat > /dev/null\n"
                                       "echo 'pg_restore: error: not an archive' >&2; exit 1\n");
  std::filesystem::permissions(tools / "pg_restore", std::filesystem::perms::owner_all);
  auto s = settings_for("pipeline_src");
  s.upload_chunk_size = 64 * 1024;
  s.pg_dump_path = tools / "pg_dump";
  const auto record = run(s, {});
  ASSERT_TRUE(record.error.failed());
  EXPECT_EQ(record.error.code, make_error_code(errc::restore_list_failed)) << record.error.message;
  EXPECT_NE(record.error.message.find("not an archive"), std::string::npos) << record.error.message;
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_TRUE(partial_files().empty());
  EXPECT_TRUE(stored_dumps("pipeline_src").empty());
  EXPECT_TRUE(open_uploads().empty()) << "the upload that ran during the dump is still open";
}

TEST_F(AgentPipeline, TheUploadRunsDuringTheDumpAndCommitsOnlyAfterVerify) {
  start();
  auto s = settings_for("pipeline_src");
  s.upload_chunk_size = 64 * 1024;
  agent::run_request request;
  std::uint64_t held_during_dump = 0;
  std::size_t stored_before_verify = 99;
  request.hooks.after_dump = [&](const std::filesystem::path&) {
    for (const auto& f : open_uploads()) {
      if (f.ends_with(".data")) {
        held_during_dump += std::filesystem::file_size(receiver_->storage_dir() / ".incoming" / f);
      }
    }
    stored_before_verify = stored_dumps("pipeline_src").size();
  };
  const auto record = run(s, request);
  ASSERT_FALSE(record.error.failed()) << record.error.message;
  const auto& d = record.databases.at(0);
  EXPECT_GE(held_during_dump, 64u * 1024) << "nothing reached the receiver while pg_dump ran";
  EXPECT_LT(held_during_dump, d.size) << "the last piece waits for verify";
  EXPECT_EQ(stored_before_verify, 0u) << "committed before verify";
  EXPECT_EQ(stored_dumps("pipeline_src"), local_dumps());
  EXPECT_EQ(d.upload.bytes_sent, d.size) << "nothing sent twice";
  EXPECT_TRUE(d.uploaded);
  for (const auto& f : open_uploads())
    EXPECT_FALSE(f.ends_with(".data")) << f;
}

TEST_F(AgentPipeline, APgDumpKilledMidStreamCommitsNothingAndLeavesNoUploadOpen) {
  start();
  // pg_dump's output, cut after 300 kB by a kill, as an OOM killer or an operator would.
  const auto tools = dir_ / "killed-tools";
  std::filesystem::create_directories(tools);
  const auto real = (pg().bin_dir() / "pg_dump").string();
  write_file(tools / "pg_dump", "#!/bin/bash\ncase \"$1\" in --version) exec '" + real +
                                    "' --version;; esac\n'" + real +
                                    "' \"$@\" | head -c 300000\nkill -9 $$\n");
  std::filesystem::permissions(tools / "pg_dump", std::filesystem::perms::owner_all);
  std::error_code ec;
  std::filesystem::create_symlink(pg().bin_dir() / "pg_restore", tools / "pg_restore", ec);
  auto s = settings_for("pipeline_src");
  s.upload_chunk_size = 64 * 1024;
  s.pg_dump_path = tools / "pg_dump";
  const auto record = run(s, {});
  ASSERT_TRUE(record.error.failed());
  EXPECT_EQ(record.error.code, make_error_code(errc::dump_failed)) << record.error.message;
  EXPECT_TRUE(stored_dumps("pipeline_src").empty());
  EXPECT_TRUE(open_uploads().empty()) << "a tus upload was left open";
  EXPECT_TRUE(partial_files().empty());
}

TEST_F(AgentPipeline, TheRunRecordHasEveryStageWithBytesAndTheBackupIsShipped) {
  start();
  const auto record = run(settings_for("pipeline_src"), {});
  ASSERT_FALSE(record.error.failed()) << record.error.message;
  ASSERT_EQ(record.databases.size(), 1u);
  const auto& d = record.databases[0];
  std::vector<std::string> stages;
  for (const auto& s : d.stages)
    stages.push_back(s.name);
  EXPECT_EQ(stages, (std::vector<std::string>{"preflight", "dump", "verify", "upload", "rotate"}));
  EXPECT_EQ(d.stages[1].bytes, d.size);
  EXPECT_EQ(d.stages[2].bytes, 0u)
      << "verify read the file again: the tee lists it while it is written";
  EXPECT_EQ(d.stages[3].bytes, d.size) << "one upload, nothing re-sent";
  EXPECT_TRUE(d.uploaded);
  EXPECT_GT(d.database_size, d.size);
  EXPECT_EQ(stored_dumps("pipeline_src"), local_dumps());
  const auto json = agent::to_json(record);
  EXPECT_NE(json.find("\"result\":\"ok\""), std::string::npos) << json;
  EXPECT_NE(json.find(record.run_id), std::string::npos);
}

TEST_F(AgentPipeline, AStopRequestDuringTheDumpCancelsTheRunAndRemovesThePartialFile) {
  // Big enough that pg_dump runs for a second or more: the stop lands mid-dump.
  pg().create_database("pipeline_big");
  pg().load_sample_data("pipeline_big", 200000);
  agent::run_request request;
  agent::run_control control;
  const auto s = settings_for("pipeline_big");

  net::io_context io;
  agent::run_record record;
  bool finished = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> { record = co_await agent::run_backup(s, request, control); },
      [&finished](std::exception_ptr e) {
        finished = true;
        if (e) std::rethrow_exception(e);
      });
  net::steady_timer poll(io);
  std::function<void(boost::system::error_code)> check = [&](boost::system::error_code) {
    if (finished) return;  // the run ended before the dump was seen: the checks below fail
    // Stop once pg_dump has written the archive's first bytes: the dump is under way.
    std::uint64_t written = 0;
    for (const auto& f : partial_files()) {
      std::error_code ec;
      if (!f.ends_with(".dump")) continue;
      const auto size = std::filesystem::file_size(backup_dir() / ".partial" / f, ec);
      if (!ec) written = size;
    }
    if (written > 0) {
      control.request_stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(5));
    poll.async_wait(check);
  };
  poll.expires_after(std::chrono::milliseconds(5));
  poll.async_wait(check);
  const auto started = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_EQ(record.error.code, make_error_code(errc::cancelled)) << record.error.message;
  EXPECT_TRUE(partial_files().empty());
  EXPECT_TRUE(local_dumps().empty());
  pg().drop_database("pipeline_big");
}

}  // namespace
}  // namespace pgship::test
