#pragma once
// Message framing per RFC 9112 §6, as strict as a server behind a proxy must be: one reading
// of where a message ends, or none. Beast's parser is lenient where the RFC allows a choice
// (a Transfer-Encoding whose last coding is not chunked ends a request at its header; a
// Content-Length list of equal values is one value). A peer that frames differently could
// then smuggle a request inside a body, so these checks run on every header, request or
// response, before anything of the body is read.

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

#include <pgship/common/http/net.hpp>

namespace pgship::http_framing {

/// The longest chunk-size line (with its extensions) or trailer section a body may carry;
/// longer is refused, so a peer cannot make us buffer without end.
inline constexpr std::size_t max_chunk_line = 8 * 1024;

/// Why the header's framing is refused (nullopt: it is acceptable). Refused: any
/// Transfer-Encoding other than exactly one field "chunked", Transfer-Encoding in an HTTP/1.0
/// message, Transfer-Encoding together with Content-Length, more than one Content-Length, or
/// one that is not a single decimal number.
std::optional<std::string> framing_problem(const http::fields& fields, unsigned version);

/// `s` without the optional white space (spaces, tabs) RFC 9110 allows around field values
/// and list items.
std::string_view trim_ows(std::string_view s);

/// Why a request's Host is refused per RFC 9112 §3.2 (nullopt: acceptable): missing in
/// HTTP/1.1, given more than once, or not a host[:port].
std::optional<std::string> host_problem(const http::fields& fields, unsigned version);

enum class errc {
  line_too_long = 1,  // a chunk-size line or the trailer section exceeds max_chunk_line
};

const boost::system::error_category& error_category() noexcept;
error_code make_error_code(errc e) noexcept;

}  // namespace pgship::http_framing

template <>
struct boost::system::is_error_code_enum<pgship::http_framing::errc> : std::true_type {};
