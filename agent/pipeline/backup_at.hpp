#pragma once
// Restore by time (`restore --at`, `list --at`, logical): the time as the operator wrote it, and
// the newest dump of a database taken at or before it. Pure, over the receiver's list.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/receiver_api.hpp"

namespace pgship::agent {

/// An RFC 3339 time with its offset ("2026-03-01T12:00:00Z"), or "YYYY-MM-DD HH:MM[:SS]" read
/// in TZ (the process's zone; a wall time that happens twice is its first, one that never
/// happens the end of the gap). nullopt with `why`.
std::optional<std::chrono::system_clock::time_point> parse_backup_time(std::string_view text,
                                                                       std::string& why);

/// The newest dump of `database` (`""`: of the one database dumped; more than one is refused,
/// naming them) taken at or before `at`, from `backups` in any order. nullopt with `why`: no
/// dump of it at all, or `at` before the oldest (which is named, with its time).
std::optional<remote_backup> dump_at(const std::vector<remote_backup>& backups,
                                     const std::string& database,
                                     std::chrono::system_clock::time_point at, std::string& why);

/// The newest dump of each database taken at or before `at`, by database; a database whose
/// oldest dump is newer than `at` maps to nullopt.
std::vector<std::pair<std::string, std::optional<remote_backup>>> dumps_at(
    const std::vector<remote_backup>& backups, std::chrono::system_clock::time_point at);

}  // namespace pgship::agent
