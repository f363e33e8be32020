#pragma once
// One committed backup as the receiver records it and GET /api/backup/list returns it: one
// JSON codec for the receiver (its API and its stores) and the agent (its listing).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/backup_name.hpp>

namespace pgship::wire {

struct backup_record {
  std::string id;  // the file name, <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::string client;
  std::string database;
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
  std::chrono::system_clock::time_point taken;
  std::chrono::system_clock::time_point uploaded;

  bool operator==(const backup_record&) const = default;
};

/// The JSON field names of a record.
namespace record_field {
inline constexpr std::string_view id = "id";
inline constexpr std::string_view filename = "filename";  // = id: the FastAPI receiver's name
inline constexpr std::string_view client = "client";
inline constexpr std::string_view database = "database";
inline constexpr std::string_view kind = "kind";  // written, not read: the id says it
inline constexpr std::string_view size = "size";
inline constexpr std::string_view sha256 = "sha256";
inline constexpr std::string_view created_at = "created_at";    // taken, UTC text
inline constexpr std::string_view uploaded_at = "uploaded_at";  // UTC text
}  // namespace record_field

/// What the backup holds, as its id (the file name) says: one rule for both programs.
backup_kind kind_of(const backup_record& record);

/// The record as the API returns it (with its `kind`) (one JSON object), and as the stores
/// keep it; a list is a JSON array of them.
std::string to_json(const backup_record& record);
std::string to_json(const std::vector<backup_record>& records);
/// nullopt when `text` is not a complete record.
std::optional<backup_record> record_from_json(std::string_view text);
/// nullopt when `text` is not a JSON array of complete records.
std::optional<std::vector<backup_record>> records_from_json(std::string_view text);

}  // namespace pgship::wire
