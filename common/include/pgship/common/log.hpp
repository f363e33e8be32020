#pragma once
// Logging on spdlog: one line per event on stderr, as `text` (human) or `json` (one object per
// line: ts, level, msg, then structured fields). Structured fields travel with the message so
// plain spdlog calls keep working and fields survive across coroutine suspensions.

#include <chrono>
#include <concepts>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

namespace pgship::log {

enum class format { text, json };

/// Installs the process-wide logger. Call once at start-up, before any other thread logs.
void setup(format fmt, spdlog::level::level_enum level);

/// "text"/"json" and "trace".."critical" (also "warning", "off"); nullopt if unknown.
std::optional<format> parse_format(std::string_view text);
std::optional<spdlog::level::level_enum> parse_level(std::string_view text);

/// A structured field: a key and a value kept as text, with whether it is a JSON string.
struct field {
  std::string key;
  std::string value;
  bool quoted = true;

  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(v) {}
  field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  template <std::integral T>
  field(std::string_view k, T v) : key(k), value(std::to_string(v)), quoted(false) {}
  field(std::string_view k, double v);
};

/// Logs `msg` with fields at `level`.
void write(spdlog::level::level_enum level, std::string_view msg, const std::vector<field>& fields);

/// A set of fields (run_id, database, peer...) that every line logged through it carries.
class context {
 public:
  context() = default;
  context(std::initializer_list<field> fields) : fields_(fields) {}

  /// A copy with more fields.
  context with(std::initializer_list<field> more) const;
  const std::vector<field>& fields() const { return fields_; }

  template <class... Args>
  void log(spdlog::level::level_enum level, fmt::format_string<Args...> f, Args&&... args) const {
    if (!spdlog::should_log(level)) return;
    write(level, fmt::format(f, std::forward<Args>(args)...), fields_);
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) const {
    log(spdlog::level::debug, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) const {
    log(spdlog::level::info, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... a) const {
    log(spdlog::level::warn, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) const {
    log(spdlog::level::err, f, std::forward<Args>(a)...);
  }

 private:
  std::vector<field> fields_;
};

/// While alive, every line that carries the field run_id=`run_id` is also appended to `path`,
/// in the process's log format: one run's own log file (the old tool kept one per run).
/// Thread-safe; several may be open at once.
class run_log_file {
 public:
  run_log_file(std::string run_id, const std::filesystem::path& path);
  ~run_log_file();
  run_log_file(const run_log_file&) = delete;
  run_log_file& operator=(const run_log_file&) = delete;

  /// Empty when the file is open; else why it could not be.
  const std::string& error() const { return error_; }

 private:
  std::string run_id_;
  std::string error_;
};

/// A terminal's status line on stderr (progress): replaces the one shown, is cleared before
/// each log line and drawn again after it. Empty text clears it.
void set_status_line(std::string text);
/// One whole line on stderr between log lines (progress as JSON for scripts).
void write_stderr_line(std::string_view line);
/// One whole line on stdout (a command's own words), clearing the status line first when both
/// share a terminal, and drawing it again after.
void write_stdout_line(std::string_view line);

/// Formats one record the way the sink would; exposed for tests.
std::string format_line(format fmt, spdlog::level::level_enum level, std::string_view payload,
                        std::chrono::system_clock::time_point when);

}  // namespace pgship::log
