#pragma once
// One writer of a key at a time in this process: a create-only write on S3 checks that its key
// is free and then puts, and two requests of this receiver must not both pass the check.
// (Another replica's write of the same key is caught otherwise: an ETag check, or a
// conditional PUT where the engine has one.)

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

namespace pgship::receiver::s3 {

class key_locks {
 public:
  /// Holds `key` from its construction (waiting while another holder has it) to its end.
  class held {
   public:
    held(key_locks& locks, std::string key);
    ~held();
    held(const held&) = delete;
    held& operator=(const held&) = delete;

   private:
    key_locks& locks_;
    std::string key_;
  };

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::set<std::string> held_;
};

}  // namespace pgship::receiver::s3
