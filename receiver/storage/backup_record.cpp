#include "storage/backup_record.hpp"
#include <algorithm>

namespace pgship::receiver {

void sort_newest_first(std::vector<backup_record>& records) {
  std::sort(records.begin(), records.end(), [](const backup_record& a, const backup_record& b) {
    return a.taken != b.taken ? a.taken > b.taken : a.id > b.id;
  });
}

}  // namespace pgship::receiver
