#pragma once
// Sends one stored object's bytes, whole or a Range of them, under RFC 9110's conditionals
// (api/conditional.hpp): a backup's dump, or a unit of the physical archive. HEAD gets the
// header alone.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pgship/common/http/exchange.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

struct stored_object {
  std::string what;       // "backup", "WAL unit": how the answers name it
  std::string file_name;  // Content-Disposition's
  std::string sha256;     // hex; the ETag is it quoted
  std::uint64_t size = 0;
  /// Opens bytes [first, first + length); called on a storage thread.
  std::function<result<std::unique_ptr<object_reader>>(std::uint64_t first, std::uint64_t length)>
      open;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  std::string log_client;  // for the log line of a failed read
};

net::awaitable<void> send_stored(http_server::exchange& ex, receiver_context& ctx,
                                 const stored_object& object);

}  // namespace pgship::receiver
