#include "wal_recovery.hpp"
#include <fstream>
#include <stdexcept>

#include <sys/stat.h>
#include <unistd.h>

#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {

namespace stdfs = std::filesystem;

shared_dir::shared_dir() {
  std::string pattern = "/tmp/pgship-restore-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  ::chmod(path_.c_str(), 0755);
}

shared_dir::~shared_dir() {
  std::error_code ignored;
  stdfs::remove_all(path_, ignored);
}

stdfs::path shared_dir::put(const std::string& name, const std::string& content, mode_t mode) {
  write_file(path_ / name, content);
  ::chmod((path_ / name).c_str(), mode);
  return path_ / name;
}

stdfs::path shared_dir::writable_dir(const std::string& name) {
  stdfs::create_directories(path_ / name);
  ::chmod((path_ / name).c_str(), 01777);
  return path_ / name;
}

stdfs::path take_tar_base_backup(const pg_cluster& server, const stdfs::path& dir) {
  const auto r = run_process(
      {(server.bin_dir() / "pg_basebackup").string(), "-h", server.host(), "-p",
       std::to_string(server.port()), "-U", server.user(), "-D", dir.string(), "-Ft", "-X", "none",
       "-c", "fast", "--no-sync"},
      {.env = {{"PGPASSWORD", server.password()}}, .timeout = std::chrono::seconds(300)});
  if (!r.ok()) throw std::runtime_error("pg_basebackup failed: " + r.describe() + r.out);
  return dir / "base.tar";
}

namespace {

std::string script_command(shared_dir& files, const wal_archive_access& archive) {
  const auto script = stdfs::path(PGSHIP_SOURCE_DIR) / "deploy" / "pgship-restore-wal.sh";
  std::string command = "env PGSHIP_URL=" + archive.receiver_url +
                        " PGSHIP_SYSTEM=" + archive.system_id +
                        " PGSHIP_TOKEN_FILE=" + files.put("token", archive.token).string();
  if (!archive.identity.empty())
    command += " PGSHIP_IDENTITY=" + files.put("wal.key", archive.identity).string();
  return command + " " + script.string() + " %f %p";
}

}  // namespace

wal_recovery::wal_recovery(const stdfs::path& base_tar, const wal_archive_access& archive,
                           const std::string& password) {
  start(base_tar, script_command(restore_dir_, archive), password);
}

wal_recovery::wal_recovery(const stdfs::path& base_tar, const std::string& restore_command,
                           const std::string& password) {
  start(base_tar, restore_command, password);
}

std::unique_ptr<wal_recovery> wal_recovery::of_prepared(const stdfs::path& dir,
                                                        const std::string& password) {
  std::unique_ptr<wal_recovery> out(new wal_recovery());
  out->cluster_ = std::make_unique<pg_cluster>(pg_cluster_options{
      .durable_commits = true,
      .populate =
          [&](const stdfs::path& data) {
            const auto copied = run_process({"cp", "-a", (dir / ".").string(), data.string()},
                                            {.timeout = std::chrono::seconds(300)});
            if (!copied.ok()) throw std::runtime_error("cp: " + copied.out);
          },
      .password = password});
  return out;
}

void wal_recovery::start(const stdfs::path& base_tar, const std::string& restore_command,
                         const std::string& password) {
  cluster_ = std::make_unique<pg_cluster>(pg_cluster_options{
      .durable_commits = true,
      .populate =
          [&](const stdfs::path& data) {
            const auto untar = run_process({"tar", "-xf", base_tar.string(), "-C", data.string()},
                                           {.timeout = std::chrono::seconds(300)});
            if (!untar.ok()) throw std::runtime_error("tar: " + untar.out);
            write_file(data / "recovery.signal", "");
            std::ofstream(data / "postgresql.auto.conf", std::ios::app)
                << "restore_command = '" << restore_command << "'\n";
          },
      .password = password});
}

bool wal_recovery::wait_promoted(std::chrono::milliseconds limit) {
  bool gave_up = false;
  const bool promoted = wait_until(
      [&] {
        // A recovery that failed (a restore_command refused, the startup process died) shuts
        // the server down: no use waiting out the limit.
        if (!stdfs::exists(cluster_->data_dir() / "postmaster.pid")) return gave_up = true;
        try {
          return cluster_->query_value("postgres", "SELECT pg_is_in_recovery()") == "f";
        } catch (const std::exception&) {
          return false;  // between recovery's end and the promoted server accepting connections
        }
      },
      limit);
  return promoted && !gave_up;
}

}  // namespace pgship::test
