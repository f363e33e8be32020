#include "storage/fault/faulty_storage.hpp"

namespace pgship::receiver {

// Reads through the inner reader unless reads are told to fail.
class faulty_storage::faulty_reader final : public object_reader {
 public:
  faulty_reader(const faulty_storage& owner, std::unique_ptr<object_reader> inner)
      : owner_(owner), inner_(std::move(inner)) {}

  std::error_code read(std::span<char> buf, std::size_t& got) override {
    got = 0;
    if (auto ec = owner_.check(storage_op::read)) return ec;
    return inner_->read(buf, got);
  }
  std::string identity() const override { return inner_->identity(); }

 private:
  const faulty_storage& owner_;
  std::unique_ptr<object_reader> inner_;
};

faulty_storage::faulty_storage(std::unique_ptr<storage> inner) : inner_(std::move(inner)) {
  counted({inner_->usage(), inner_->quarantined()});
}

void faulty_storage::fail(storage_op op, std::error_code ec, int times) {
  std::lock_guard lock(mutex_);
  faults_[op] = {ec, times};
}

void faulty_storage::heal(storage_op op) {
  std::lock_guard lock(mutex_);
  faults_.erase(op);
}

int faulty_storage::calls(storage_op op) const {
  std::lock_guard lock(mutex_);
  const auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

std::error_code faulty_storage::check(storage_op op) const {
  std::lock_guard lock(mutex_);
  ++calls_[op];
  const auto it = faults_.find(op);
  if (it == faults_.end() || it->second.left == 0) return {};
  if (it->second.left > 0) --it->second.left;
  return it->second.ec;
}

storage_capabilities faulty_storage::capabilities() const {
  return inner_->capabilities();
}

std::unique_ptr<staged_upload> faulty_storage::begin(const std::filesystem::path& spooled,
                                                     const std::string& client,
                                                     const std::string& file_name) {
  return inner_->begin(spooled, client, file_name);
}

result<commit_result> faulty_storage::do_commit(commit_request request) {
  if (auto ec = check(storage_op::commit)) return ec;
  return inner_->commit(std::move(request));
}

result<std::vector<backup_record>> faulty_storage::list(
    const std::string& client, const std::optional<std::string>& database) const {
  if (auto ec = check(storage_op::list)) return ec;
  return inner_->list(client, database);
}

result<std::optional<backup_record>> faulty_storage::find(const std::string& client,
                                                          const std::string& id) const {
  if (auto ec = check(storage_op::find)) return ec;
  return inner_->find(client, id);
}

result<std::unique_ptr<object_reader>> faulty_storage::open_range(const backup_record& record,
                                                                  std::uint64_t first,
                                                                  std::uint64_t length) const {
  if (auto ec = check(storage_op::open_range)) return ec;
  auto reader = inner_->open_range(record, first, length);
  if (!reader) return reader;
  return std::make_unique<faulty_reader>(*this, std::move(*reader));
}

result<backup_record> faulty_storage::do_remove(const std::string& client, const std::string& id) {
  if (auto ec = check(storage_op::remove)) return ec;
  auto record = inner_->find(client, id);
  if (!record) return record.error();
  if (auto ec = inner_->remove(client, id)) return ec;
  // What the inner store removed: the record found just before (the test's own store).
  if (!*record) return std::make_error_code(std::errc::no_such_file_or_directory);
  return std::move(**record);
}

result<manifest_outcome> faulty_storage::put_manifest(const backup_record& backup,
                                                      const stored_manifest& m, bool may_replace) {
  if (auto ec = check(storage_op::put_manifest)) return ec;
  return inner_->put_manifest(backup, m, may_replace);
}

result<std::optional<stored_manifest>> faulty_storage::get_manifest(
    const backup_record& backup) const {
  if (auto ec = check(storage_op::get_manifest)) return ec;
  return inner_->get_manifest(backup);
}

std::error_code faulty_storage::do_quarantine(const backup_record& record,
                                              const std::string& identity) {
  if (auto ec = check(storage_op::quarantine)) return ec;
  return inner_->quarantine(record, identity);
}

result<store_count> faulty_storage::do_count() {
  if (auto ec = check(storage_op::refresh)) return ec;
  if (auto ec = inner_->refresh()) return ec;
  return store_count{inner_->usage(), inner_->quarantined()};
}

std::string faulty_storage::problem() const {
  return inner_->problem();
}

}  // namespace pgship::receiver
