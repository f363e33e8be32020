#pragma once
// The chain's file ends: a writer that survives EINTR and short writes, starts writeback as
// it goes (sync_file_range) so the final fdatasync does not wait for the whole file, and makes
// the file durable at finish(); a new file as a chain's end; the one pread loop (range_reader);
// and a source that pumps a file (or a range of it) through a chain in fixed-size blocks, so
// memory stays flat whatever the size.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <system_error>

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

/// A file the chain creates (exclusively, mode 0600) and ends in: written as file_writer
/// writes, made durable and closed at finish(), closed and removed at abort(). Destroyed
/// otherwise, it is closed and left.
class new_file final : public sink {
 public:
  /// Creates `path`, which must not exist; `ec` says why it could not.
  new_file(std::filesystem::path path, std::error_code& ec);
  ~new_file() override;
  new_file(const new_file&) = delete;
  new_file& operator=(const new_file&) = delete;
  std::error_code write(std::span<const char> data) override { return writer_.write(data); }
  std::error_code finish() override;
  void abort() override;

 private:
  void close();

  std::filesystem::path path_;
  int fd_;
  file_writer writer_;
};

/// Bytes [offset, offset + length) of a file, read front to back with pread, EINTR retried:
/// the one pread loop, under every file source. The fd stays the caller's, its offset unmoved.
class range_reader {
 public:
  /// `length` nullopt: to the file's end.
  range_reader(int fd, std::uint64_t offset, std::optional<std::uint64_t> length)
      : fd_(fd), offset_(offset), left_(length.value_or(UINT64_MAX)), exact_(length) {}
  /// The next bytes, at most `buffer`'s size, into it; `got` is 0 once the range is read. A
  /// file that ends before the range does is std::errc::io_error; a failed read, its errno.
  std::error_code read(std::span<char> buffer, std::size_t& got);
  /// Where the next read starts.
  std::uint64_t offset() const { return offset_; }

 private:
  int fd_;
  std::uint64_t offset_;
  std::uint64_t left_;
  bool exact_;  // a length was given: a file ending before it is an error
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
