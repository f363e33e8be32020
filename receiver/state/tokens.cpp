#include "state/tokens.hpp"
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <openssl/crypto.h>

#include <pgship/common/config.hpp>
#include <pgship/common/config_values.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship::receiver {
namespace {

using config::config_error;

constexpr std::uint8_t all_scopes =
    static_cast<std::uint8_t>(scope::upload) | static_cast<std::uint8_t>(scope::read) |
    static_cast<std::uint8_t>(scope::del) | static_cast<std::uint8_t>(scope::admin);
constexpr std::string_view hashed_prefix = "sha256:";

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<scope> scope_named(std::string_view name) {
  const std::string n = lower(name);
  if (n == "upload") return scope::upload;
  if (n == "read") return scope::read;
  if (n == "delete") return scope::del;
  if (n == "admin") return scope::admin;
  return std::nullopt;
}

std::string read_tokens_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const auto fail = [&](int error) {
    return config_error("cannot read API_TOKENS_FILE " + path.string() + ": " +
                        std::strerror(error != 0 ? error : EIO));
  };
  if (!in) throw fail(errno);
  // read() (unlike `<< rdbuf()`) reports EISDIR and I/O errors as badbit.
  std::string content;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw fail(errno);
  return content;
}

struct token_line {
  std::string client;
  std::uint8_t scopes = 0;
  sha256_digest token_sha256{};
};

// Messages name the line, never echo it: any field of a malformed line may be the token.
token_line parse_token_line(std::string_view line, const std::string& where) {
  const auto first = line.find(':');
  const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
  if (second == std::string_view::npos) {
    throw config_error(where + ": expected client:scopes:token");
  }
  token_line out;
  out.client = std::string(config::trim(line.substr(0, first)));
  if (!fs::is_safe_name(out.client)) {
    throw config_error(where + ": invalid client name (letters, digits, '.', '_' and '-')");
  }
  const auto scopes = parse_scopes(line.substr(first + 1, second - first - 1));
  if (!scopes) {
    throw config_error(where +
                       ": invalid scope list (comma-separated upload, read, delete, admin)");
  }
  out.scopes = *scopes;

  const std::string_view token = config::trim(line.substr(second + 1));
  if (token.empty()) throw config_error(where + ": empty token");
  if (token.starts_with(hashed_prefix)) {
    const auto digest = digest_from_hex(token.substr(hashed_prefix.size()));
    if (!digest) throw config_error(where + ": a sha256: token needs exactly 64 hex digits");
    out.token_sha256 = *digest;
  } else {
    out.token_sha256 = sha256_of(token);
  }
  return out;
}

// "Bearer <token>": one scheme, whitespace, one token with no whitespace in it.
std::optional<std::string_view> bearer_token(std::string_view header) {
  header = config::trim(header);
  const auto gap = header.find_first_of(" \t");
  if (gap == std::string_view::npos || lower(header.substr(0, gap)) != "bearer") {
    return std::nullopt;
  }
  const std::string_view token = config::trim(header.substr(gap));
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string_view::npos) {
    return std::nullopt;
  }
  return token;
}

}  // namespace

bool principal::may(scope s) const {
  return (scopes & (static_cast<std::uint8_t>(s) | static_cast<std::uint8_t>(scope::admin))) != 0;
}

std::optional<std::uint8_t> parse_scopes(std::string_view text) {
  const auto names = config::parse_list(text);
  if (names.empty()) return std::nullopt;
  std::uint8_t out = 0;
  for (const auto& name : names) {
    const auto s = scope_named(name);
    if (!s) return std::nullopt;
    out |= static_cast<std::uint8_t>(*s);
  }
  return out;
}

std::vector<std::string> scope_names(std::uint8_t scopes) {
  std::vector<std::string> out;
  for (const auto* name : {"upload", "read", "delete", "admin"}) {
    if ((scopes & static_cast<std::uint8_t>(*scope_named(name))) != 0) out.emplace_back(name);
  }
  return out;
}

token_store token_store::load(std::string_view all_scopes_token,
                              const std::optional<std::filesystem::path>& tokens_file) {
  token_store store;
  // Where each entry came from, for messages about a later clash.
  std::vector<std::string> origins;
  const auto add = [&](principal who, const sha256_digest& digest, std::string origin) {
    for (std::size_t i = 0; i < store.entries_.size(); ++i) {
      // A second entry with the same token would make authenticate() depend on file order.
      if (std::equal(digest.begin(), digest.end(), store.entries_[i].token_sha256.begin())) {
        throw config_error(origin + ": the same token as " + origins[i]);
      }
    }
    store.entries_.push_back({std::move(who), {digest.begin(), digest.end()}});
    origins.push_back(std::move(origin));
  };

  if (!all_scopes_token.empty()) {
    add({"default", all_scopes}, sha256_of(all_scopes_token), "BACKUP_API_TOKEN");
  }
  if (!tokens_file) return store;

  const std::string text = read_tokens_file(*tokens_file);
  std::vector<std::string> file_clients;
  std::string_view rest = text;
  for (int number = 1; !rest.empty(); ++number) {
    const auto newline = rest.find('\n');
    const std::string_view line = config::trim(rest.substr(0, newline));
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.empty() || line.front() == '#') continue;

    const std::string where = tokens_file->string() + ":" + std::to_string(number);
    auto parsed = parse_token_line(line, where);
    if (std::find(file_clients.begin(), file_clients.end(), parsed.client) != file_clients.end()) {
      throw config_error(where + ": client " + parsed.client + " is listed twice");
    }
    file_clients.push_back(parsed.client);
    add({std::move(parsed.client), parsed.scopes}, parsed.token_sha256, where);
  }
  return store;
}

std::optional<principal> token_store::authenticate(std::string_view authorization_header) const {
  const auto token = bearer_token(authorization_header);
  if (!token) return std::nullopt;
  // Comparing digests of equal length keeps the token's length out of the timing as well.
  const sha256_digest presented = sha256_of(*token);
  const entry* match = nullptr;
  for (const auto& e : entries_) {
    const bool same = CRYPTO_memcmp(e.token_sha256.data(), presented.data(), presented.size()) == 0;
    match = (same && match == nullptr) ? &e : match;
  }
  if (match == nullptr) return std::nullopt;
  return match->who;
}

std::vector<std::string> token_store::clients() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (std::find(out.begin(), out.end(), e.who.client) == out.end()) out.push_back(e.who.client);
  }
  return out;
}

}  // namespace pgship::receiver
