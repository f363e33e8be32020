#include <pgship/common/io/filter_group.hpp>

namespace pgship::io {

// The first stage goes first, while the stages it refers to still exist.
filter_group::~filter_group() {
  while (!stages_.empty())
    stages_.pop_back();
}

}  // namespace pgship::io
