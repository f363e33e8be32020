#pragma once
// Durable file-system steps the commit rules rely on. All return error codes: a full disk or
// a read-only mount is an expected outcome, not an exception.

#include <filesystem>
#include <string_view>
#include <system_error>

namespace pgship::fs {

/// fsync a directory so that a rename or create inside it survives a crash.
std::error_code fsync_directory(const std::filesystem::path& dir);

/// Writes `content` to `path` atomically: temp file beside it, fsync, rename, fsync directory.
/// Readers see the old file or the new one, never a torn one. `mode` is the new file's
/// permission bits (before the umask).
std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      unsigned mode = 0644);

/// A name is safe when it matches [A-Za-z0-9._-]+ (at most 255 characters), does not start with
/// '.' and holds no "..". Anything else is rejected, never sanitised into a path.
bool is_safe_name(std::string_view name);

}  // namespace pgship::fs
