#pragma once
// One committed backup as the receiver records it and the API returns it, whatever stores it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/backup_name.hpp>

namespace pgship::receiver {

struct backup_record {
  std::string id;  // the file name, <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::string client;
  std::string database;
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
  std::chrono::system_clock::time_point taken;
  std::chrono::system_clock::time_point uploaded;
};

/// What the backup holds, as its id (the file name) says: one rule for both programs.
backup_kind kind_of(const backup_record& record);

/// The record as the API returns it (with its `kind`) (one JSON object), and as the stores keep it.
std::string to_json(const backup_record& record);
std::string to_json(const std::vector<backup_record>& records);
/// nullopt when `text` is not a complete record.
std::optional<backup_record> record_from_json(std::string_view text);

/// Newest first (by backup timestamp, then name): the order of every list.
void sort_newest_first(std::vector<backup_record>& records);

enum class commit_outcome {
  created,    // new backup stored
  identical,  // same name and same hash already stored: nothing changed (retry-safe)
  conflict,   // same name, different hash: refused, nothing changed
};

}  // namespace pgship::receiver
