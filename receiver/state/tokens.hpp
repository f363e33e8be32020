#pragma once
// Bearer-token authentication for the receiver. Tokens come from BACKUP_API_TOKEN (client
// "default", every scope) and API_TOKENS_FILE (lines `client:scopes:token`, scopes a comma list
// of upload,read,delete,admin; token either plain or `sha256:<64 hex>` of the token). Tokens
// are compared in constant time; a token never appears in an error message or log line.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::receiver {

enum class scope : std::uint8_t { upload = 1, read = 2, del = 4, admin = 8 };

/// The client a valid token belongs to, and what it may do.
struct principal {
  std::string client;
  std::uint8_t scopes = 0;  // bitwise OR of scope values

  /// admin implies every scope.
  bool may(scope s) const;
};

class token_store {
 public:
  /// Builds the store. `all_scopes_token` (may be empty) maps to client "default" with every
  /// scope. Throws config::config_error (one line, naming the file and line number, never the
  /// token) for an unreadable file, a malformed line, an unknown scope, a bad client name (must
  /// pass fs::is_safe_name), a malformed sha256: token, or the same client listed twice.
  static token_store load(std::string_view all_scopes_token,
                          const std::optional<std::filesystem::path>& tokens_file);

  /// The principal for an `Authorization` header value ("Bearer <token>", scheme
  /// case-insensitive); nullopt when missing, malformed or unknown. Checks every entry without
  /// early exit so timing does not reveal which entry matched.
  std::optional<principal> authenticate(std::string_view authorization_header) const;

  bool empty() const { return entries_.empty(); }
  /// The clients the tokens name, each once.
  std::vector<std::string> clients() const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    principal who;
    std::vector<std::uint8_t> token_sha256;  // 32 bytes: tokens are kept hashed in memory
  };
  std::vector<entry> entries_;
};

/// Parses "upload,read" etc.; nullopt for an unknown or empty scope list.
std::optional<std::uint8_t> parse_scopes(std::string_view text);
/// The names of `scopes` (bitwise OR of scope values) as API_TOKENS_FILE spells them, in the
/// order upload, read, delete, admin.
std::vector<std::string> scope_names(std::uint8_t scopes);

}  // namespace pgship::receiver
