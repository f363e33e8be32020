#include "daemon/run_history.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

boost::json::object run(const std::string& id, const std::string& result) {
  boost::json::object o;
  o["run_id"] = id;
  o["result"] = result;
  o["seconds"] = 0.610262209;
  return o;
}

std::string result_of(const run_history& h, const std::string& id) {
  const auto r = h.find(id);
  return r ? std::string(r->at("result").as_string()) : "missing";
}

// A one-shot `backup` beside the daemon writes its run into the daemon's file: the daemon sees
// it when it next looks, and its own later write keeps it.
TEST(RunHistory, ARunAnotherProcessAddedIsReadAgainAndKept) {
  test::temp_dir dir;
  const auto file = dir / "runs.jsonl";
  run_history daemon(file);
  EXPECT_EQ(daemon.load(), 0);
  daemon.put(run("20261121T030000Z-aaaaaa", "running"));
  const auto before = daemon.generation();

  run_history one_shot(file);
  one_shot.put(run("20261121T030500Z-bbbbbb", "ok"));
  EXPECT_EQ(result_of(one_shot, "20261121T030000Z-aaaaaa"), "running")
      << "another process's active run is not marked interrupted";

  daemon.reload_if_changed();
  EXPECT_NE(daemon.generation(), before);
  EXPECT_EQ(result_of(daemon, "20261121T030500Z-bbbbbb"), "ok");
  const auto seen = daemon.generation();
  daemon.reload_if_changed();
  EXPECT_EQ(daemon.generation(), seen) << "unchanged file: not read again";

  one_shot.put(run("20261121T031000Z-cccccc", "failed"));
  daemon.put(run("20261121T030000Z-aaaaaa", "ok"));
  EXPECT_EQ(result_of(daemon, "20261121T031000Z-cccccc"), "failed");
  run_history fresh(file);
  fresh.load();
  EXPECT_EQ(fresh.newest(10).size(), 3u);
  EXPECT_EQ(result_of(fresh, "20261121T030000Z-aaaaaa"), "ok");

  // Plain decimals in the file, never boost::json's 6.10262209E-1.
  const auto text = test::read_file(file);
  EXPECT_EQ(text.find("E-"), std::string::npos) << text;
  EXPECT_NE(text.find("\"seconds\":0.610262209"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgship::agent
