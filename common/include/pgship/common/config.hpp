#pragma once
// Configuration: built-in defaults < env-style file (--config) < process environment, and for
// secret keys K, a K_FILE (file or environment) beats a plain K. Getters validate on read and
// throw config_error with one line naming the key, the value and what is allowed; a program
// reads every key once at start-up so a bad value stops it there (exit code 2).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/url/url.hpp>

namespace pgship::config {

/// One configuration key a program understands.
struct key_spec {
  std::string_view name;
  std::string_view default_value;  // empty: unset unless configured
  bool secret = false;             // redacted in dumps; may be given as NAME_FILE
  std::string_view help;
};

/// A configuration mistake: the message is the whole, user-facing line.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using environment = std::map<std::string, std::string, std::less<>>;

/// A snapshot of this process's environment.
environment process_environment();

/// Where a key's effective value came from.
enum class source { unset, default_value, file, env, secret_file };

class config {
 public:
  /// Loads and merges the layers. Throws config_error if the file cannot be read, has a
  /// malformed line or a key outside `schema`, if the environment has a name that looks like a
  /// mistaken pgship key (config_keys.hpp), or if a *_FILE secret cannot be read. Both name
  /// the nearest known key.
  static config load(std::span<const key_spec> schema,
                     const std::optional<std::filesystem::path>& file, const environment& env);

  /// The effective raw value; nullopt when unset or empty.
  std::optional<std::string> raw(std::string_view key) const;
  source source_of(std::string_view key) const;

  std::string string(std::string_view key) const;  // "" when unset
  std::string required_string(std::string_view key) const;
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) const;
  /// nullopt when unset, else as integer().
  std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t min,
                                               std::int64_t max) const;
  std::optional<std::filesystem::path> optional_path(std::string_view key) const;
  bool boolean(std::string_view key) const;
  std::uint64_t size(std::string_view key, std::uint64_t min = 0,
                     std::uint64_t max = UINT64_MAX) const;
  std::chrono::milliseconds duration(std::string_view key) const;
  /// An absolute URL whose scheme is one of `schemes`.
  boost::urls::url url(std::string_view key, std::initializer_list<std::string_view> schemes) const;
  std::vector<std::string> list(std::string_view key) const;
  /// An IPv4 or IPv6 address, returned as given.
  std::string ip_address(std::string_view key) const;
  /// The value, which must be one of `allowed` (compared case-insensitively, returned lowercase).
  std::string choice(std::string_view key, std::initializer_list<std::string_view> allowed) const;
  std::string choice(std::string_view key, std::span<const std::string_view> allowed) const;

  /// Things worth a warning at start-up: K and K_FILE both set.
  const std::vector<std::string>& warnings() const { return warnings_; }

  /// KEY=VALUE lines of the effective configuration, secrets and passwords inside URLs
  /// replaced by <redacted>, each followed by where it came from. For --print-config.
  std::string redacted() const;

 private:
  struct entry {
    std::string value;
    enum source from = source::unset;
  };
  const key_spec& spec(std::string_view key) const;
  [[noreturn]] void fail(std::string_view key, std::string_view allowed) const;

  std::vector<key_spec> schema_;
  std::map<std::string, entry, std::less<>> values_;
  std::vector<std::string> warnings_;
};

/// Parses env-style text (KEY=VALUE, # comments, 'single' and "double" quotes, optional
/// `export ` prefix). `origin` names the source in error messages. Throws config_error.
std::map<std::string, std::string, std::less<>> parse_env_text(std::string_view text,
                                                               std::string_view origin);

}  // namespace pgship::config
