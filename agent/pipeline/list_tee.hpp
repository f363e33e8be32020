#pragma once
// Verification without a second read: `pg_restore --list` reads a tee of the archive while
// pg_dump writes it. pg_restore reads the table of contents at the archive's start and exits;
// from then on nothing more is copied. The tee buffers what pg_restore has not read yet, up to
// a bound; past it the tee gives up and the caller verifies by reading the file back.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pgship/common/io/sink.hpp>

#include "child_process.hpp"
#include "pg_tools.hpp"

namespace pgship::agent {

class list_tee final : public io::filter {
 public:
  list_tee(io::sink& next, boost::asio::any_io_executor ex);
  std::error_code write(std::span<const char> data) override;
  /// The dump ended well: pg_restore gets the end of its input too.
  std::error_code finish() override;
  /// pg_dump is done writing: pg_restore gets what is pending, then the end of its input.
  void input_ended();
  /// The dump failed: pg_restore's input ends here (its verdict no longer matters).
  void stop();
  /// Runs `pg_restore --list` on the tee until it exits.
  boost::asio::awaitable<void> run(const pg_tool& pg_restore);
  /// Runs another lister (`tar --list`) on the tee; `what` names it in problem().
  boost::asio::awaitable<void> run(child_spec spec, stdout_sink out, std::string what);

  /// pg_restore read the archive's table of contents and exited 0.
  bool listed() const { return listed_; }
  /// Why not: pg_restore's complaint, or that the tee gave up (then verify reads the file).
  const std::string& problem() const { return problem_; }
  bool gave_up() const { return gave_up_; }
  std::uint64_t entries() const { return entries_; }

 private:
  void wake();

  std::vector<char> pending_;  // copied, not yet written to pg_restore
  boost::asio::steady_timer wake_;
  bool waiting_ = false;
  bool copying_ = true;  // until pg_restore stops reading or the bound is hit
  bool ended_ = false;
  bool listed_ = false;
  bool gave_up_ = false;
  std::string problem_;
  std::uint64_t entries_ = 0;
};

/// Runs the child that writes into the chain holding `tee` (pg_dump, tar) and the listing
/// `list` side by side; the producer's end, good or bad, ends the listing's input.
boost::asio::awaitable<child_result> run_with_listing(
    list_tee& tee, const child_spec& producer, stdout_sink sink,
    std::shared_ptr<child_handle> handle, std::function<boost::asio::awaitable<void>()> list);

}  // namespace pgship::agent
