// The physical archive's routes (common/wire/wal.hpp) against a real pgship-receiver over
// loopback: who may PUT and GET, a unit's identity (stem + plaintext SHA-256, whatever the
// encryption), what is refused before anything is stored, the bytes read back, the lists
// restore_command follows (complete, partial, gap, none), the archive's state across a restart,
// and one client never seeing another's WAL. Segments are 1 MiB, as in the test clusters.

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "http_client.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
namespace wal_wire = wire::wal;
using verb = boost::beast::http::verb;

const std::string alpha = "alpha-wal-token-31c9";  // upload + read
const std::string beta = "beta-wal-token-9d20";    // upload + read, another client
const std::string reader = "gamma-reader-4e77";    // read only, a third client
const std::string sys = "7291436153284653321";
constexpr std::uint64_t seg_size = 1 << 20;
const std::string seg3 = "000000010000000000000003";
const std::string seg4 = "000000010000000000000004";
const std::string seg5 = "000000010000000000000005";

std::string unit_name(const std::string& segment, std::uint32_t start, std::uint32_t end,
                      const std::string& ext = "") {
  char text[32];
  std::snprintf(text, sizeof text, ".%08X-%08X", start, end);
  return segment + text + ext;
}

// A unit as the agent sends it: stored bytes (maybe ciphertext) and the plaintext they hold.
struct unit {
  std::string name;
  std::string stored;
  std::string plaintext;
  std::map<std::string, std::string> headers;  // extra, or overriding the defaults
};

class ReceiverWalRoutes : public receiver_fixture {
 protected:
  ReceiverWalRoutes() : receiver_fixture("") {}

  void SetUp() override {
    const auto tokens = dir_ / "tokens";
    write_file(tokens, "alpha:upload,read:" + alpha + "\nbeta:upload,read:" + beta +
                           "\ngamma:read:" + reader + "\n");
    start({{"API_TOKENS_FILE", tokens.string()}});
  }

  // The plaintext of [start, end) of a segment: deterministic, so two copies agree.
  static std::string wal_bytes(std::uint32_t start, std::uint32_t end, std::uint32_t seed = 1) {
    return random_bytes(end - start, seed * 7919 + start);
  }
  static unit plain_unit(const std::string& segment, std::uint32_t start, std::uint32_t end) {
    auto bytes = wal_bytes(start, end);
    return {unit_name(segment, start, end), bytes, bytes, {}};
  }

  http_response put(const unit& u, const std::string& token = alpha,
                    const std::string& system = sys) {
    std::map<std::string, std::string> headers{
        {"X-Content-SHA256", to_hex(sha256_of(u.stored))},
        {std::string(wal_wire::header::plaintext_sha256), to_hex(sha256_of(u.plaintext))},
        {std::string(wal_wire::header::plaintext_size), std::to_string(u.plaintext.size())},
        {std::string(wal_wire::header::segment_size), std::to_string(seg_size)},
        {std::string(wal_wire::header::time_map),
         "1765000000000@0/3000000,1765000000500@0/3001000"},
    };
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    for (const auto& [k, v] : u.headers) {
      if (v.empty()) {
        headers.erase(k);
      } else {
        headers[k] = v;
      }
    }
    return http_send(receiver_->port(), {.method = verb::put,
                                         .target = wal_wire::unit_path(system, u.name),
                                         .headers = headers,
                                         .body = u.stored});
  }
  http_response get(const std::string& target, const std::string& token = alpha,
                    std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return http_send(receiver_->port(), {.target = target, .headers = headers});
  }
  http_response get_unit(const std::string& name, const std::string& token = alpha) {
    return get(wal_wire::unit_path(sys, name), token);
  }
  http_response get_list(const std::string& file, const std::string& token = alpha) {
    return get(wal_wire::segment_path(sys, file), token);
  }
  std::optional<wal_wire::archive_state> state(const std::string& token = alpha) {
    const auto res = get(wal_wire::system_path(sys), token);
    if (res.result_int() != 200) return std::nullopt;
    auto decoded = wal_wire::decode_state(res.body());
    EXPECT_TRUE(decoded) << res.body();
    return decoded;
  }
  // The files the archive holds for alpha's system, relative to its directory.
  std::vector<std::string> stored_files(const std::string& client = "alpha") {
    std::vector<std::string> out;
    const auto root = receiver_->storage_dir() / ".wal" / client / sys;
    std::error_code ec;
    for (const auto& e : stdfs::recursive_directory_iterator(root, ec)) {
      if (e.is_regular_file()) out.push_back(stdfs::relative(e.path(), root).string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> spool_files() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(receiver_->storage_dir() / ".incoming", ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
};

std::string error_of(const http_response& res) {
  const auto at = res.body().find("\"error\":\"");
  if (at == std::string::npos) return "";
  const auto from = at + 9;
  return res.body().substr(from, res.body().find('"', from) - from);
}

TEST_F(ReceiverWalRoutes, TokensAndScopesGuardEveryRoute) {
  const auto u = plain_unit(seg3, 0, 0x1000);
  EXPECT_EQ(put(u, "").result_int(), 401);
  EXPECT_EQ(put(u, "not-a-token").result_int(), 401);
  const auto forbidden = put(u, reader);
  EXPECT_EQ(forbidden.result_int(), 403) << forbidden.body();
  EXPECT_TRUE(stored_files().empty());
  EXPECT_EQ(get_unit(u.name, "").result_int(), 401);
  EXPECT_EQ(get_list(seg3, "").result_int(), 401);
  EXPECT_EQ(get(wal_wire::system_path(sys), "").result_int(), 401);
  ASSERT_EQ(put(u).result_int(), 201);
  EXPECT_EQ(get_unit(u.name).result_int(), 200);
  // A read-only token reads (its own client's archive, which holds nothing).
  EXPECT_EQ(get_unit(u.name, reader).result_int(), 404);
  EXPECT_EQ(get_list(seg3, reader).result_int(), 404);
  EXPECT_EQ(get(wal_wire::system_path(sys), reader).result_int(), 404);
}

TEST_F(ReceiverWalRoutes, AUnitsIdentityIsItsStemAndPlaintext) {
  const auto plain = wal_bytes(0, 0x4000);
  const unit sealed{unit_name(seg3, 0, 0x4000, ".zst.age"), random_bytes(5000, 1), plain, {}};
  const auto created = put(sealed);
  EXPECT_EQ(created.result_int(), 201) << created.body();
  const auto files = stored_files();
  EXPECT_EQ(files, (std::vector<std::string>{seg3 + "/" + sealed.name,
                                             seg3 + "/" + sealed.name + ".json", "meta.json"}));

  // The same WAL encrypted again (other stored bytes), or with other codecs: 200, first kept.
  const unit again{sealed.name, random_bytes(5100, 2), plain, {}};
  const auto identical = put(again);
  EXPECT_EQ(identical.result_int(), 200) << identical.body();
  EXPECT_NE(identical.body().find(sealed.name), std::string::npos) << identical.body();
  const unit clear{unit_name(seg3, 0, 0x4000), plain, plain, {}};
  EXPECT_EQ(put(clear).result_int(), 200);
  EXPECT_EQ(get_unit(sealed.name).body(), sealed.stored);
  EXPECT_EQ(get_unit(clear.name).result_int(), 404) << "only the first copy is stored";
  EXPECT_EQ(stored_files(), files);

  // Other plaintext under the same stem: 409, nothing changes.
  const unit other{unit_name(seg3, 0, 0x4000, ".zst"), "x", wal_bytes(0, 0x4000, 2), {}};
  const auto conflict = put(other);
  EXPECT_EQ(conflict.result_int(), 409);
  EXPECT_EQ(error_of(conflict), "conflict");
  EXPECT_EQ(stored_files(), files);
  EXPECT_NE(receiver_->log().find("WAL unit conflict"), std::string::npos);
  EXPECT_TRUE(spool_files().empty()) << "no spool file left behind";
}

TEST_F(ReceiverWalRoutes, WhatIsRefusedLeavesNothingStored) {
  auto u = plain_unit(seg3, 0, 0x1000);
  u.headers["X-Content-SHA256"] = to_hex(sha256_of("other bytes"));
  const auto mismatch = put(u);
  EXPECT_EQ(mismatch.result_int(), 422);
  EXPECT_EQ(error_of(mismatch), "hash_mismatch");
  EXPECT_EQ(get_unit(u.name).result_int(), 404);
  EXPECT_TRUE(stored_files().empty());
  EXPECT_TRUE(spool_files().empty());

  const auto refused = [&](unit v, int status, const std::string& error,
                           const std::string& system = sys) {
    const auto res = put(v, alpha, system);
    EXPECT_EQ(res.result_int(), status) << v.name << " " << res.body();
    EXPECT_EQ(error_of(res), error) << v.name << " " << res.body();
  };
  const auto good = plain_unit(seg3, 0, 0x1000);
  refused(good, 400, "invalid_system", "12ab");
  refused(good, 400, "invalid_system", "123456789012345678901");
  for (const auto& bad : {seg3 + ".00001000-00001000", seg3 + ".00000000-1000", seg3 + ".dump",
                          std::string("00000000.history"), seg3 + ".00000000-00001000.gz"}) {
    auto v = good;
    v.name = bad;
    refused(v, 400, "invalid_wal_name");
  }
  auto past_end = good;  // ends past a 1 MiB segment
  past_end.name = unit_name(seg3, 0, 0x100001);
  refused(past_end, 400, "invalid_wal_name");
  auto wrong_size = good;
  wrong_size.headers[std::string(wal_wire::header::plaintext_size)] = "4095";
  refused(wrong_size, 400, "bad_request");
  auto no_plain = good;
  no_plain.headers[std::string(wal_wire::header::plaintext_sha256)] = "";
  refused(no_plain, 400, "bad_checksum");
  auto no_sha = good;
  no_sha.headers["X-Content-SHA256"] = "";
  refused(no_sha, 400, "bad_checksum");
  auto bad_segsize = good;
  bad_segsize.headers[std::string(wal_wire::header::segment_size)] = "1000000";
  refused(bad_segsize, 400, "bad_request");
  auto bad_map = good;
  bad_map.headers[std::string(wal_wire::header::time_map)] = "yesterday@0/1";
  refused(bad_map, 400, "bad_request");
  EXPECT_TRUE(stored_files().empty());
  EXPECT_FALSE(state()) << "no system yet: nothing was stored";

  // Over the cap: refused on its declared length, before the body.
  http_connection c(receiver_->port());
  c.write_raw("PUT " + wal_wire::unit_path(sys, good.name) +
              " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alpha +
              "\r\nX-Content-SHA256: " + to_hex(sha256_of("a")) + "\r\n" +
              std::string(wal_wire::header::plaintext_sha256) + ": " + to_hex(sha256_of("a")) +
              "\r\n" + std::string(wal_wire::header::plaintext_size) + ": 4096\r\n" +
              std::string(wal_wire::header::segment_size) + ": 1048576\r\nContent-Length: " +
              std::to_string(wal_wire::max_unit_bytes + 1) + "\r\n\r\n");
  const auto answer = c.read_until("\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;
  EXPECT_TRUE(stored_files().empty());
}

TEST_F(ReceiverWalRoutes, EveryUnitOfASystemHasItsSegmentSize) {
  ASSERT_EQ(put(plain_unit(seg3, 0, 0x1000)).result_int(), 201);
  auto other = plain_unit(seg3, 0x1000, 0x2000);
  other.headers[std::string(wal_wire::header::segment_size)] = std::to_string(16 << 20);
  const auto res = put(other);
  EXPECT_EQ(res.result_int(), 409);
  EXPECT_EQ(error_of(res), "segment_size_mismatch");
  EXPECT_EQ(get_unit(other.name).result_int(), 404);
  // Another system may have another size.
  EXPECT_EQ(put(other, alpha, "42").result_int(), 201);
}

TEST_F(ReceiverWalRoutes, StoredBytesComeBackWholeOrByRange) {
  const auto plain = wal_bytes(0, 0x8000);
  const unit sealed{unit_name(seg3, 0, 0x8000, ".age"), random_bytes(40000, 3), plain, {}};
  ASSERT_EQ(put(sealed).result_int(), 201);
  const auto whole = get_unit(sealed.name);
  ASSERT_EQ(whole.result_int(), 200);
  EXPECT_EQ(whole.body(), sealed.stored);
  EXPECT_EQ(whole[boost::beast::http::field::etag], "\"" + to_hex(sha256_of(sealed.stored)) + "\"");
  EXPECT_EQ(whole[wal_wire::header::plaintext_sha256], to_hex(sha256_of(plain)));
  const auto part =
      get(wal_wire::unit_path(sys, sealed.name), alpha, {{"Range", "bytes=100-1099"}});
  ASSERT_EQ(part.result_int(), 206);
  EXPECT_EQ(part.body(), sealed.stored.substr(100, 1000));
  EXPECT_EQ(part[boost::beast::http::field::content_range], "bytes 100-1099/40000");
  const auto cached = get(wal_wire::unit_path(sys, sealed.name), alpha,
                          {{"If-None-Match", std::string(whole[boost::beast::http::field::etag])}});
  EXPECT_EQ(cached.result_int(), 304);
  EXPECT_EQ(get_unit(unit_name(seg3, 0, 0x8000)).result_int(), 404);
  EXPECT_EQ(get_unit("not-a-unit").result_int(), 400);
}

TEST_F(ReceiverWalRoutes, SegmentListsSayWhatRestoreJoins) {
  // Segment 3: whole, from overlapping units (a restart cut it differently).
  for (const auto& u : {plain_unit(seg3, 0, 0x40000), plain_unit(seg3, 0, 0x80000),
                        plain_unit(seg3, 0x40000, 0xC0000), plain_unit(seg3, 0xC0000, 0x100000)}) {
    ASSERT_EQ(put(u).result_int(), 201) << u.name;
  }
  // Segment 4: a hole after 0x1000. Segment 5: the newest, partly streamed.
  ASSERT_EQ(put(plain_unit(seg4, 0, 0x1000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg5, 0, 0x2000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg5, 0x2000, 0x3000)).result_int(), 201);

  const auto complete = get_list(seg3);
  ASSERT_EQ(complete.result_int(), 200) << complete.body();
  EXPECT_EQ(complete[boost::beast::http::field::content_type], "text/plain; charset=utf-8");
  const auto list3 = wal_wire::decode_list(complete.body());
  ASSERT_TRUE(list3) << complete.body();
  EXPECT_EQ(*list3, (wal_wire::segment_list{seg_size,
                                            wal_wire::list_state::complete,
                                            {{unit_name(seg3, 0, 0x80000), 0},
                                             {unit_name(seg3, 0x40000, 0xC0000), 0x40000},
                                             {unit_name(seg3, 0xC0000, 0x100000), 0xC0000}}}));

  // The bundle: the same units with their records, then their stored bytes in that order.
  const auto bundle = get(wal_wire::bundle_path(sys, seg3));
  ASSERT_EQ(bundle.result_int(), 200) << bundle.body();
  const auto head_end = bundle.body().find("\n\n");
  ASSERT_NE(head_end, std::string::npos);
  const auto head = wal_wire::decode_bundle_head(bundle.body().substr(0, head_end + 1));
  ASSERT_TRUE(head) << bundle.body().substr(0, head_end);
  ASSERT_EQ(head->units.size(), 3u);
  std::string joined;
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> chain{
      {0, 0x80000}, {0x40000, 0xC0000}, {0xC0000, 0x100000}};
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const auto [start, end] = chain[i];
    const auto bytes = wal_bytes(start, end);
    EXPECT_EQ(head->units[i],
              (wal_wire::bundle_entry{unit_name(seg3, start, end), start, bytes.size(),
                                      sha256_of(bytes), sha256_of(bytes)}));
    joined += bytes;
  }
  EXPECT_EQ(head->state, wal_wire::list_state::complete);
  EXPECT_TRUE(bundle.body().substr(head_end + 2) == joined) << "the units' bytes, in order";
  EXPECT_EQ(get(wal_wire::bundle_path(sys, seg4)).result_int(), 409) << "a gap, as its list";
  EXPECT_EQ(get(wal_wire::bundle_path(sys, "000000010000000000000006")).result_int(), 404);

  const auto partial = get_list(seg5);
  ASSERT_EQ(partial.result_int(), 200) << partial.body();
  EXPECT_EQ(partial.body(), "pgship-wal-list 1 1048576 partial\n" + unit_name(seg5, 0, 0x2000) +
                                " 0\n" + unit_name(seg5, 0x2000, 0x3000) + " 8192\n");

  const auto gap = get_list(seg4);
  EXPECT_EQ(gap.result_int(), 409) << gap.body();
  EXPECT_EQ(error_of(gap), "wal_gap");

  EXPECT_EQ(get_list("000000010000000000000006").result_int(), 404);
  EXPECT_EQ(get_list("000000020000000000000003").result_int(), 404) << "another timeline";
  EXPECT_EQ(get_list("00000002.history").result_int(), 404);
  EXPECT_EQ(get_list("0000000100000000000000").result_int(), 400);

  // A segment whose first unit does not start at 0 (the stream began mid-segment).
  ASSERT_EQ(put(plain_unit("000000010000000000000007", 0x1000, 0x2000)).result_int(), 201);
  const auto late = get_list("000000010000000000000007");
  EXPECT_EQ(late.result_int(), 409);
  EXPECT_EQ(error_of(late), "wal_gap");
  // Now segment 5 has later WAL beyond it: it is a gap, no longer the partial newest.
  EXPECT_EQ(get_list(seg5).result_int(), 409);

  // A history file: accepted through the same route, listed alone, never padded.
  const std::string history = "1\t0/5000000\tno recovery target specified\n";
  const unit h{"00000002.history.age", random_bytes(300, 4), history, {}};
  ASSERT_EQ(put(h).result_int(), 201);
  const auto hlist = get_list("00000002.history");
  ASSERT_EQ(hlist.result_int(), 200);
  EXPECT_EQ(hlist.body(), "pgship-wal-list 1 1048576 history\n00000002.history.age 0\n");
  EXPECT_EQ(get_unit("00000002.history.age").body(), h.stored);
}

TEST_F(ReceiverWalRoutes, TheStateSaysWhatIsHeldAndSurvivesARestart) {
  EXPECT_EQ(get(wal_wire::system_path(sys)).result_int(), 404);
  EXPECT_EQ(get(wal_wire::system_path("x1")).result_int(), 400);
  ASSERT_EQ(put(plain_unit(seg3, 0, 0x100000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg4, 0, 0x2000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg5, 0x1000, 0x3000)).result_int(), 201);
  const unit h{"00000002.history", "1\t0/500000\tx\n", "1\t0/500000\tx\n", {}};
  ASSERT_EQ(put(h).result_int(), 201);
  const auto before = state();
  ASSERT_TRUE(before);
  EXPECT_EQ(before->system, sys);
  EXPECT_EQ(before->segment_size, seg_size);
  ASSERT_EQ(before->timelines.size(), 2u);
  EXPECT_EQ(before->timelines[0].ranges,
            (std::vector<wal_wire::lsn_range>{{0x300000, 0x402000}, {0x501000, 0x503000}}));
  EXPECT_TRUE(before->timelines[1].history);
  EXPECT_TRUE(before->timelines[1].ranges.empty());
  EXPECT_EQ(before->durable_end(), (wal_wire::archive_state::position{1, 0x503000}));

  receiver_->restart();
  EXPECT_EQ(state(), before) << "rebuilt from the store";
  ASSERT_EQ(put(plain_unit(seg5, 0x3000, 0x4000)).result_int(), 201);
  EXPECT_EQ(state()->durable_end(), (wal_wire::archive_state::position{1, 0x504000}));
}

TEST_F(ReceiverWalRoutes, UnitsAreAdmittedLikeUploads) {
  // MIN_FREE_BYTES above what any disk has: refused before the body, nothing stored.
  start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}, {"MIN_FREE_BYTES", "1000000T"}});
  const auto res = put(plain_unit(seg3, 0, 0x1000));
  EXPECT_EQ(res.result_int(), 507) << res.body();
  EXPECT_EQ(error_of(res), "insufficient_storage");
  EXPECT_TRUE(stored_files().empty());
  EXPECT_TRUE(spool_files().empty());
}

// The value of `pgship_receiver_wal_bytes{client="<client>"}`; -1 when absent.
double wal_bytes_metric(unsigned short port, const std::string& client) {
  const auto body = http_send(port, {.target = "/metrics"}).body();
  const std::string sample = "pgship_receiver_wal_bytes{client=\"" + client + "\"} ";
  const auto at = body.find(sample);
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + sample.size()));
}

TEST_F(ReceiverWalRoutes, StoredWalBytesAreAMetricPerClientThatSurvivesARestart) {
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "alpha"), 0) << "every token's client, from start";
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "gamma"), 0);
  ASSERT_EQ(put(plain_unit(seg3, 0, 0x1000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg3, 0x1000, 0x3000)).result_int(), 201);
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "alpha"), 0x3000);
  // The same unit again stores nothing.
  ASSERT_EQ(put(plain_unit(seg3, 0, 0x1000)).result_int(), 200);
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "alpha"), 0x3000);
  ASSERT_EQ(put(plain_unit(seg4, 0, 0x800), beta).result_int(), 201);
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "beta"), 0x800);

  receiver_->restart();
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "alpha"), 0x3000) << "counted from the store";
  EXPECT_EQ(wal_bytes_metric(receiver_->port(), "beta"), 0x800);
  // The archive is no backup.
  const auto metrics = http_send(receiver_->port(), {.target = "/metrics"}).body();
  EXPECT_NE(metrics.find("pgship_receiver_stored_bytes{client=\"alpha\"} 0\n"), std::string::npos)
      << metrics;
}

TEST_F(ReceiverWalRoutes, UnitsCountAgainstTheClientsQuota) {
  start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}, {"QUOTA_BYTES", "10000"}});
  ASSERT_EQ(put(plain_unit(seg3, 0, 0x1000)).result_int(), 201);
  ASSERT_EQ(put(plain_unit(seg3, 0x1000, 0x2000)).result_int(), 201);
  const auto before = stored_files();
  // 8192 stored: another 4096 would take alpha past 10000.
  const auto res = put(plain_unit(seg3, 0x2000, 0x3000));
  EXPECT_EQ(res.result_int(), 507) << res.body();
  EXPECT_EQ(error_of(res), "quota_exceeded");
  EXPECT_EQ(stored_files(), before) << "nothing stored";
  EXPECT_TRUE(spool_files().empty());
  EXPECT_EQ(state()->durable_end(), (wal_wire::archive_state::position{1, 0x302000}));
  // Another client's quota is its own.
  EXPECT_EQ(put(plain_unit(seg3, 0x2000, 0x3000), beta).result_int(), 201);
  // A backup of alpha's counts the WAL too.
  const std::string dump(4096, 'x');
  const auto upload =
      http_send(receiver_->port(), {.method = verb::post,
                                    .target = "/api/backup/upload",
                                    .headers = {{"Authorization", "Bearer " + alpha},
                                                {"X-Backup-Name", "app-20261201-030000.dump"},
                                                {"X-Content-SHA256", to_hex(sha256_of(dump))}},
                                    .body = dump});
  EXPECT_EQ(upload.result_int(), 507) << upload.body();
  EXPECT_EQ(error_of(upload), "quota_exceeded");
}

TEST_F(ReceiverWalRoutes, AClientNeverSeesAnothersWal) {
  const auto u = plain_unit(seg3, 0, 0x1000);
  ASSERT_EQ(put(u).result_int(), 201);
  EXPECT_EQ(get_unit(u.name, beta).result_int(), 404);
  EXPECT_EQ(get_list(seg3, beta).result_int(), 404);
  EXPECT_EQ(get(wal_wire::system_path(sys), beta).result_int(), 404);
  // The same system identifier is beta's own archive: no conflict with alpha's.
  const auto other = wal_bytes(0, 0x1000, 9);
  const unit sized{u.name, other, other, {}};
  EXPECT_EQ(put(sized, beta).result_int(), 201);
  EXPECT_EQ(get_unit(u.name, beta).body(), sized.stored);
  EXPECT_EQ(get_unit(u.name, alpha).body(), u.stored);
}

}  // namespace
}  // namespace pgship::test
