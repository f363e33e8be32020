#pragma once
// A GoogleTest fixture that runs a pgship-receiver per test with one all-scopes token, and
// shows the receiver's log when the test fails.

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "receiver_process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {

class receiver_fixture : public ::testing::Test {
 protected:
  explicit receiver_fixture(std::string token) : token_(std::move(token)) {}

  void TearDown() override {
    if (HasFailure() && receiver_) std::cerr << "receiver log:\n" << receiver_->log();
  }

  /// Starts (or replaces) the receiver; BACKUP_API_TOKEN defaults to the fixture's token.
  receiver_process& start(std::map<std::string, std::string> env = {}) {
    env.try_emplace("BACKUP_API_TOKEN", token_);
    receiver_ = std::make_unique<receiver_process>(std::move(env));
    return *receiver_;
  }

  std::string token_;
  temp_dir dir_;
  std::unique_ptr<receiver_process> receiver_;
};

}  // namespace pgship::test
