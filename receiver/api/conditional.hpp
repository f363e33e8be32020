#pragma once
// Conditional requests on a download (RFC 9110 §13): If-Match, If-None-Match and If-Range
// against the backup's ETag (its quoted sha256, a strong validator). The receiver sends no
// Last-Modified, so an If-Range that is a date never holds and the whole file is sent.

#include <string_view>

namespace pgship::receiver {

enum class precondition { proceed, not_modified, failed };

/// If-Match (absent, "*", or a list with a strong match: proceed; else 412), then
/// If-None-Match ("*" or a weak match: 304 for GET and HEAD).
precondition evaluate_preconditions(std::string_view if_match, std::string_view if_none_match,
                                    std::string_view etag);

/// Whether a Range may be honoured: true without If-Range, or when If-Range is an entity-tag
/// that matches `etag` strongly.
bool if_range_holds(std::string_view if_range, std::string_view etag);

}  // namespace pgship::receiver
