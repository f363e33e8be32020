#include "net/retry_policy.hpp"

#include <gtest/gtest.h>

#include <pgship/common/wire/tus.hpp>

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;

TEST(ClassifyReply, SuccessRetryAndPermanent) {
  EXPECT_EQ(classify_reply(201, std::nullopt), reply_class::success);
  EXPECT_EQ(classify_reply(204, std::nullopt), reply_class::success);
  for (unsigned s : {408u, 423u, 429u, 460u, 500u, 502u, 503u}) {
    EXPECT_EQ(classify_reply(s, std::nullopt), reply_class::retry) << s;
  }
  EXPECT_EQ(classify_reply(409, wire::api_error::offset_mismatch), reply_class::retry);
  EXPECT_EQ(classify_reply(409, wire::api_error::conflict), reply_class::permanent);
  for (unsigned s : {400u, 401u, 403u, 404u, 413u, 422u, 507u}) {
    EXPECT_EQ(classify_reply(s, std::nullopt), reply_class::permanent) << s;
  }
  EXPECT_EQ(classify_reply(wire::tus::checksum_mismatch_status, std::nullopt), reply_class::retry);
  // The receiver's body, as the agent parses it.
  EXPECT_EQ(classify_reply(409, wire::parse_api_error("offset_mismatch")), reply_class::retry);
  EXPECT_EQ(classify_reply(409, wire::parse_api_error("no_such_name")), reply_class::permanent);
}

TEST(RefusalCode, NamesTheCause) {
  EXPECT_EQ(refusal_code(401, std::nullopt), errc::receiver_auth_failed);
  EXPECT_EQ(refusal_code(403, std::nullopt), errc::receiver_auth_failed);
  EXPECT_EQ(refusal_code(403, wire::api_error::conflict), errc::upload_rejected)
      << "APPEND_ONLY overwrite";
  EXPECT_EQ(refusal_code(422, std::nullopt), errc::hash_mismatch);
  EXPECT_EQ(refusal_code(507, std::nullopt), errc::upload_rejected);
  EXPECT_EQ(refusal_code(413, std::nullopt), errc::upload_rejected);
}

TEST(BackoffDelay, DoublesWithJitterBetweenHalfAndFull) {
  EXPECT_EQ(backoff_delay(5000ms, 1, 1.0), 5000ms);
  EXPECT_EQ(backoff_delay(5000ms, 1, 0.0), 2500ms);
  EXPECT_EQ(backoff_delay(5000ms, 2, 1.0), 10000ms);
  EXPECT_EQ(backoff_delay(5000ms, 3, 1.0), 20000ms);
  EXPECT_EQ(backoff_delay(5000ms, 3, 0.5), 15000ms);
  EXPECT_EQ(backoff_delay(5000ms, 40, 1.0), 600000ms) << "capped at 10 minutes";
  EXPECT_EQ(backoff_delay(0ms, 3, 1.0), 0ms);
}

}  // namespace
}  // namespace pgship::agent
