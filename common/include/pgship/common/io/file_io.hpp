#pragma once
// The chain's file ends: a writer that survives EINTR and short writes, starts writeback as
// it goes (sync_file_range) so the final fdatasync does not wait for the whole file, and makes
// the file durable at finish(); and a source that pumps a file (or a range of it) through a
// chain in fixed-size blocks, so memory stays flat whatever the size.

#include <cstdint>
#include <filesystem>
#include <optional>

#include <pgship/common/io/sink.hpp>

namespace pgship::io {

class file_writer final : public sink {
 public:
  /// Writes to `fd`, which stays the caller's (not closed here), from its current offset.
  /// `durable`: finish() fdatasyncs; without it the bytes may still sit in the page cache.
  explicit file_writer(int fd, bool durable = true) : fd_(fd), durable_(durable) {}
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;
  std::uint64_t bytes() const { return bytes_; }

 private:
  int fd_;
  bool durable_;
  std::uint64_t bytes_ = 0;
  std::uint64_t synced_ = 0;
};

/// write(2) until all of `data` is written; EINTR retried.
std::error_code write_all(int fd, std::span<const char> data);

/// Sends bytes [offset, offset + length) of `fd` (to its end when `length` is nullopt) into
/// `out` in blocks of `block` bytes, then finishes `out`. A file shorter than asked is
/// std::errc::io_error. Reads with pread: the fd's own offset does not move.
std::error_code pump_file(int fd, sink& out, std::uint64_t offset = 0,
                          std::optional<std::uint64_t> length = std::nullopt,
                          std::size_t block = 256 * 1024);
/// The same for a file by name.
std::error_code pump_file(const std::filesystem::path& path, sink& out);

}  // namespace pgship::io
