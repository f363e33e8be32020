#include "repository/upload_marks.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

manifest failed_once() {
  manifest m;
  m.name = "db-20261121-030000.dump";
  m.sha256 = std::string(64, 'a');
  m.upload.state = upload_state::pending;
  return m;
}

upload_attempt attempt_of(std::uint64_t bytes, std::string resume_at) {
  upload_attempt a;
  a.receiver = "https://backup.example/";
  a.bytes_sent = bytes;
  a.retries = 2;
  a.resumes = 1;
  a.resume_at = std::move(resume_at);
  return a;
}

// Each mark is what the manifest on disk says afterwards, not only the one in memory.
TEST(UploadMarks, AFailureKeepsWhereTheUploadStandsAndShippingClearsIt) {
  test::temp_dir dir;
  auto m = failed_once();
  ASSERT_FALSE(mark_failed(dir.path(), m, "receiver down", nullptr));
  auto stored = read_manifest(manifest_path(dir.path(), m.name));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->upload.state, upload_state::failed);
  EXPECT_EQ(stored->upload.error, "receiver down");
  EXPECT_TRUE(stored->upload.receiver.empty()) << "no attempt: nothing of one recorded";

  const auto cut = attempt_of(100, "/api/backup/uploads/0123");
  ASSERT_FALSE(mark_failed(dir.path(), m, "cut", &cut));
  stored = read_manifest(manifest_path(dir.path(), m.name));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->upload.state, upload_state::failed);
  EXPECT_EQ(stored->upload.receiver, "https://backup.example/");
  EXPECT_EQ(stored->upload.bytes_sent, 100u);
  EXPECT_EQ(stored->upload.resume_at, "/api/backup/uploads/0123");

  // A later run that could not reach the receiver keeps the last attempt's resume point.
  ASSERT_FALSE(mark_failed(dir.path(), m, "refused", nullptr));
  EXPECT_EQ(read_manifest(manifest_path(dir.path(), m.name))->upload.resume_at,
            "/api/backup/uploads/0123");

  ASSERT_FALSE(mark_shipped(dir.path(), m, attempt_of(250, "")));
  stored = read_manifest(manifest_path(dir.path(), m.name));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->upload.state, upload_state::uploaded);
  EXPECT_EQ(stored->upload.bytes_sent, 250u);
  EXPECT_EQ(stored->upload.retries, 2);
  EXPECT_FALSE(stored->upload.finished.empty());
  EXPECT_TRUE(stored->upload.error.empty());
  EXPECT_TRUE(stored->upload.resume_at.empty());
}

TEST(UploadMarks, AManifestThatCannotBeWrittenIsAnError) {
  test::temp_dir dir;
  auto m = failed_once();
  EXPECT_TRUE(mark_shipped(dir / "missing", m, attempt_of(1, "")));
}

}  // namespace
}  // namespace pgship::agent
