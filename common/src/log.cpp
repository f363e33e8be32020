#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/utf8.hpp>

namespace pgship::log {
namespace {

// The payload of a record with fields: GS msg RS key US value US flag [RS key US value US
// flag]... Only write() starts a payload with GS, and it replaces these three characters in
// what it is given, so a client's bytes in a message can never forge a field or a line.
constexpr char fields_mark = '\x1d';
constexpr char record_sep = '\x1e';
constexpr char unit_sep = '\x1f';

void append_hex_escape(std::string& out, unsigned char c) {
  constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out += digits[c >> 4];
  out += digits[c & 0xf];
}

// Text we were handed, with the payload's separators written out as \xNN.
std::string without_separators(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == fields_mark || c == record_sep || c == unit_sep) {
      append_hex_escape(out, static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

// A message for the text format: one line whatever it holds (CR, LF, NUL, ESC... escaped).
std::string escape_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";  // so that a client's "\\n" text differs from an escaped line feed
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      append_hex_escape(out, u);
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// The files of run_log_file, by run id.
struct run_files {
  std::mutex mutex;
  std::map<std::string, std::FILE*, std::less<>> by_run;
  std::atomic<std::size_t> count{0};
};

run_files& open_run_files() {
  // Never destroyed: a thread may still log while static destructors run at exit.
  static auto* files = new run_files;
  return *files;
}

// The run_id field of a payload written by write(), if it has one.
std::string_view run_id_of(std::string_view payload) {
  static const std::string key = std::string(1, record_sep) + "run_id" + unit_sep;
  if (payload.empty() || payload.front() != fields_mark) return {};
  const auto at = payload.find(key);
  if (at == std::string_view::npos) return {};
  const auto value = payload.substr(at + key.size());
  return value.substr(0, value.find(unit_sep));
}

// Copies each line of a run into that run's file, formatted like the main sink.
class run_file_sink final : public spdlog::sinks::sink {
 public:
  explicit run_file_sink(log::format fmt) : fmt_(fmt) {}

  void log(const spdlog::details::log_msg& msg) override {
    auto& files = open_run_files();
    if (files.count == 0 || !should_log(msg.level)) return;
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const auto run_id = run_id_of(payload);
    if (run_id.empty()) return;
    std::lock_guard lock(files.mutex);
    const auto it = files.by_run.find(run_id);
    if (it == files.by_run.end()) return;
    const std::string line = format_line(fmt_, msg.level, payload, msg.time);
    std::fwrite(line.data(), 1, line.size(), it->second);
    std::fflush(it->second);
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  log::format fmt_;
};

// The terminal's status line (progress) under the log: cleared before each log line and drawn
// again after it, so the two never share a line. Guarded by stderr_state's mutex.
struct stderr_state {
  std::mutex mutex;
  std::string status;
};

stderr_state& shared_stderr() {
  // Never destroyed: a thread may still log while static destructors run at exit.
  static auto* state = new stderr_state;
  return *state;
}

constexpr std::string_view clear_line = "\r\x1b[K";

void put(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
}

// Writes `text` to `out` with the status line cleared first and drawn again after.
void above_status(std::FILE* out, std::string_view text) {
  auto& state = shared_stderr();
  std::lock_guard lock(state.mutex);
  if (!state.status.empty()) {
    put(clear_line);
    std::fflush(stderr);
  }
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
  if (!state.status.empty()) {
    put(state.status);
    std::fflush(stderr);
  }
}

class stderr_sink final : public spdlog::sinks::sink {
 public:
  explicit stderr_sink(log::format fmt) : fmt_(fmt) {}

  void log(const spdlog::details::log_msg& msg) override {
    if (!should_log(msg.level)) return;
    above_status(stderr,
                 format_line(fmt_, msg.level,
                             std::string_view(msg.payload.data(), msg.payload.size()), msg.time));
  }
  void flush() override { std::fflush(stderr); }
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  log::format fmt_;
};

// Until a program calls setup(), log as text at info level, so that lines with fields are
// readable in tests and early start-up too.
const bool default_logger_installed = [] {
  setup(format::text, spdlog::level::info);
  return true;
}();

}  // namespace

// NaN and infinities are not JSON numbers, so they travel as strings; the others as plain
// decimals (fmt's shortest form alone writes 1e-05).
field::field(std::string_view k, double v)
    : key(k),
      value(std::isfinite(v) ? plain_decimal(v) : fmt::format("{}", v)),
      quoted(!std::isfinite(v)) {}

std::optional<format> parse_format(std::string_view text) {
  if (text == "text") return format::text;
  if (text == "json") return format::json;
  return std::nullopt;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn" || text == "warning") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "critical") return spdlog::level::critical;
  if (text == "off") return spdlog::level::off;
  return std::nullopt;
}

void setup(format fmt, spdlog::level::level_enum level) {
  const spdlog::sinks_init_list sinks = {std::make_shared<stderr_sink>(fmt),
                                         std::make_shared<run_file_sink>(fmt)};
  auto logger = std::make_shared<spdlog::logger>("pgship", sinks);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void write(spdlog::level::level_enum level, std::string_view msg,
           const std::vector<field>& fields) {
  if (!spdlog::should_log(level)) return;
  std::string payload(1, fields_mark);
  payload += without_separators(msg);
  for (const auto& f : fields) {
    payload += record_sep;
    payload += without_separators(f.key);
    payload += unit_sep;
    payload += without_separators(f.value);
    payload += unit_sep;
    payload += f.quoted ? '"' : '-';
  }
  spdlog::log(level, "{}", payload);
}

void set_status_line(std::string text) {
  // Wider than the terminal, it would wrap, and "\r\x1b[K" clears only its last row: cut it.
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1) {
    text = utf8_prefix(text, size.ws_col - 1u);
  }
  auto& state = shared_stderr();
  std::lock_guard lock(state.mutex);
  if (!state.status.empty() || text.empty()) put(clear_line);
  state.status = std::move(text);
  put(state.status);
  std::fflush(stderr);
}

void write_stdout_line(std::string_view line) {
  above_status(stdout, std::string(line) + "\n");
}

void write_stderr_line(std::string_view line) {
  above_status(stderr, std::string(line) + "\n");
}

run_log_file::run_log_file(std::string run_id, const std::filesystem::path& path)
    : run_id_(std::move(run_id)) {
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) {
    error_ = "cannot open " + path.string() + ": " + std::strerror(errno);
    return;
  }
  auto& files = open_run_files();
  std::lock_guard lock(files.mutex);
  if (!files.by_run.emplace(run_id_, file).second) {
    std::fclose(file);
    error_ = "run " + run_id_ + " already has a log file";
    return;
  }
  ++files.count;
}

run_log_file::~run_log_file() {
  if (!error_.empty()) return;
  auto& files = open_run_files();
  std::lock_guard lock(files.mutex);
  if (const auto it = files.by_run.find(run_id_); it != files.by_run.end()) {
    std::fclose(it->second);
    files.by_run.erase(it);
    --files.count;
  }
}

context context::with(std::initializer_list<field> more) const {
  context copy = *this;
  copy.fields_.insert(copy.fields_.end(), more.begin(), more.end());
  return copy;
}

std::string format_line(format fmt, spdlog::level::level_enum level, std::string_view payload,
                        std::chrono::system_clock::time_point when) {
  // Without the mark the payload is a plain spdlog message: all of it is the message.
  const bool has_fields = !payload.empty() && payload.front() == fields_mark;
  if (has_fields) payload.remove_prefix(1);
  const auto first = has_fields ? payload.find(record_sep) : std::string_view::npos;
  const std::string_view msg = payload.substr(0, first);
  std::vector<field> fields;
  std::string_view rest =
      first == std::string_view::npos ? std::string_view{} : payload.substr(first + 1);
  while (!rest.empty()) {
    const auto end = rest.find(record_sep);
    const std::string_view item = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    const auto a = item.find(unit_sep);
    const auto b = item.find(unit_sep, a == std::string_view::npos ? a : a + 1);
    if (a == std::string_view::npos || b == std::string_view::npos) continue;
    field f(item.substr(0, a), item.substr(a + 1, b - a - 1));
    f.quoted = item.substr(b + 1) != "-";
    fields.push_back(std::move(f));
  }

  std::string line;
  if (fmt == format::json) {
    line = "{\"ts\":\"" + format_utc(when, true) + "\",\"level\":\"" +
           std::string(level_name(level)) + "\",\"msg\":" + json_string(msg);
    for (const auto& f : fields) {
      line += "," + json_string(f.key) + ":" + (f.quoted ? json_string(f.value) : f.value);
    }
    line += "}\n";
  } else {
    line =
        format_utc(when, true) + " " + std::string(level_name(level)) + " " + escape_controls(msg);
    for (const auto& f : fields) {
      line += " " + f.key + "=" + (needs_quotes(f.value) ? json_string(f.value) : f.value);
    }
    line += "\n";
  }
  return line;
}

}  // namespace pgship::log
