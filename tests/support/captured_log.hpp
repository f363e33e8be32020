#pragma once
// Routes spdlog's default logger into a string for the lifetime of the object, keeping spdlog's
// plain "%v" so the raw payload that log::write() hands to spdlog is visible. Lines below
// `level` are dropped, so a test can tell the level a line was logged at.

#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace pgship::test {

class captured_log {
 public:
  explicit captured_log(spdlog::level::level_enum level) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%v");
    auto logger = std::make_shared<spdlog::logger>("capture", std::move(sink));
    logger->set_level(level);
    spdlog::set_default_logger(std::move(logger));
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace pgship::test
