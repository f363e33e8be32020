#pragma once
// The process's TZ set to a zone for one test body, restored afterwards (schedules and
// wall-time arguments are read in it).

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace pgship::test {

class zone_guard {
 public:
  explicit zone_guard(const char* zone) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  ~zone_guard() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  zone_guard(const zone_guard&) = delete;
  zone_guard& operator=(const zone_guard&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace pgship::test
