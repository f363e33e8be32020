// The unit PUT the agent builds (path, token, hashes, the X-Wal-* headers, the stored bytes)
// and what it makes of the receiver's answers: 2xx done, 409 a conflict that stops the stream,
// 401/403 the token, throttling and 5xx worth another try after Retry-After, other 4xx
// permanent; the archive state read back, empty on 404. The sealed unit reaches the PUT
// without a copy of its bytes.

#include "net/wal_api.hpp"

#include <gtest/gtest.h>

#include <pgship/common/wire/headers.hpp>

#include "wal/unit_shipping.hpp"

namespace pgship::agent {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

const std::string token = "pgs_secret-token-value";
const std::string system_id = "7312345678901234567";

wal_unit_put sample_put(const std::string& stored) {
  wal_unit_put put;
  put.file_name = "000000010000000000000003.00400000-00500000.zst.age";
  put.stored = stored;
  put.stored_sha256 = std::string(64, 'a');
  put.plaintext_sha256 = std::string(64, 'b');
  put.plaintext_size = 0x100000;
  put.segment_size = 16ull << 20;
  put.time_map = {{1'700'000'000'000, 0x3400000}, {1'700'000'000'900, 0x3500000}};
  return put;
}

http_outcome answer(unsigned status, std::string body = "",
                    std::optional<std::string> retry_after = std::nullopt) {
  http_outcome out;
  out.response.result(status);
  out.response.body() = std::move(body);
  if (retry_after) out.response.set(http::field::retry_after, *retry_after);
  out.response.prepare_payload();
  return out;
}

TEST(wal_api_test, TheUnitPutCarriesTheUnitsHeadersAndBytes) {
  const auto endpoint = receiver_endpoint::parse("https://backup.example:9101/pgship");
  ASSERT_TRUE(endpoint.has_value());
  const std::string stored("\x00\x01 ciphertext \xff", 15);
  const auto r = wal_unit_request(*endpoint, token, system_id, sample_put(stored));
  EXPECT_EQ(r.method(), http::verb::put);
  EXPECT_EQ(r.target(),
            "/pgship/api/wal/7312345678901234567/units/"
            "000000010000000000000003.00400000-00500000.zst.age");
  EXPECT_EQ(r[http::field::authorization], "Bearer " + token);
  EXPECT_EQ(r[wire::content_sha256_header], std::string(64, 'a'));
  EXPECT_EQ(r[wire::wal::header::plaintext_sha256], std::string(64, 'b'));
  EXPECT_EQ(r[wire::wal::header::plaintext_size], "1048576");
  EXPECT_EQ(r[wire::wal::header::segment_size], "16777216");
  EXPECT_EQ(r[wire::wal::header::time_map], "1700000000000@0/3400000,1700000000900@0/3500000");
  EXPECT_EQ(r[http::field::content_type], "application/octet-stream");
  EXPECT_EQ(r[http::field::content_length], "15");
  EXPECT_EQ(r.body(), stored);

  // No time map, no header.
  auto bare = sample_put(stored);
  bare.time_map.clear();
  const auto r2 = wal_unit_request(*endpoint, token, system_id, bare);
  EXPECT_EQ(r2.count(wire::wal::header::time_map), 0u);
}

TEST(wal_api_test, StoredAndIdenticalAreDone) {
  for (unsigned status : {200u, 201u}) {
    const auto out = judge_unit_reply(answer(status, R"({"durable":{}})"), "u");
    EXPECT_FALSE(out.error) << status;
    EXPECT_FALSE(out.permanent);
  }
}

TEST(wal_api_test, AConflictIsPermanent) {
  const auto out =
      judge_unit_reply(answer(409, R"({"error":"conflict","detail":"other bytes"})"), "unit-a");
  EXPECT_EQ(out.error.code, make_error_code(errc::wal_conflict));
  EXPECT_TRUE(out.permanent);
  EXPECT_NE(out.error.message.find("unit-a"), std::string::npos);
  EXPECT_NE(out.error.message.find("409"), std::string::npos);
  EXPECT_NE(out.error.message.find("other bytes"), std::string::npos);
}

TEST(wal_api_test, ARefusedTokenIsPermanentAndNeverRepeated) {
  for (unsigned status : {401u, 403u}) {
    const auto out = judge_unit_reply(answer(status, R"({"error":"unauthorized"})"), "u");
    EXPECT_EQ(out.error.code, make_error_code(errc::receiver_auth_failed)) << status;
    EXPECT_TRUE(out.permanent);
    EXPECT_EQ(out.error.message.find(token), std::string::npos);
  }
}

TEST(wal_api_test, ThrottlingAndServerTroubleAreRetriedAfterRetryAfter) {
  const auto throttled = judge_unit_reply(answer(429, "", "7"), "u");
  EXPECT_EQ(throttled.error.code, make_error_code(errc::receiver_unhealthy));
  EXPECT_FALSE(throttled.permanent);
  EXPECT_EQ(throttled.retry_after, std::chrono::seconds(7));
  const auto busy = judge_unit_reply(answer(503, R"({"error":"busy"})", "2"), "u");
  EXPECT_EQ(busy.retry_after, std::chrono::seconds(2));
  EXPECT_FALSE(busy.permanent);
  for (unsigned status : {408u, 422u, 500u, 502u, 504u, 507u}) {
    const auto out = judge_unit_reply(answer(status), "u");
    EXPECT_EQ(out.error.code, make_error_code(errc::receiver_unhealthy)) << status;
    EXPECT_FALSE(out.permanent) << status;
    EXPECT_FALSE(out.retry_after.has_value()) << status;
  }
  // An HTTP-date is not a number of seconds: the usual backoff applies.
  EXPECT_FALSE(judge_unit_reply(answer(429, "", "Wed, 21 Oct 2026 07:28:00 GMT"), "u")
                   .retry_after.has_value());
}

TEST(wal_api_test, OtherRefusalsArePermanent) {
  for (unsigned status : {400u, 404u, 413u}) {
    const auto out = judge_unit_reply(answer(status), "u");
    EXPECT_EQ(out.error.code, make_error_code(errc::upload_rejected)) << status;
    EXPECT_TRUE(out.permanent) << status;
  }
}

TEST(wal_api_test, TransportFailuresAreRetried) {
  http_outcome cut;
  cut.failure = errc::receiver_unreachable;
  cut.message = "connection refused";
  const auto out = judge_unit_reply(cut, "unit-b");
  EXPECT_EQ(out.error.code, make_error_code(errc::receiver_unreachable));
  EXPECT_FALSE(out.permanent);
  EXPECT_EQ(out.error.message, "shipping WAL unit unit-b: connection refused");
}

TEST(wal_api_test, TheArchiveStateIsReadBackAndEmptyOn404) {
  wire::wal::archive_state state;
  state.system = system_id;
  state.segment_size = 16ull << 20;
  state.timelines = {{1, {{0x1000000, 0x5000000}}, false}, {2, {{0x5000000, 0x5400000}}, true}};
  wire::wal::archive_state out;
  EXPECT_FALSE(judge_state_reply(answer(200, wire::wal::encode_state(state)), system_id, out));
  EXPECT_EQ(out, state);

  EXPECT_FALSE(judge_state_reply(answer(404, R"({"error":"not_found"})"), system_id, out));
  EXPECT_EQ(out.system, system_id);
  EXPECT_TRUE(out.timelines.empty());
  EXPECT_FALSE(out.durable_end().has_value());

  const auto garbage = judge_state_reply(answer(200, "<html>proxy</html>"), system_id, out);
  EXPECT_EQ(garbage.code, make_error_code(errc::receiver_unhealthy));
  EXPECT_NE(garbage.message.find("not an archive state"), std::string::npos);

  state.system = "42";
  const auto other = judge_state_reply(answer(200, wire::wal::encode_state(state)), system_id, out);
  EXPECT_EQ(other.code, make_error_code(errc::receiver_unhealthy));

  EXPECT_EQ(judge_state_reply(answer(401), system_id, out).code,
            make_error_code(errc::receiver_auth_failed));
  EXPECT_EQ(judge_state_reply(answer(500), system_id, out).code,
            make_error_code(errc::receiver_unhealthy));
  http_outcome cut;
  cut.failure = errc::receiver_unreachable;
  cut.message = "timed out";
  EXPECT_EQ(judge_state_reply(cut, system_id, out).code,
            make_error_code(errc::receiver_unreachable));
}

TEST(wal_api_test, ASealedUnitReachesThePutWithoutACopy) {
  wal::sealed_unit unit;
  unit.name = {
      "000000010000000000000003", 0x400000, 0x500000, {io::compression::zstd, io::encryption::age}};
  unit.stored = std::string(1000, 'c');
  unit.stored_sha256 = std::string(64, 'd');
  unit.plaintext_sha256 = std::string(64, 'e');
  unit.plaintext_size = 0x100000;
  unit.segment_size = 16ull << 20;
  unit.time_map = {{5, 0x3400000}};
  const auto put = wal::to_put(unit);
  EXPECT_EQ(put.file_name, "000000010000000000000003.00400000-00500000.zst.age");
  EXPECT_EQ(put.stored.data(), unit.stored.data());
  EXPECT_EQ(put.stored.size(), unit.stored.size());
  EXPECT_EQ(put.stored_sha256, unit.stored_sha256);
  EXPECT_EQ(put.plaintext_sha256, unit.plaintext_sha256);
  EXPECT_EQ(put.plaintext_size, unit.plaintext_size);
  EXPECT_EQ(put.segment_size, unit.segment_size);
  EXPECT_EQ(put.time_map, unit.time_map);
}

}  // namespace
}  // namespace pgship::agent
