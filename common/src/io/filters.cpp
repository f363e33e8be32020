#include <algorithm>

#include <pgship/common/io/filters.hpp>

namespace pgship::io {

std::error_code hash_filter::write(std::span<const char> data) {
  hash_.update(data.data(), data.size());
  bytes_ += data.size();
  return next_.write(data);
}

std::error_code hash_filter::finish() {
  digest_ = hash_.finish();
  return next_.finish();
}

std::error_code count_filter::write(std::span<const char> data) {
  bytes_ += data.size();
  if (auto ec = next_.write(data)) return ec;
  if (on_bytes_) on_bytes_(bytes_);
  return {};
}

std::error_code head_filter::write(std::span<const char> data) {
  if (head_.size() < keep_) head_.append(data.data(), std::min(data.size(), keep_ - head_.size()));
  return next_.write(data);
}

}  // namespace pgship::io
