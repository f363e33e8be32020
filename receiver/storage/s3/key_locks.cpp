#include "storage/s3/key_locks.hpp"

namespace pgship::receiver::s3 {

key_locks::held::held(key_locks& locks, std::string key) : locks_(locks), key_(std::move(key)) {
  std::unique_lock lock(locks_.mutex_);
  locks_.freed_.wait(lock, [&] { return !locks_.held_.contains(key_); });
  locks_.held_.insert(key_);
}

key_locks::held::~held() {
  {
    std::lock_guard lock(locks_.mutex_);
    locks_.held_.erase(key_);
  }
  locks_.freed_.notify_all();
}

}  // namespace pgship::receiver::s3
