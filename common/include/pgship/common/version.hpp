#pragma once

namespace pgship {
// Both come from git at build time (cmake/version.cmake): the tag-based version, as in
// `git describe`, and the full commit id.
extern const char* const version;
extern const char* const revision;
}  // namespace pgship
