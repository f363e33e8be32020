// nginx limit_req arithmetic as RATE_LIMIT / RATE_BURST use it, failed-login blocking as
// AUTH_FAILURE_LIMIT uses it, and the bound on the state a flood of addresses can create.

#include "state/leaky_buckets.hpp"

#include <gtest/gtest.h>

namespace pgship::receiver {
namespace {

using namespace std::chrono_literals;
using clock_type = leaky_buckets::clock;

TEST(LeakyBuckets, BurstPlusOnePassThenRefusalsUntilTheExcessDrains) {
  leaky_buckets b(10.0, 5);  // 10 r/s, burst 5
  const auto t0 = clock_type::now();
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(b.hit("ip", t0).allowed) << i;
  const auto refused = b.hit("ip", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);  // whole seconds, never 0
  // A refusal changes nothing: after 100 ms one request has drained and one passes.
  for (int i = 0; i < 20; ++i)
    EXPECT_FALSE(b.hit("ip", t0 + 50ms).allowed);
  EXPECT_TRUE(b.hit("ip", t0 + 100ms).allowed);
  EXPECT_FALSE(b.hit("ip", t0 + 100ms).allowed);
  // Other keys have their own bucket.
  EXPECT_TRUE(b.hit("other", t0).allowed);
  // A steady 10 r/s passes forever.
  for (int i = 1; i <= 50; ++i)
    EXPECT_TRUE(b.hit("ip", t0 + 1s + i * 100ms).allowed) << i;
}

TEST(LeakyBuckets, RetryAfterIsWhenTheNextRequestWouldPass) {
  leaky_buckets b(1.0 / 6, 0);  // 10 r/m, no burst
  const auto t0 = clock_type::now();
  EXPECT_TRUE(b.hit("ip", t0).allowed);
  const auto v = b.hit("ip", t0);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 6s);
  EXPECT_FALSE(b.hit("ip", t0 + 5s).allowed);
  EXPECT_TRUE(b.hit("ip", t0 + 6s).allowed);
}

TEST(LeakyBuckets, PastTheFailureLimitAKeyIsBlockedUntilItsBucketDrains) {
  leaky_buckets f(3.0 / 60, 3);  // 3 failures per minute
  const auto t0 = clock_type::now();
  for (int i = 0; i < 3; ++i) {
    f.add_failure("ip", t0);
    EXPECT_TRUE(f.blocked("ip", t0).allowed) << i;
  }
  f.add_failure("ip", t0);  // the fourth
  const auto v = f.blocked("ip", t0);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 80s);  // 4 failures drain at one per 20 s
  EXPECT_FALSE(f.blocked("ip", t0 + 79s).allowed);
  EXPECT_TRUE(f.blocked("ip", t0 + 80s).allowed);
  EXPECT_TRUE(f.blocked("someone-else", t0).allowed);
}

TEST(LeakyBuckets, StateIsBoundedAndTheLeastRecentlyUsedKeyGoesFirst) {
  leaky_buckets b(1.0, 0, 100);
  const auto t0 = clock_type::now();
  for (int i = 0; i < 10000; ++i)
    b.hit("10.0.0." + std::to_string(i), t0);
  EXPECT_EQ(b.size(), 100u);
  // The newest keys are still limited; an evicted one starts afresh.
  EXPECT_FALSE(b.hit("10.0.0.9999", t0).allowed);
  EXPECT_TRUE(b.hit("10.0.0.0", t0).allowed);
}

TEST(LeakyBuckets, IdleKeysExpireOnceDrainedButBlockedOnesStay) {
  leaky_buckets b(10.0, 5);
  const auto t0 = clock_type::now();
  for (int i = 0; i < 1000; ++i)
    b.hit("10.1.0." + std::to_string(i), t0);
  EXPECT_EQ(b.size(), 1000u);
  // A second later every bucket has drained: the traffic that follows sweeps them out.
  for (int i = 0; i < 600; ++i)
    b.hit("10.2.0." + std::to_string(i % 3), t0 + 1s);
  EXPECT_LE(b.size(), 3u);
  leaky_buckets f(1.0, 0);
  f.add_failure("guesser", t0);
  f.add_failure("guesser", t0);  // blocked for 2 s
  for (int i = 0; i < 10; ++i)
    f.hit("other", t0 + 1s);
  EXPECT_FALSE(f.blocked("guesser", t0 + 1s).allowed) << "a blocked key never expires early";
}

TEST(LeakyBuckets, OnlyTheFirstRefusalOfABurstIsWorthALogLine) {
  leaky_buckets b(1.0, 0);
  const auto t0 = clock_type::now();
  EXPECT_TRUE(b.hit("ip", t0).allowed);
  EXPECT_TRUE(b.hit("ip", t0).first == true && !b.hit("ip", t0 + 1ms).allowed);
  EXPECT_FALSE(b.hit("ip", t0 + 2ms).first);
  EXPECT_TRUE(b.hit("ip", t0 + 2s).allowed);  // let through: the next refusal is news again
  EXPECT_TRUE(b.hit("ip", t0 + 2s).first);
  leaky_buckets f(1.0, 0);
  f.add_failure("ip", t0);
  EXPECT_TRUE(f.blocked("ip", t0).first);
  EXPECT_FALSE(f.blocked("ip", t0).first);
}

TEST(LeakyBuckets, AnIpv6HostIsLimitedByItsSlash64AndMappedIpv4AsIpv4) {
  EXPECT_EQ(address_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
  EXPECT_EQ(address_key("::1"), "::/64");
}

}  // namespace
}  // namespace pgship::receiver
