#include "storage/s3/object_range.hpp"
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pgship::receiver::s3 {
namespace {

// Reads a range of an object from one GET; a connection lost midway is resumed from where it
// stopped, as long as the object is still the one first read (If-Match).
class range_reader final : public object_reader {
 public:
  range_reader(bucket& b, std::string key, std::uint64_t first, std::uint64_t length)
      : bucket_(b), key_(std::move(key)), offset_(first), left_(length) {}

  std::error_code open() {
    header_list headers{{"range", fmt::format("bytes={}-{}", offset_, offset_ + left_ - 1)}};
    if (!etag_.empty()) headers.emplace_back("if-match", "\"" + etag_ + "\"");
    response head;
    if (auto ec = bucket_.http().get(key_, headers, head, body_)) return ec;
    if (head.status == 404) return std::make_error_code(std::errc::no_such_file_or_directory);
    // 200 is the whole object from its first byte: right only for a range that starts there.
    if (head.status != 206 && !(head.status == 200 && offset_ == 0)) {
      spdlog::warn("S3 GET {}: {}", key_, head.describe());
      return std::make_error_code(std::errc::io_error);
    }
    if (etag_.empty()) etag_ = head.etag();
    return {};
  }

  std::error_code read(std::span<char> buf, std::size_t& got) override {
    got = 0;
    if (left_ == 0) return {};
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), left_));
    for (int tries = 0;; ++tries) {
      std::error_code ec;
      if (!body_) {
        ec = open();
      }
      if (!ec) ec = body_->read(buf.first(want), got);
      if (!ec && got == 0) ec = std::make_error_code(std::errc::io_error);  // ended early
      if (!ec) break;
      body_.reset();
      if (tries >= 3 || ec == std::errc::no_such_file_or_directory) return ec;
    }
    offset_ += got;
    left_ -= got;
    return {};
  }
  std::string identity() const override { return etag_; }

 private:
  bucket& bucket_;
  std::string key_;
  std::uint64_t offset_, left_;
  std::string etag_;
  std::unique_ptr<body_reader> body_;
};

class empty_reader final : public object_reader {
 public:
  std::error_code read(std::span<char>, std::size_t& got) override {
    got = 0;
    return {};
  }
  std::string identity() const override { return {}; }
};

}  // namespace

result<std::unique_ptr<object_reader>> open_object_range(bucket& b, const std::string& key,
                                                         std::uint64_t first,
                                                         std::uint64_t length) {
  if (length == 0) return std::make_unique<empty_reader>();
  auto reader = std::make_unique<range_reader>(b, key, first, length);
  if (auto ec = reader->open()) return ec;
  return reader;
}

}  // namespace pgship::receiver::s3
