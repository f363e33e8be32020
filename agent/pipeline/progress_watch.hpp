#pragma once
// Watches a run's live progress once a second while it runs: a stage that makes no progress
// for a minute is logged (and kept for the run's record), and a one-shot command shows bytes,
// rate and ETA on stderr (--progress): one status line on a terminal, redrawn in place and
// cleared at the end, or one JSON object per line for scripts.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pipeline/progress_meter.hpp"
#include "pipeline/run_control.hpp"

namespace pgship::agent {

enum class progress_mode { never, line, json };

/// --progress: `auto` (a status line when stderr is a terminal, else nothing), `always`,
/// `never` or `json`; nullopt for anything else.
std::optional<progress_mode> parse_progress_mode(std::string_view text, bool stderr_is_terminal);

/// Whether this process's stderr is a terminal.
bool stderr_is_terminal();

/// One line of progress as --progress=json prints it.
std::string progress_json(std::string_view command, const progress_view& v);
/// The status line: "backup trading: upload 12.0 MiB of 48.0 MiB (25%), 4.0 MiB/s, ETA 0:09".
std::string progress_line(std::string_view command, const progress_view& v);

class progress_watch {
 public:
  /// Starts watching `progress` on `ex`; it must outlive the watch or its stop().
  progress_watch(boost::asio::any_io_executor ex, const live_progress& progress, progress_mode mode,
                 std::string command, log::context lg);
  ~progress_watch();
  progress_watch(const progress_watch&) = delete;
  progress_watch& operator=(const progress_watch&) = delete;

  /// Stops watching and clears the status line. Idempotent.
  void stop();

  /// The stalls noticed so far, for the run's record.
  std::vector<stall_note> stalls() const;

 private:
  struct state;
  static boost::asio::awaitable<void> watch(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace pgship::agent
