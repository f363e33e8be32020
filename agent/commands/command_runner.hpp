#pragma once
// Runs a one-shot command's coroutine on its own io_context. The first SIGINT/SIGTERM calls
// `on_stop` (the command winds down and reports `cancelled`), a second one exits at once.

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "pipeline/progress_watch.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

/// Checks the options `restore` and `drill` share: --id a backup name (when given) and --jobs
/// from 1 to 64. Prints what is wrong and returns config_invalid's exit code, or 0.
int check_id_and_jobs(const std::string& id, int jobs);

/// Adds a one-shot command's finished run to BACKUP_DIR's run history, so that a daemon beside
/// it (same BACKUP_DIR) lists it in /api/v1/runs and counts it for /health. Nothing for a run
/// refused because another held BACKUP_DIR, nor without a BACKUP_DIR.
void add_to_run_history(const settings& cfg, const run_record& record);

/// A systemd-timer setup like the old tool's never runs the daemon: each one-shot run (backup
/// or drill) writes METRICS_TEXTFILE itself. Call after add_to_run_history: the last results
/// come from the history (this run included), so a shipped backup that rotation removed during
/// an outage still counts as the last success; the unshipped and newest local backups come
/// from BACKUP_DIR, so a run of one database keeps the others' series. Counters count this run
/// only. Nothing for a run refused because another held BACKUP_DIR: that one writes it.
void write_run_metrics(const settings& cfg, const run_record& record);

/// `job`, a run on `control`, with its progress watched: shown on stderr as `mode` says under
/// `command`'s name; the stages that stalled go into the record it returns.
boost::asio::awaitable<run_record> watched_run(
    std::function<boost::asio::awaitable<run_record>()> job, run_control& control,
    progress_mode mode, std::string command);

/// Where undelivered webhook events wait for the next run, under BACKUP_DIR.
inline constexpr const char* webhook_spool_dir = ".webhooks";
/// How long a one-shot command waits for its events' delivery before it exits.
inline constexpr std::chrono::seconds webhook_exit_wait{10};

/// After a one-shot run: its events to WEBHOOK_URL (nothing when unset) after those earlier
/// runs left in the spool, waiting at most webhook_exit_wait (what is still undelivered stays
/// in the spool), then its reports to the receiver (pipeline/run_reports, a short timeout).
boost::asio::awaitable<void> announce_run(const settings& cfg, const run_record& record);

int run_command(std::function<boost::asio::awaitable<int>()> body,
                std::function<void()> on_stop = nullptr);

}  // namespace pgship::agent
