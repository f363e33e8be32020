#pragma once
// A file in .incoming/ being written by an upload. Removed on destruction unless keep() was
// called (committed, or a tus upload that stays resumable). Not thread-safe.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <system_error>

#include "storage/storage.hpp"

namespace pgship::receiver {

class incoming_file {
 public:
  incoming_file() = default;
  ~incoming_file();
  incoming_file(incoming_file&& other) noexcept;
  incoming_file& operator=(incoming_file&& other) noexcept;

  /// Creates a new file (fails if it exists).
  std::error_code create(const std::filesystem::path& path);
  /// Opens an existing file for appending at `offset`; the file is truncated to `offset`.
  std::error_code open_at(const std::filesystem::path& path, std::uint64_t offset);

  /// Appends all of `data`, or on an error nothing (the file is cut back to its size before).
  std::error_code write(std::string_view data);
  std::error_code sync();
  /// Cuts the file back to `offset` (a PATCH whose checksum failed).
  std::error_code truncate(std::uint64_t offset);
  void close();
  /// Closes and removes the file now (before an error answer reaches the client, so nothing
  /// of a refused upload is left by the time the client looks).
  void discard();

  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  /// Whether the file survives destruction.
  void keep(bool keep = true) { keep_ = keep; }
  /// Whether the kernel is asked to write the file back as it grows, so the fsync at commit
  /// has little left (on by default; off for a spool file that never needs to reach disk).
  void write_back(bool on) { write_back_ = on; }
  /// Tells `staged` about every byte written from now on (storage::begin), by grew() when
  /// `report_writes`; otherwise the caller feeds it (staged_upload::arrived).
  void stage(std::unique_ptr<staged_upload> staged, bool report_writes = true) {
    staged_ = std::move(staged);
    report_writes_ = report_writes;
  }
  staged_upload* staged() const { return staged_.get(); }
  std::unique_ptr<staged_upload> take_staged() { return std::move(staged_); }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
  std::uint64_t written_back_ = 0;  // bytes handed to the kernel's writeback so far
  bool keep_ = false;
  bool write_back_ = true;
  bool report_writes_ = true;
  std::unique_ptr<staged_upload> staged_;
};

}  // namespace pgship::receiver
