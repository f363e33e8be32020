#include "open_storage.hpp"

#include "posix_storage.hpp"

namespace pgship::receiver {

std::unique_ptr<storage> open_storage(const settings& s) {
  return std::make_unique<posix_storage>(s.storage_dir);
}

}  // namespace pgship::receiver
