#pragma once
// A streaming multipart/form-data parser (RFC 7578 / RFC 2046): bytes go in as they arrive
// from the socket, in chunks of any size, and come out as part headers and part data without
// ever holding more than a boundary's worth of lookahead plus one part header in memory. A
// 10 GiB upload passes through in constant memory.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgship::receiver {

/// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type (quoted or
/// not, parameters in any order, type case-insensitive); nullopt if not multipart/form-data or
/// the boundary is missing, empty or longer than 70 characters.
std::optional<std::string> multipart_boundary(std::string_view content_type);

class multipart_parser {
 public:
  struct part_info {
    std::string name;                     // Content-Disposition name
    std::optional<std::string> filename;  // Content-Disposition filename, if any
    std::string content_type;             // "" when absent
  };

  struct callbacks {
    /// A part begins. Return false to abort parsing (feed() then returns false).
    std::function<bool(const part_info&)> on_part_begin;
    /// Bytes of the current part's body, in order; may be called many times per part.
    std::function<bool(std::string_view data)> on_part_data;
    /// The current part ended (its closing boundary was seen).
    std::function<bool()> on_part_end;
  };

  multipart_parser(std::string boundary, callbacks cb, std::size_t max_header_bytes = 16 * 1024);

  /// Feeds the next bytes. Returns false on malformed input (error() says why), when a callback
  /// returned false, or when called after done().
  bool feed(std::string_view bytes);

  /// True once the final `--boundary--` delimiter was seen (trailing epilogue is ignored).
  bool done() const;
  /// Human-readable reason after feed() returned false ("" otherwise).
  const std::string& error() const;

 private:
  // Implementation state: the helper who implements this may add members here.
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace pgship::receiver
