#pragma once
// HEALTHCHECK_PING_URL: a healthchecks.io-style dead-man's switch for backup runs. A run POSTs
// <url>/start once it holds BACKUP_DIR, then <url> when it succeeded or <url>/fail when it
// failed, each with ?rid=<run id> (so the service pairs start and end) and the run log's tail
// as the body. With {db} in the URL each database has its check and its own outcome. A ping
// never fails or holds up a run for long: three tries within about half a minute, then a log
// line that names no URL (the URL is the credential).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

namespace pgship::agent {

enum class ping_event { start, success, fail };

/// The URL of `event` for `database`: {db} replaced, "/start" or "/fail" appended (nothing for
/// success), then "?rid=<run id>".
std::string ping_url(std::string_view url_template, std::string_view database, ping_event event,
                     std::string_view run_id);

/// The last `limit` bytes of `log_file` (healthchecks.io keeps 10,000 bytes of a ping's body),
/// cut at a line start; "" when it cannot be read.
std::string log_tail(const std::filesystem::path& log_file, std::size_t limit = 10000);

/// POSTs `body` to `url`: up to three tries, 10 s each, 1 s apart; a failure is logged.
boost::asio::awaitable<void> send_ping(std::string url, std::string body, const log::context& lg);

}  // namespace pgship::agent
