#pragma once
// What a receiver's answer says when it refuses: its status and the JSON error body
// ({"error": name, "detail": text}) read back into the wire's catalogue and into one line for
// the operator.

#include <optional>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <pgship/common/wire/errors.hpp>

namespace pgship::agent {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

/// "HTTP 401 Unauthorized: invalid token" from the status and the receiver's JSON error.
std::string describe_response(const http_response& response);

/// The `error` field of the receiver's JSON error body as a catalogue entry; nullopt when there
/// is none or it names no entry.
std::optional<wire::api_error> error_field(const http_response& response);

}  // namespace pgship::agent
