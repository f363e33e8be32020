#include "pipeline/run_log.hpp"
#include <chrono>

#include "pipeline/run_record.hpp"

namespace pgship::agent {

namespace stdfs = std::filesystem;

std::unique_ptr<log::run_log_file> open_run_log(const settings& cfg, const std::string& run_id,
                                                std::string& path) {
  std::error_code ec;
  stdfs::create_directories(cfg.run_log_dir, ec);
  const auto cutoff =
      stdfs::file_time_type::clock::now() - std::chrono::hours(24) * cfg.run_log_keep_days;
  for (stdfs::directory_iterator it(cfg.run_log_dir, ec), end; !ec && it != end; it.increment(ec)) {
    // Only our own files: RUN_LOG_DIR may be shared with other logs.
    std::error_code tec;
    if (it->path().extension() != ".log" || !is_run_id(it->path().stem().string()) ||
        !it->is_regular_file(tec)) {
      continue;
    }
    if (it->last_write_time(tec) < cutoff && !tec) stdfs::remove(it->path(), tec);
  }
  const auto file = cfg.run_log_dir / (run_id + ".log");
  auto out = std::make_unique<log::run_log_file>(run_id, file);
  if (!out->error().empty()) {
    log::write(spdlog::level::warn, "no run log file: " + out->error(), {{"run_id", run_id}});
    return nullptr;
  }
  path = file.string();
  return out;
}

}  // namespace pgship::agent
