#pragma once
// File-system steps both POSIX stores (backups and the physical archive) take: durable
// directories, small whole-file reads, and a reader over a range of an open file.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "storage/storage.hpp"

namespace pgship::receiver::posix_files {

/// Creates each missing directory of `relative` below `root` and syncs its parent, so the new
/// directory entry survives a crash.
std::error_code make_durable_dirs(const std::filesystem::path& root,
                                  const std::filesystem::path& relative);

/// The whole file when it has at most `limit` bytes (else EFBIG); ENOENT when there is none.
std::optional<std::string> read_whole_file(const std::filesystem::path& p, std::uint64_t limit,
                                           std::error_code& ec);

/// Reads `length` bytes of `path` from `first`; the object is named by its inode.
result<std::unique_ptr<object_reader>> open_file_range(const std::filesystem::path& path,
                                                       std::uint64_t first, std::uint64_t length);

}  // namespace pgship::receiver::posix_files
