// Deferred-length and ambiguous tus requests, tried as an attacker would: raw request bytes on a
// TCP socket to a real pgship-receiver process. Each test checks what was kept on disk as well
// as what was answered.

#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "http_client.hpp"
#include "receiver_fixture.hpp"
#include "small_tmpfs.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string token = "tus-hostile-token-3a7f";
constexpr std::size_t kib = 1024;
constexpr std::size_t mib = 1024 * kib;

class TusHostile : public receiver_fixture {
 protected:
  TusHostile() : receiver_fixture(token) {}

  // Header lines every tus request carries (CRLF each).
  std::string common() const {
    return "Host: x\r\nAuthorization: Bearer " + token + "\r\nTus-Resumable: 1.0.0\r\n";
  }

  // One request on a fresh connection: `head` is the request line and the extra header lines
  // (CRLF each), then Connection: close and the body with its Content-Length.
  std::string send_raw(const std::string& head, std::string_view body = {}) {
    http_connection c(receiver_->port(), 20s);
    c.write_raw(head + common() + "Content-Length: " + std::to_string(body.size()) +
                "\r\nConnection: close\r\n\r\n");
    return c.write_then_read_until_close(body);
  }

  // POST with the given header lines; the upload's path, or "" when not 201 (`reply` says).
  std::string create(const std::string& lines, std::string* reply = nullptr) {
    const auto answer = send_raw("POST /api/backup/uploads HTTP/1.1\r\n" + lines);
    if (reply) *reply = answer;
    if (status_of(answer) != 201) return {};
    return header_of(answer, "Location");
  }

  std::string create_deferred(const std::string& name) {
    std::string reply;
    auto location = create(
        "Upload-Defer-Length: 1\r\nUpload-Metadata: filename " + base64_encode(name) + "\r\n",
        &reply);
    EXPECT_FALSE(location.empty()) << reply;
    return location;
  }

  std::string patch(const std::string& location, std::uint64_t offset, std::string_view body,
                    const std::string& more_lines = {}) {
    return send_raw("PATCH " + location + " HTTP/1.1\r\nUpload-Offset: " + std::to_string(offset) +
                        "\r\nContent-Type: application/offset+octet-stream\r\n" + more_lines,
                    body);
  }

  // HEAD: Upload-Offset, or minus the status when not 200.
  std::int64_t head_offset(const std::string& location, std::string* reply = nullptr) {
    http_connection c(receiver_->port(), 20s);
    c.write_raw("HEAD " + location + " HTTP/1.1\r\n" + common() + "Connection: close\r\n\r\n");
    const auto answer = c.read_until_close();
    if (reply) *reply = answer;
    if (status_of(answer) != 200) return -status_of(answer);
    return std::stoll(header_of(answer, "Upload-Offset"));
  }

  static int status_of(std::string_view reply) {
    if (reply.size() < 12 || !reply.starts_with("HTTP/1.1 ")) return 0;
    return std::stoi(std::string(reply.substr(9, 3)));
  }
  static std::string header_of(std::string_view reply, std::string_view name) {
    const auto at = reply.find("\r\n" + std::string(name) + ": ");
    if (at == std::string_view::npos) return {};
    const auto from = at + name.size() + 4;
    return std::string(reply.substr(from, reply.find("\r\n", from) - from));
  }

  stdfs::path incoming() const { return receiver_->storage_dir() / ".incoming"; }
  stdfs::path data_of(const std::string& location) const {
    return incoming() / (location.substr(location.rfind('/') + 1) + ".data");
  }
  std::size_t uploads_in_progress() const {
    std::size_t n = 0;
    for (const auto& e : stdfs::directory_iterator(incoming()))
      n += e.path().extension() == ".tus";
    return n;
  }
  stdfs::path stored(const std::string& name) const {
    return receiver_->storage_dir() / "default" / name.substr(0, name.find('-')) / name;
  }
};

// F1: six 512 KiB PATCHes used to store 3 MiB against a 1 MiB quota, each answered 204.
TEST_F(TusHostile, DeferredUploadIsHeldToTheQuotaBeforeEachPatchIsWritten) {
  start({{"QUOTA_BYTES", "1M"}});
  const std::string name = "app-20261201-030000.dump";
  const auto content = random_bytes(3 * mib, 31);
  const auto location = create_deferred(name);
  ASSERT_FALSE(location.empty());

  std::uint64_t offset = 0;
  std::string refusal;
  for (int i = 0; i < 6; ++i) {
    const auto chunk = std::string_view(content).substr(offset, 512 * kib);
    // Expect: 100-continue: a refusal comes before the body is asked for.
    http_connection c(receiver_->port(), 20s);
    c.write_raw("PATCH " + location + " HTTP/1.1\r\n" + common() +
                "Upload-Offset: " + std::to_string(offset) +
                "\r\nContent-Type: application/offset+octet-stream\r\nExpect: 100-continue\r\n"
                "Content-Length: " +
                std::to_string(chunk.size()) + "\r\nConnection: close\r\n\r\n");
    const auto first = c.read_until("\r\n\r\n");
    if (status_of(first) != 100) {
      refusal = first + c.read_until_close();
      break;
    }
    const auto answer = c.write_then_read_until_close(chunk);
    ASSERT_EQ(status_of(answer), 204) << answer;
    offset += chunk.size();
  }
  EXPECT_EQ(offset, 1 * mib) << "bytes beyond QUOTA_BYTES were taken";
  EXPECT_EQ(status_of(refusal), 507) << refusal;
  // Without Expect, the same: the JSON error of every 507 (the bytes sent are not taken).
  const auto again = patch(location, offset, std::string_view(content).substr(offset, 512 * kib));
  EXPECT_EQ(status_of(again), 507) << again.substr(0, 300);
  EXPECT_NE(again.find("\"error\":\"quota_exceeded\""), std::string::npos) << again.substr(0, 300);
  EXPECT_EQ(stdfs::file_size(data_of(location)), 1 * mib);
  EXPECT_EQ(head_offset(location), static_cast<std::int64_t>(1 * mib));

  // The upload stays resumable at its offset: ended at the length it has, it is committed.
  const auto kept = std::string_view(content).substr(0, 1 * mib);
  const auto done = patch(location, 1 * mib, "",
                          "Upload-Length: " + std::to_string(1 * mib) +
                              "\r\nX-Content-SHA256: " + to_hex(sha256_of(kept)) + "\r\n");
  EXPECT_EQ(status_of(done), 204) << done;
  EXPECT_EQ(read_file(stored(name)), kept);
}

// A PATCH refused for the quota gives the upload's lock back before its answer: the client's
// next PATCH, sent the moment it reads the 507, gets the quota's answer again, never 423 Locked
// (the agent retried a 423 and so retried a final refusal).
TEST_F(TusHostile, APatchRefusedForTheQuotaIsNotFollowedByLocked) {
  start({{"QUOTA_BYTES", "64K"}, {"RATE_LIMIT", "off"}});
  const auto location = create_deferred("app-20261201-040000.dump");
  ASSERT_FALSE(location.empty());
  const std::string chunk(128 * kib, 'x');
  // The race is one scheduling slice wide: many rounds make the old order fail nearly surely.
  for (int i = 0; i < 200; ++i) {
    http_connection first(receiver_->port(), 20s);
    first.write_raw("PATCH " + location + " HTTP/1.1\r\n" + common() +
                    "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                    "Expect: 100-continue\r\nContent-Length: " +
                    std::to_string(chunk.size()) + "\r\n\r\n");
    // The whole answer, its JSON body included, while the connection stays open.
    const auto refused = first.read_until("}\n");
    ASSERT_EQ(status_of(refused), 507) << refused;
    const auto next = patch(location, 0, chunk);
    ASSERT_EQ(status_of(next), 507) << "round " << i << ": " << next.substr(0, 300);
  }
}

// F1 for a chunked PATCH (no Content-Length): stopped before the byte that crosses the quota.
TEST_F(TusHostile, ChunkedPatchOfADeferredUploadStopsAtTheQuota) {
  start({{"QUOTA_BYTES", "1M"}});
  const auto location = create_deferred("app-20261201-040000.dump");
  ASSERT_FALSE(location.empty());
  http_connection c(receiver_->port(), 20s);
  c.write_raw("PATCH " + location + " HTTP/1.1\r\n" + common() +
              "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  std::string body;
  const auto piece = random_bytes(256 * kib, 32);
  for (int i = 0; i < 8; ++i) {
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    body += size_line + piece + "\r\n";
  }
  body += "0\r\n\r\n";
  const auto answer = c.write_then_read_until_close(body);
  EXPECT_EQ(status_of(answer), 507) << answer.substr(0, 300);
  EXPECT_LE(stdfs::file_size(data_of(location)), 1 * mib) << "bytes beyond QUOTA_BYTES written";
  const auto offset = head_offset(location);
  EXPECT_GE(offset, 0);
  EXPECT_LE(offset, static_cast<std::int64_t>(1 * mib));
}

// F1 for MIN_FREE_BYTES: a deferred upload never takes the disk below the reserve.
TEST_F(TusHostile, DeferredUploadIsHeldToTheFreeSpaceReserve) {
  small_tmpfs disk(dir_.path() / "small", "16m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::uint64_t reserve = 12 * mib;
  start({{"STORAGE_DIR", (disk.path() / "storage").string()}, {"MIN_FREE_BYTES", "12M"}});
  const auto location = create_deferred("app-20261201-050000.dump");
  ASSERT_FALSE(location.empty());
  const auto content = random_bytes(16 * mib, 33);
  std::uint64_t offset = 0;
  std::string answer;
  for (int i = 0; i < 16; ++i) {
    answer = patch(location, offset, std::string_view(content).substr(offset, mib));
    if (status_of(answer) != 204) break;
    offset += mib;
  }
  EXPECT_EQ(status_of(answer), 507) << answer.substr(0, 300);
  EXPECT_NE(answer.find("\"error\":\"insufficient_storage\""), std::string::npos) << answer;
  EXPECT_GE(disk.free_bytes(), reserve) << "a deferred upload took the disk below MIN_FREE_BYTES";
  EXPECT_EQ(head_offset(location), static_cast<std::int64_t>(offset));
  EXPECT_EQ(stdfs::file_size(data_of(location)), offset);
}

// F2: two Upload-Length fields (the first won; a proxy reading the last saw another upload).
TEST_F(TusHostile, DuplicateTusHeadersAre400AndNothingIsCreatedOrKept) {
  start();
  const std::string name = "app-20261201-060000.dump";
  const auto content = random_bytes(2000, 34);
  const std::string meta = "Upload-Metadata: filename " + base64_encode(name) + ",sha256 " +
                           base64_encode(to_hex(sha256_of(content))) + "\r\n";
  std::string reply;
  for (const std::string lines : {"Upload-Length: 2000\r\nUpload-Length: 4000\r\n",
                                  "Upload-Length: 2000\r\nUpload-Length: 2000\r\n",
                                  "Upload-Defer-Length: 1\r\nUpload-Defer-Length: 1\r\n"}) {
    SCOPED_TRACE(lines);
    EXPECT_EQ(create(lines + meta, &reply), "");
    EXPECT_EQ(status_of(reply), 400) << reply;
    EXPECT_EQ(uploads_in_progress(), 0u) << "an upload was created";
  }

  // On PATCH: the deferred upload's length is not set by either of two fields.
  const auto location = create_deferred(name);
  ASSERT_FALSE(location.empty());
  const auto sha = "X-Content-SHA256: " + to_hex(sha256_of(content.substr(0, 10))) + "\r\n";
  auto two_lengths = patch(location, 0, content.substr(0, 10),
                           "Upload-Length: 10\r\nUpload-Length: 2000\r\n" + sha);
  EXPECT_EQ(status_of(two_lengths), 400) << two_lengths;
  EXPECT_FALSE(stdfs::exists(stored(name))) << "the first Upload-Length won";
  auto two_offsets = patch(location, 0, content.substr(0, 10), "Upload-Offset: 5\r\n");
  EXPECT_EQ(status_of(two_offsets), 400) << two_offsets;
  std::string head;
  EXPECT_EQ(head_offset(location, &head), 0) << "bytes of a refused PATCH were kept";
  EXPECT_EQ(header_of(head, "Upload-Defer-Length"), "1") << head;
  EXPECT_EQ(stdfs::file_size(data_of(location)), 0u);
}

// F3: an Upload-Length that differs from the one set was ignored (204); tusd answers 400.
TEST_F(TusHostile, AChangedUploadLengthIs400AndNothingOfThatPatchIsKept) {
  start();
  const std::string name = "app-20261201-070000.dump";
  const auto content = random_bytes(1000, 35);
  const auto sha = to_hex(sha256_of(content));
  const auto fixed = create("Upload-Length: 1000\r\nUpload-Metadata: filename " +
                            base64_encode(name) + ",sha256 " + base64_encode(sha) + "\r\n");
  ASSERT_FALSE(fixed.empty());
  for (const std::string length : {"2000", "999", "abc"}) {
    SCOPED_TRACE(length);
    auto changed = patch(fixed, 0, content.substr(0, 500), "Upload-Length: " + length + "\r\n");
    EXPECT_EQ(status_of(changed), 400) << changed;
    EXPECT_EQ(head_offset(fixed), 0);
  }
  // The same length again is what the agent sends: taken.
  auto same = patch(fixed, 0, content.substr(0, 500), "Upload-Length: 1000\r\n");
  EXPECT_EQ(status_of(same), 204) << same;

  // A deferred upload: once its length is set, a PATCH that says another one is refused.
  const std::string deferred_name = "app-20261201-080000.dump";
  const auto deferred = create_deferred(deferred_name);
  ASSERT_FALSE(deferred.empty());
  const auto set_length = patch(deferred, 0, content.substr(0, 500),
                                "Upload-Length: 1000\r\nX-Content-SHA256: " + sha + "\r\n");
  ASSERT_EQ(status_of(set_length), 204) << set_length;
  auto changed = patch(deferred, 500, content.substr(500), "Upload-Length: 1500\r\n");
  EXPECT_EQ(status_of(changed), 400) << changed;
  EXPECT_EQ(head_offset(deferred), 500);
  EXPECT_FALSE(stdfs::exists(stored(deferred_name)));
  auto done = patch(deferred, 500, content.substr(500), "Upload-Length: 1000\r\n");
  EXPECT_EQ(status_of(done), 204) << done;
  EXPECT_EQ(read_file(stored(deferred_name)), content);
}

}  // namespace
}  // namespace pgship::test
