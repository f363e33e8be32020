#include "storage/storage.hpp"

#include <pgship/common/fs.hpp>

namespace pgship::receiver {

std::optional<manifest_name> manifest_name_beside(const backup_record& backup,
                                                  const stored_manifest& m) {
  auto name = parse_manifest_name(m.name);
  if (!name || name->backup != backup.id || !fs::is_safe_name(backup.client) ||
      !fs::is_safe_name(backup.database)) {
    return std::nullopt;
  }
  return name;
}

bool may_hold_manifest(const backup_record& backup) {
  return fs::is_safe_name(backup.client) && fs::is_safe_name(backup.database) &&
         fs::is_safe_name(backup.id);
}

std::unique_ptr<staged_upload> storage::begin(const std::filesystem::path&, const std::string&,
                                              const std::string&) {
  return nullptr;
}

result<commit_result> storage::commit(commit_request request) {
  auto done = do_commit(std::move(request));
  if (done && done->outcome == commit_outcome::created) {
    ledger_.created(done->record.client, done->record.size);
  }
  return done;
}

std::error_code storage::remove(const std::string& client, const std::string& id) {
  const auto removed = do_remove(client, id);
  if (!removed) return removed.error();
  ledger_.removed(client, removed->size);
  return {};
}

std::error_code storage::quarantine(const backup_record& record, const std::string& identity) {
  if (auto ec = do_quarantine(record, identity)) return ec;
  ledger_.quarantined_one(record.client, record.size);
  return {};
}

std::size_t storage::quarantined() const {
  return ledger_.quarantined();
}

usage_map storage::usage() const {
  return ledger_.usage();
}

std::error_code storage::refresh() {
  const auto begun = ledger_.count_begins();
  auto found = do_count();
  if (!found) {
    ledger_.count_failed(begun);
    return found.error();
  }
  ledger_.recounted(begun, std::move(*found));
  return {};
}

std::string storage::problem() const {
  return {};
}

wal_store* storage::wal() {
  return nullptr;
}

void storage::counted(store_count found) {
  ledger_.recounted(ledger_.count_begins(), std::move(found));
}

}  // namespace pgship::receiver
