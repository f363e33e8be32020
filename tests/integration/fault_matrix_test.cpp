// The fault matrix (ctest label `faults`): real processes hurt on purpose, then held to the
// commit rule. The receiver is killed with kill -9 at random points of 60 raw and tus uploads
// on one STORAGE_DIR and restarted; connections are cut at random byte counts; a disk fills
// up; the agent is killed mid-upload and a new run resumes; the database drops pg_dump's
// connection mid-dump. Afterwards every listed backup downloads with its listed sha256, every
// acknowledged upload is there with the bytes that were sent, and no debris is left. The totals
// are printed as one closing line.

#include <csignal>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "agent_fixture.hpp"
#include "curl.hpp"
#include "fault_proxy.hpp"
#include "http_client.hpp"
#include "small_tmpfs.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace stdfs = std::filesystem;
using verb = boost::beast::http::verb;

struct totals {
  int uploads = 0, raw = 0, tus = 0, kills = 0, cuts = 0, acknowledged = 0, listed = 0, lost = 0,
      corrupt = 0, debris = 0;
};
totals grand;

class FaultMatrix : public agent_fixture {
 protected:
  static void TearDownTestSuite() {
    std::cout << "fault matrix: " << grand.uploads << " uploads (" << grand.raw << " raw, "
              << grand.tus << " tus), " << grand.kills << " kill -9, " << grand.cuts
              << " cut connections; " << grand.acknowledged << " acknowledged, " << grand.listed
              << " listed, " << grand.lost << " lost, " << grand.corrupt << " corrupt, "
              << grand.debris << " debris\n";
  }

  std::string bearer() const { return "Authorization: Bearer " + token_; }

  static void add_to_grand(const totals& t) {
    grand.uploads += t.uploads;
    grand.raw += t.raw;
    grand.tus += t.tus;
    grand.kills += t.kills;
    grand.cuts += t.cuts;
    grand.acknowledged += t.acknowledged;
    grand.listed += t.listed;
    grand.lost += t.lost;
    grand.corrupt += t.corrupt;
    grand.debris += t.debris;
  }

  // A resumable upload of `size` bytes for `name`; its Location.
  std::string create_tus(const std::string& name, std::size_t size, const std::string& sha) {
    const auto created = http_send(
        receiver_->port(), {.method = verb::post,
                            .target = "/api/backup/uploads",
                            .headers = {{"Authorization", "Bearer " + token_},
                                        {"Tus-Resumable", "1.0.0"},
                                        {"Upload-Length", std::to_string(size)},
                                        {"Upload-Metadata", "filename " + base64_encode(name) +
                                                                ",sha256 " + base64_encode(sha)}}});
    EXPECT_EQ(created.result_int(), 201) << created.body();
    return std::string(created["Location"]);
  }

  // What the receiver lists: id -> sha256.
  std::map<std::string, std::string> listed() {
    const auto r = curl({"-H", bearer(), receiver_->url("/api/backup/list")});
    std::map<std::string, std::string> out;
    if (r.status != 200) return out;
    const auto parsed = json::parse(r.body);
    for (const auto& v : parsed.as_array()) {
      const auto& o = v.as_object();
      out[std::string(o.at("id").as_string())] = std::string(o.at("sha256").as_string());
    }
    return out;
  }

  // Every listed backup downloads whole with its listed sha256, and what was acknowledged is
  // listed with the bytes that were sent. Then the leftovers of STORAGE_DIR are counted.
  void check_storage(const std::map<std::string, std::string>& sent,
                     const std::set<std::string>& acknowledged, totals& t) {
    const auto list = listed();
    t.listed += static_cast<int>(list.size());
    for (const auto& [id, sha] : list) {
      const auto file = dir_ / "download.bin";
      stdfs::remove(file);
      const auto r =
          curl({"-H", bearer(), "-o", file.string(), receiver_->url("/api/backup/download/" + id)});
      const auto got = r.status == 200 ? to_hex(sha256_of(read_file(file)))
                                       : "status " + std::to_string(r.status);
      if (got != sha || (sent.count(id) != 0 && sent.at(id) != sha)) {
        ++t.corrupt;
        ADD_FAILURE() << id << ": listed " << sha << ", downloaded " << got;
      }
    }
    for (const auto& id : acknowledged) {
      if (list.count(id) == 0) {
        ++t.lost;
        ADD_FAILURE() << id << " was acknowledged and is not listed";
      }
    }
  }

  // Files a restarted receiver must not leave: partial uploads, temp files, sidecars without
  // their backup. (`open` names the .incoming files of tus uploads still resumable.)
  int debris(const std::set<std::string>& open = {}) {
    int n = 0;
    const auto root = receiver_->storage_dir();
    for (const auto& e : stdfs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      const auto rel = stdfs::relative(e.path(), root).string();
      const auto name = e.path().filename().string();
      if (rel.starts_with(".incoming/")) {
        bool known = false;
        for (const auto& uid : open)
          known = known || name.starts_with(uid);
        // A finished tus upload's state stays until UPLOAD_EXPIRY, so HEAD can answer it.
        if (name.ends_with(".tus")) {
          boost::system::error_code ec;
          const auto state = json::parse(read_file(e.path()), ec);
          const auto stem = name.substr(0, name.size() - 4);
          known = known || (!ec && state.is_object() && state.as_object().contains("completed") &&
                            !stdfs::exists(e.path().parent_path() / (stem + ".data")));
        }
        if (!known) {
          ++n;
          ADD_FAILURE() << "debris: " << rel;
        }
        continue;
      }
      if (name.ends_with(".tmp") || name.ends_with(".part")) {
        ++n;
        ADD_FAILURE() << "debris: " << rel;
      } else if (name.ends_with(".sha256") &&
                 !stdfs::exists(e.path().parent_path() / name.substr(0, name.size() - 7))) {
        ++n;
        ADD_FAILURE() << "orphan sidecar: " << rel;
      }
    }
    return n;
  }
};

TEST_F(FaultMatrix, KillNineAtRandomPointsOfSixtyUploadsLosesNothingCommitted) {
  start({{"RATE_LIMIT", "off"}, {"AUTH_FAILURE_LIMIT", "off"}});
  std::mt19937 rng(20261201);
  totals t;
  std::map<std::string, std::string> sent;  // name -> sha256 of the bytes sent
  std::set<std::string> acknowledged;
  std::set<std::string> open_uploads;  // tus state is kept until UPLOAD_EXPIRY, for HEAD
  for (int i = 0; i < 60; ++i) {
    const bool tus = i % 2 == 1;
    const auto size = std::uniform_int_distribution<std::size_t>(64 * 1024, 1536 * 1024)(rng);
    const auto content = random_bytes(size, static_cast<std::uint32_t>(1000 + i));
    const auto sha = to_hex(sha256_of(content));
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "db-20260101-%06d.dump", 100000 + i);
    const std::string name = stamp;
    sent[name] = sha;
    const auto file = dir_ / "body.bin";
    write_file(file, content);
    ++t.uploads;
    (tus ? t.tus : t.raw)++;
    // At 8 MB/s the body takes 8-190 ms; the kill lands before, during or after the commit.
    const auto kill_at = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 220)(rng));
    std::string location;
    if (tus) {
      location = create_tus(name, size, sha);
      open_uploads.insert(location.substr(location.rfind('/') + 1));
    }
    const auto url = receiver_->url(tus ? location : "/api/backup/upload");
    auto upload = std::async(std::launch::async, [&] {
      if (tus) {
        return curl({"--limit-rate", "8M", "-X", "PATCH", "-H", bearer(), "-H",
                     "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0", "-H",
                     "Content-Type: application/offset+octet-stream", "--data-binary",
                     "@" + file.string(), url});
      }
      return curl({"--limit-rate", "8M", "-H", bearer(), "-H", "X-Backup-Name: " + name, "-H",
                   "X-Content-SHA256: " + sha, "--data-binary", "@" + file.string(), url});
    });
    std::this_thread::sleep_for(kill_at);
    receiver_->stop(SIGKILL);
    ++t.kills;
    const auto answer = upload.get();
    if (answer.status / 100 == 2) acknowledged.insert(name);
    receiver_->restart();
    if (tus && acknowledged.count(name) == 0) {
      // Resume where the receiver says it stands.
      const auto head = http_send(
          receiver_->port(),
          {.method = verb::head,
           .target = location,
           .headers = {{"Authorization", "Bearer " + token_}, {"Tus-Resumable", "1.0.0"}}});
      if (head.result_int() == 200) {
        const auto offset = std::stoull(std::string(head["Upload-Offset"]));
        const auto rest = http_send(
            receiver_->port(), {.method = verb::patch,
                                .target = location,
                                .headers = {{"Authorization", "Bearer " + token_},
                                            {"Tus-Resumable", "1.0.0"},
                                            {"Upload-Offset", std::to_string(offset)},
                                            {"Content-Type", "application/offset+octet-stream"}},
                                .body = content.substr(offset)});
        EXPECT_EQ(rest.result_int(), 204) << name << " at " << offset << ": " << rest.body();
        if (rest.result_int() == 204) acknowledged.insert(name);
      }
    }
  }
  t.acknowledged = static_cast<int>(acknowledged.size());
  receiver_->stop(SIGTERM);
  receiver_->restart();
  check_storage(sent, acknowledged, t);
  EXPECT_EQ(t.lost, 0);
  // A backup committed just before its answer was lost is listed without an acknowledgement;
  // check_storage has made sure it holds exactly what was sent.
  EXPECT_GE(static_cast<int>(listed().size()), t.acknowledged);
  t.debris = debris(open_uploads);
  EXPECT_GE(t.kills, 60);
  add_to_grand(t);
}

TEST_F(FaultMatrix, ConnectionsCutAtRandomByteCountsCommitNothingHalfWay) {
  start({{"RATE_LIMIT", "off"}});
  fault_proxy proxy(receiver_->port());
  std::mt19937 rng(7);
  totals t;
  std::map<std::string, std::string> sent;
  std::set<std::string> acknowledged;
  std::set<std::string> open_uploads;
  for (int i = 0; i < 20; ++i) {
    const bool tus = i % 2 == 1;
    const std::size_t size = 512 * 1024;
    const auto content = random_bytes(size, static_cast<std::uint32_t>(5000 + i));
    const auto sha = to_hex(sha256_of(content));
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "db-20260102-%06d.dump", 100000 + i);
    const std::string name = stamp;
    sent[name] = sha;
    ++t.uploads;
    (tus ? t.tus : t.raw)++;
    // Anywhere in the request: inside the header, in the body, right before its last byte.
    proxy.cut_after(std::uniform_int_distribution<std::uint64_t>(1, size + 300)(rng), 1);
    http_request req{.method = verb::post,
                     .target = "/api/backup/upload",
                     .headers = {{"Authorization", "Bearer " + token_},
                                 {"X-Backup-Name", name},
                                 {"X-Content-SHA256", sha}},
                     .body = content};
    if (tus) {
      req.method = verb::patch;
      req.target = create_tus(name, size, sha);
      open_uploads.insert(req.target.substr(req.target.rfind('/') + 1));
      req.headers = {{"Authorization", "Bearer " + token_},
                     {"Tus-Resumable", "1.0.0"},
                     {"Upload-Offset", "0"},
                     {"Content-Type", "application/offset+octet-stream"}};
    }
    try {
      const auto r = http_send(proxy.port(), req);
      if (r.result_int() / 100 == 2) acknowledged.insert(name);
    } catch (const std::exception&) {
      // The cut: no answer.
    }
    if (tus && acknowledged.count(name) == 0) {
      // The client resumes from the offset the receiver reports. Until the receiver has seen
      // the cut, the old PATCH still holds the upload (423) and may still be moving the
      // offset (409): tus clients ask again, and so does this one.
      http_response rest;
      for (int tries = 0; tries < 50; ++tries) {
        const auto head = http_send(
            receiver_->port(),
            {.method = verb::head,
             .target = req.target,
             .headers = {{"Authorization", "Bearer " + token_}, {"Tus-Resumable", "1.0.0"}}});
        ASSERT_EQ(head.result_int(), 200);
        const auto offset = std::stoull(std::string(head["Upload-Offset"]));
        req.headers["Upload-Offset"] = std::to_string(offset);
        req.body = content.substr(offset);
        rest = http_send(receiver_->port(), req);
        if (rest.result_int() != 423 && rest.result_int() != 409) break;
        std::this_thread::sleep_for(100ms);
      }
      EXPECT_EQ(rest.result_int(), 204) << rest.body();
      if (rest.result_int() == 204) acknowledged.insert(name);
    }
  }
  t.cuts = proxy.connections_cut();
  EXPECT_GE(t.cuts, 15);
  t.acknowledged = static_cast<int>(acknowledged.size());
  receiver_->stop(SIGTERM);
  receiver_->restart();
  check_storage(sent, acknowledged, t);
  t.debris = debris(open_uploads);
  add_to_grand(t);
}

TEST_F(FaultMatrix, AFullDiskAndAKillLeaveOnlyWholeBackups) {
  small_tmpfs disk(dir_ / "small", "16m");
  if (!disk.mounted()) GTEST_SKIP() << "no tmpfs (needs mount privileges)";
  start({{"STORAGE_DIR", (disk.path() / "storage").string()},
         {"MIN_FREE_BYTES", "1M"},
         {"RATE_LIMIT", "off"}});
  totals t;
  std::map<std::string, std::string> sent;
  std::set<std::string> acknowledged;
  int full = 0;
  for (int i = 0; i < 8; ++i) {
    const auto content = random_bytes(3 * 1024 * 1024, static_cast<std::uint32_t>(9000 + i));
    const auto sha = to_hex(sha256_of(content));
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "db-20260103-%06d.dump", 100000 + i);
    sent[stamp] = sha;
    ++t.uploads;
    ++t.raw;
    const auto r = http_send(receiver_->port(), {.method = verb::post,
                                                 .target = "/api/backup/upload",
                                                 .headers = {{"Authorization", "Bearer " + token_},
                                                             {"X-Backup-Name", stamp},
                                                             {"X-Content-SHA256", sha}},
                                                 .body = content});
    if (r.result_int() / 100 == 2) acknowledged.insert(stamp);
    if (r.result_int() == 507) ++full;
  }
  EXPECT_GE(full, 2) << "the disk filled up";
  // A kill -9 in the middle of one more upload to the full disk, then a restart.
  const auto file = dir_ / "more.bin";
  write_file(file, random_bytes(2 * 1024 * 1024, 77));
  auto more = std::async(std::launch::async, [&] {
    return curl({"--limit-rate", "4M", "-H", bearer(), "-H",
                 "X-Backup-Name: db-20260103-200000.dump", "--data-binary", "@" + file.string(),
                 receiver_->url("/api/backup/upload")});
  });
  std::this_thread::sleep_for(150ms);
  receiver_->stop(SIGKILL);
  ++t.kills;
  (void)more.get();
  receiver_->restart();
  t.acknowledged = static_cast<int>(acknowledged.size());
  check_storage(sent, acknowledged, t);
  t.debris = debris();
  // Room again: a legitimate upload succeeds.
  const auto some = listed();
  ASSERT_FALSE(some.empty());
  EXPECT_EQ(
      curl({"-X", "DELETE", "-H", bearer(), receiver_->url("/api/backup/" + some.begin()->first)})
          .status,
      204);
  const auto small = curl({"-H", bearer(), "-H", "X-Backup-Name: db-20260103-230000.dump", "-H",
                           "Content-Type: application/octet-stream", "--data-binary", "small",
                           receiver_->url("/api/backup/upload")});
  EXPECT_EQ(small.status, 201) << small.body;
  add_to_grand(t);
}

TEST_F(FaultMatrix, AnAgentKilledMidUploadResumesInTheNextRun) {
  auto& pg = pg_cluster::shared();
  pg.create_database("faults_src");
  pg.load_sample_data("faults_src", 60000);
  start({{"RATE_LIMIT", "off"}});
  totals t;
  // The dump outruns a 200 KB/s link: it is committed locally while the upload still runs, and
  // then the agent is killed (kill -9, by timeout(1)).
  const auto cfg = write_config(
      agent_config("faults_src", {{"UPLOAD_RATE_LIMIT", "200K"}, {"UPLOAD_CHUNK_SIZE", "256K"}}));
  const auto killed = run_process(
      {"timeout", "-s", "KILL", "4", PGSHIP_AGENT_BIN, "backup", "--config", cfg.string()});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL) << killed.describe();
  ++t.kills;
  ++t.uploads;
  ++t.tus;
  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u) << "the dump was committed before the kill";
  EXPECT_TRUE(stored_dumps("faults_src").empty()) << "killed before the upload finished";
  const auto first = local[0];
  const auto first_sha = read_file(backup_dir() / (first + ".sha256")).substr(0, 64);

  // The next run (a new backup) first ships the earlier one, from where the receiver stands.
  const auto next = run_agent(
      {"backup", "--config", write_config(agent_config("faults_src"), "fast.env").string()});
  EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
  ++t.uploads;
  ++t.tus;
  EXPECT_NE((next.out + next.err).find("resum"), std::string::npos) << next.out << next.err;
  const auto stored = stored_dumps("faults_src");
  EXPECT_EQ(stored.size(), 2u);
  std::map<std::string, std::string> sent{{first, first_sha}};
  std::set<std::string> acknowledged(stored.begin(), stored.end());
  t.acknowledged = static_cast<int>(acknowledged.size());
  check_storage(sent, acknowledged, t);
  EXPECT_TRUE(partial_files().empty());
  add_to_grand(t);
}

TEST_F(FaultMatrix, TheDatabaseDroppingPgDumpMidDumpFailsTheRunAndKeepsTheEarlierBackups) {
  start({{"RATE_LIMIT", "off"}});
  totals t;
  const auto cfg = write_config(agent_config("faults_src", {{"ROW_COUNTS", "off"}}));
  ASSERT_EQ(run_agent({"backup", "--config", cfg.string()}).exit_code, 0);
  const auto before = local_dumps();
  const auto stored_before = stored_dumps("faults_src");
  ++t.uploads;
  ++t.tus;
  // The server ends pg_dump's session while it streams (as a restart or failover would).
  auto dropper = std::async(std::launch::async, [&] {
    return wait_until(
        [&] {
          return pg_cluster::shared().query_value(
                     "postgres",
                     "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                     "application_name = 'pgship-agent' AND datname = 'faults_src' AND "
                     "query LIKE 'COPY%'") != "0";
        },
        30s);
  });
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_TRUE(dropper.get()) << "pg_dump was never seen copying";
  EXPECT_EQ(r.exit_code, 15) << r.out << r.err;  // dump_failed
  EXPECT_NE(r.err.find("pg_dump failed"), std::string::npos) << r.err;
  EXPECT_EQ(local_dumps(), before) << "nothing new, nothing earlier lost";
  EXPECT_TRUE(partial_files().empty()) << "the partial dump is removed";
  EXPECT_EQ(stored_dumps("faults_src"), stored_before);
  std::map<std::string, std::string> sent;
  std::set<std::string> acknowledged(stored_before.begin(), stored_before.end());
  t.acknowledged = static_cast<int>(acknowledged.size());
  check_storage(sent, acknowledged, t);
  // The upload that followed the dump was abandoned: no tus state is left for it.
  t.debris = debris();
  add_to_grand(t);
}

}  // namespace
}  // namespace pgship::test
