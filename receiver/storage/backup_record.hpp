#pragma once
// One committed backup as the receiver records it (wire/backup_record.hpp), its order, and what
// committing one did.

#include <vector>

#include <pgship/common/wire/backup_record.hpp>

namespace pgship::receiver {

// The record and its JSON codec are the wire's: one for both programs.
using wire::backup_record;
using wire::kind_of;
using wire::record_from_json;
using wire::to_json;

/// Newest first (by backup timestamp, then name): the order of every list.
void sort_newest_first(std::vector<backup_record>& records);

enum class commit_outcome {
  created,    // new backup stored
  identical,  // same name and same hash already stored: nothing changed (retry-safe)
  conflict,   // same name, different hash: refused, nothing changed
};

}  // namespace pgship::receiver
