#pragma once
// Where the receiver is: BACKUP_API_URL taken apart once, for connecting and for messages.

#include <optional>
#include <string>
#include <string_view>

namespace pgship::agent {

struct receiver_endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;  // no trailing '/'

  /// Parses BACKUP_API_URL (`http[s]://host[:port][/base]`); nullopt when it is not one.
  static std::optional<receiver_endpoint> parse(std::string_view url);
  /// base_path + path
  std::string target(std::string_view path) const;
  /// "https://backup.example:9101" for messages.
  std::string origin() const;
};

}  // namespace pgship::agent
