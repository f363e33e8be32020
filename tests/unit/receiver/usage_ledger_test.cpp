// usage_ledger: what every backend's usage and quarantine count follow, and how a count of the
// whole store meets the commits made while it ran.

#include "storage/usage_ledger.hpp"

#include <gtest/gtest.h>

namespace pgship::receiver {
namespace {

using usage = std::pair<std::uint64_t, std::uint64_t>;

TEST(UsageLedger, CommitsRemovalsAndQuarantinesMoveTheCount) {
  usage_ledger ledger;
  ledger.created("app", 100);
  ledger.created("app", 50);
  ledger.created("crm", 7);
  EXPECT_EQ(ledger.usage()["app"], usage(150, 2));
  ledger.removed("app", 100);
  EXPECT_EQ(ledger.usage()["app"], usage(50, 1));
  ledger.quarantined_one("app", 50);
  EXPECT_EQ(ledger.usage()["app"], usage(0, 0));
  EXPECT_EQ(ledger.quarantined(), 1u);
  // Never below zero (a removal a count had already seen).
  ledger.removed("app", 10);
  EXPECT_EQ(ledger.usage()["app"], usage(0, 0));
  EXPECT_EQ(ledger.usage()["crm"], usage(7, 1));
}

TEST(UsageLedger, ACountReplacesWhatWasCounted) {
  usage_ledger ledger;
  ledger.created("app", 100);
  ledger.quarantined_one("app", 100);
  ledger.recounted(ledger.count_begins(), {{{"other", {5, 1}}}, 3});
  EXPECT_EQ(ledger.usage(), (usage_map{{"other", {5, 1}}}));
  EXPECT_EQ(ledger.quarantined(), 3u);
}

TEST(UsageLedger, ACommitWhileACountRunsStillCounts) {
  usage_ledger ledger;
  ledger.created("app", 100);  // before the count: the count sees it
  const auto begun = ledger.count_begins();
  ledger.created("app", 20);  // the count may have missed it
  ledger.recounted(begun, {{{"app", {100, 1}}}, 0});
  EXPECT_EQ(ledger.usage()["app"], usage(120, 2));
  // The next count sees it itself.
  ledger.recounted(ledger.count_begins(), {{{"app", {120, 2}}}, 0});
  EXPECT_EQ(ledger.usage()["app"], usage(120, 2));
}

TEST(UsageLedger, OverlappingCountsEachKeepWhatTheyMayHaveMissed) {
  usage_ledger ledger;
  const auto first = ledger.count_begins();
  ledger.created("app", 1);
  const auto second = ledger.count_begins();
  ledger.created("app", 10);
  // The later count ends first: it saw the first commit, not the second.
  ledger.recounted(second, {{{"app", {1, 1}}}, 0});
  EXPECT_EQ(ledger.usage()["app"], usage(11, 2));
  // The earlier one saw neither.
  ledger.recounted(first, {});
  EXPECT_EQ(ledger.usage()["app"], usage(11, 2));
}

TEST(UsageLedger, AFailedCountChangesNothing) {
  usage_ledger ledger;
  ledger.created("app", 5);
  const auto begun = ledger.count_begins();
  ledger.created("app", 6);
  ledger.count_failed(begun);
  EXPECT_EQ(ledger.usage()["app"], usage(11, 2));
  ledger.recounted(ledger.count_begins(), {{{"app", {11, 2}}}, 0});
  EXPECT_EQ(ledger.usage()["app"], usage(11, 2));
}

}  // namespace
}  // namespace pgship::receiver
