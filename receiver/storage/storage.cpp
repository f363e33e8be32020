#include "storage/storage.hpp"

namespace pgship::receiver {

std::unique_ptr<staged_upload> storage::begin(const std::filesystem::path&, const std::string&,
                                              const std::string&) {
  return nullptr;
}

std::error_code storage::refresh() {
  return {};
}

std::string storage::problem() const {
  return {};
}

}  // namespace pgship::receiver
