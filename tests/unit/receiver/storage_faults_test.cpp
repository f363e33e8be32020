// What the receiver answers when its store fails: the routes, in-process on a memory store
// wrapped in faulty_storage, and retention on the same.

#include <filesystem>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/headers.hpp>
#include <pgship/common/wire/paths.hpp>

#include "api/read_routes.hpp"
#include "fake_exchange.hpp"
#include "ingest/raw/upload_route.hpp"
#include "policy/retention.hpp"
#include "storage/fault/faulty_storage.hpp"
#include "storage/memory/memory_storage.hpp"
#include "temp_dir.hpp"

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;
using test::call_route;
using test::route_answer;

const std::error_code eio = std::make_error_code(std::errc::io_error);

class StorageFaults : public ::testing::Test {
 protected:
  // A receiver whose BACKUP_API_TOKEN (client "default") is "secret", on memory storage.
  void start(std::optional<std::int64_t> keep_days = std::nullopt) {
    settings s;
    s.storage_dir = dir_.path();
    s.backup_api_token = "secret";
    s.max_upload_bytes = 1 << 20;
    s.keep_days = keep_days;
    auto store = std::make_unique<faulty_storage>(std::make_unique<memory_storage>());
    faults_ = store.get();
    ctx_ = std::make_shared<receiver_context>(s, std::move(store));
    add_upload_route(routes_, ctx_);
    add_read_routes(routes_, ctx_);
  }

  http_server::request_header request(http::verb method, std::string_view target) {
    http_server::request_header req;
    req.method(method);
    req.target(target);
    req.set(http::field::authorization, "Bearer secret");
    return req;
  }

  route_answer upload(const std::string& name, const std::string& bytes) {
    auto req = request(http::verb::post, wire::upload_path);
    req.set(wire::backup_name_header, name);
    req.set(wire::content_sha256_header, to_hex(sha256_of(bytes)));
    return call_route(routes_, std::move(req), bytes);
  }

  route_answer get(std::string_view target) {
    return call_route(routes_, request(http::verb::get, target));
  }

  // Stores a backup without a route (nor the retention an upload runs).
  void seed(const std::string& name) {
    const auto p = ctx_->incoming.new_path("seed");
    test::write_file(p, name);
    ASSERT_TRUE(ctx_->store->commit({p, "default", name, sha256_of(name), name.size(), nullptr}));
  }

  std::vector<std::string> spooled() const {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(ctx_->incoming.dir()))
      out.push_back(e.path().filename().string());
    return out;
  }

  test::temp_dir dir_;
  faulty_storage* faults_ = nullptr;
  std::shared_ptr<receiver_context> ctx_;
  http_server::router routes_;
};

TEST_F(StorageFaults, ACommitThatFailsIsAStorageErrorAndLeavesNothing) {
  start();
  faults_->fail(storage_op::commit, eio, 1);
  const auto failed = upload("app-20261201-030000.dump", "the bytes");
  EXPECT_EQ(failed.status, 500u);
  EXPECT_NE(failed.body.find("\"storage_error\""), std::string::npos) << failed.body;
  EXPECT_EQ(faults_->calls(storage_op::commit), 1);
  // Nothing listed, nothing counted, nothing left in the spool.
  const auto listed = get(wire::list_path);
  EXPECT_EQ(listed.status, 200u);
  EXPECT_EQ(listed.body, "[]");
  EXPECT_EQ(ctx_->store->usage()["default"], std::make_pair(std::uint64_t{0}, std::uint64_t{0}));
  EXPECT_TRUE(spooled().empty());
  // The fault was for one call: the retry is stored.
  EXPECT_EQ(upload("app-20261201-030000.dump", "the bytes").status, 201u);
  EXPECT_NE(get(wire::list_path).body.find("app-20261201-030000.dump"), std::string::npos);
  EXPECT_EQ(ctx_->store->usage()["default"], std::make_pair(std::uint64_t{9}, std::uint64_t{1}));
}

TEST_F(StorageFaults, AListThatFailsIsAStorageError) {
  start();
  seed("app-20261201-030000.dump");
  faults_->fail(storage_op::list, eio);
  const auto listed = get(wire::list_path);
  EXPECT_EQ(listed.status, 500u);
  EXPECT_NE(listed.body.find("\"storage_error\""), std::string::npos) << listed.body;
  faults_->heal(storage_op::list);
  EXPECT_EQ(get(wire::list_path).status, 200u);
}

TEST_F(StorageFaults, ADownloadAnswersWhatOpeningTheBackupFound) {
  start();
  seed("app-20261201-030000.dump");
  const std::string target = std::string(wire::download_prefix) + "app-20261201-030000.dump";
  faults_->fail(storage_op::find, eio, 1);
  EXPECT_EQ(get(target).status, 500u) << "cannot look it up";
  faults_->fail(storage_op::open_range, eio, 1);
  EXPECT_EQ(get(target).status, 500u) << "cannot read it";
  faults_->fail(storage_op::open_range, std::make_error_code(std::errc::no_such_file_or_directory),
                1);
  EXPECT_EQ(get(target).status, 404u) << "removed between the lookup and the read";
  const auto whole = get(target);
  EXPECT_EQ(whole.status, 200u);
  EXPECT_EQ(whole.body, "app-20261201-030000.dump");
}

TEST_F(StorageFaults, RetentionRemovesNothingWhenTheListFails) {
  start(1);  // KEEP_DAYS=1: of these, only the newest stays
  for (const auto* name :
       {"app-20200101-030000.dump", "app-20200102-030000.dump", "app-20200103-030000.dump"}) {
    seed(name);
  }
  faults_->fail(storage_op::list, eio);
  apply_retention_now(*ctx_, "default", std::chrono::system_clock::now());
  EXPECT_EQ(faults_->calls(storage_op::remove), 0) << "a failed list may miss the newest backups";
  faults_->heal(storage_op::list);
  EXPECT_EQ(ctx_->store->list("default", "app")->size(), 3u);

  apply_retention_now(*ctx_, "default", std::chrono::system_clock::now());
  const auto kept = ctx_->store->list("default", "app");
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ(kept->front().id, "app-20200103-030000.dump");
  EXPECT_EQ(ctx_->store->usage()["default"].second, 1u);
}

}  // namespace
}  // namespace pgship::receiver
