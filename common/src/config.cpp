#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <pgship/common/config.hpp>
#include <pgship/common/config_keys.hpp>
#include <pgship/common/config_values.hpp>
#include <pgship/common/redact_url.hpp>

extern char** environ;

namespace pgship::config {
namespace {

constexpr std::string_view file_suffix = "_FILE";

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::system_error(errno, std::generic_category());
  // istream::read (unlike `<< rdbuf()`, which swallows it) turns a read(2) error such as EISDIR
  // into badbit, so a directory or an I/O error is not mistaken for an empty file.
  std::string content;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::system_error(errno != 0 ? errno : EIO, std::generic_category());
  return content;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Names this schema reads: its keys and the K_FILE forms of its secrets.
std::vector<std::string> names_of(std::span<const key_spec> schema) {
  std::vector<std::string> names;
  for (const auto& s : schema) {
    names.emplace_back(s.name);
    if (s.secret) names.push_back(std::string(s.name) + std::string(file_suffix));
  }
  return names;
}

// "did you mean X?" when X is a likely meaning (2 edits, or one in three characters:
// ENCRYPTION_RECIPIENTS for ENCRYPT_RECIPIENTS); otherwise the nearest key, for orientation.
std::string suggestion(std::string_view name, std::span<const std::string_view> candidates) {
  const auto nearest = nearest_key(name, candidates);
  if (nearest.empty()) return "no key is known";
  const std::size_t distance = edit_distance(name, nearest);
  if (distance <= 2 || distance * 3 <= name.size()) {
    return "did you mean " + std::string(nearest) + "?";
  }
  return "the nearest known key is " + std::string(nearest);
}

// Unknown keys stop start-up. In the --config file every key must be one of this program's. In
// the environment only names that look like pgship keys are judged (config_keys.hpp): the other
// pgship program's keys, which a shared .env carries, are fine, and so is everything else.
void check_names(std::span<const key_spec> schema, const std::optional<std::filesystem::path>& file,
                 const std::map<std::string, std::string, std::less<>>& from_file,
                 const environment& env) {
  const auto own = names_of(schema);
  const std::vector<std::string_view> own_views(own.begin(), own.end());
  const auto all = pgship_key_names();
  const auto is_own = [&](std::string_view name) {
    return std::find(own_views.begin(), own_views.end(), name) != own_views.end();
  };
  const auto is_pgship = [&](std::string_view name) {
    return std::find(all.begin(), all.end(), name) != all.end();
  };

  for (const auto& [key, value] : from_file) {
    if (is_own(key)) continue;
    const std::string where = "unknown key " + key + " in " + file->string();
    if (is_pgship(key)) {
      throw config_error(where + ": a key of the other pgship program, not of this one (" +
                         suggestion(key, own_views) + ")");
    }
    throw config_error(where + ": " + suggestion(key, own_views));
  }

  std::vector<std::string_view> candidates(all.begin(), all.end());
  for (const auto name : own_views) {
    if (!is_pgship(name)) candidates.push_back(name);
  }
  const auto near_own = [&](std::string_view name) {
    return std::any_of(own_views.begin(), own_views.end(),
                       [&](std::string_view key) { return is_near_miss(name, key); });
  };
  for (const auto& [name, value] : env) {
    if (is_own(name) || is_pgship(name) || is_service_link(name, value)) continue;
    if (!looks_like_pgship_key(name) && !near_own(name)) continue;
    throw config_error("unknown key " + name +
                       " in the environment: " + suggestion(name, candidates));
  }
}

}  // namespace

environment process_environment() {
  environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

config config::load(std::span<const key_spec> schema,
                    const std::optional<std::filesystem::path>& file, const environment& env) {
  config cfg;
  cfg.schema_.assign(schema.begin(), schema.end());

  std::map<std::string, std::string, std::less<>> from_file;
  if (file) {
    std::string text;
    try {
      text = read_text_file(*file);
    } catch (const std::system_error& e) {
      throw config_error("cannot read config file " + file->string() + ": " +
                         std::strerror(e.code().value()));
    }
    from_file = parse_env_text(text, file->string());
  }

  check_names(schema, file, from_file, env);

  const auto lookup = [](const auto& map, const std::string& key) -> const std::string* {
    const auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  };

  for (const auto& spec : schema) {
    const std::string name(spec.name);
    entry e;
    if (!spec.default_value.empty()) e = {std::string(spec.default_value), source::default_value};
    if (const auto* v = lookup(from_file, name)) e = {*v, source::file};
    if (const auto* v = lookup(env, name)) e = {*v, source::env};

    if (spec.secret) {
      const std::string file_key = name + std::string(file_suffix);
      const std::string* path = lookup(env, file_key);
      if (path == nullptr) path = lookup(from_file, file_key);
      if (path != nullptr && !path->empty()) {
        if (e.from == source::file || e.from == source::env) {
          cfg.warnings_.push_back("both " + name + " and " + file_key + " are set; using " +
                                  file_key);
        }
        try {
          e = {std::string(trim(read_text_file(*path))), source::secret_file};
        } catch (const std::system_error& err) {
          throw config_error(file_key + "=" + *path +
                             ": cannot read the secret file: " + std::strerror(err.code().value()));
        }
      }
    }
    cfg.values_[name] = std::move(e);
  }
  return cfg;
}

const key_spec& config::spec(std::string_view key) const {
  const auto it = std::find_if(schema_.begin(), schema_.end(),
                               [&](const key_spec& s) { return s.name == key; });
  // Asking for a key outside the schema is a programming error, not a user mistake.
  if (it == schema_.end()) throw std::logic_error("config key not in schema: " + std::string(key));
  return *it;
}

std::optional<std::string> config::raw(std::string_view key) const {
  spec(key);
  const auto it = values_.find(key);
  if (it == values_.end() || it->second.value.empty()) return std::nullopt;
  return it->second.value;
}

source config::source_of(std::string_view key) const {
  spec(key);
  const auto it = values_.find(key);
  return it == values_.end() ? source::unset : it->second.from;
}

void config::fail(std::string_view key, std::string_view allowed) const {
  const auto& s = spec(key);
  const auto value = raw(key).value_or("");
  const std::string shown = s.secret ? "<redacted>" : redact_url(value);
  throw config_error(std::string(key) + "=\"" + shown + "\" is invalid: expected " +
                     std::string(allowed));
}

std::string config::string(std::string_view key) const {
  return raw(key).value_or("");
}

std::string config::required_string(std::string_view key) const {
  auto value = raw(key);
  if (!value) throw config_error(std::string(key) + " is required but not set");
  return *value;
}

std::int64_t config::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  const auto allowed = [&] {
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  };
  const auto value = parse_int(string(key));
  if (!value || *value < min || *value > max) fail(key, allowed());
  return *value;
}

std::optional<std::int64_t> config::optional_integer(std::string_view key, std::int64_t min,
                                                     std::int64_t max) const {
  if (!raw(key)) return std::nullopt;
  return integer(key, min, max);
}

std::optional<std::filesystem::path> config::optional_path(std::string_view key) const {
  auto value = raw(key);
  if (!value) return std::nullopt;
  return std::filesystem::path(*value);
}

bool config::boolean(std::string_view key) const {
  const auto value = parse_bool(string(key));
  if (!value) fail(key, "true or false (also yes/no, on/off, 1/0)");
  return *value;
}

std::uint64_t config::size(std::string_view key, std::uint64_t min, std::uint64_t max) const {
  const auto value = parse_size(string(key));
  if (!value || *value < min || *value > max) {
    std::string allowed = "a size in bytes with an optional K/M/G/T suffix (powers of 1024)";
    if (min > 0 || max != UINT64_MAX) {
      allowed += ", from " + std::to_string(min) + " to " + std::to_string(max) + " bytes";
    }
    fail(key, allowed);
  }
  return *value;
}

std::chrono::milliseconds config::duration(std::string_view key) const {
  const auto value = parse_duration(string(key));
  if (!value) fail(key, "a duration such as 30, 90s, 5m, 1h30m, 2d (a bare number is seconds)");
  return *value;
}

boost::urls::url config::url(std::string_view key,
                             std::initializer_list<std::string_view> schemes) const {
  std::string allowed = "an absolute URL with scheme";
  for (auto s : schemes)
    allowed += std::string(" ") + std::string(s) + "://";
  const std::string text = string(key);
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed || !parsed->has_authority() || parsed->host().empty()) fail(key, allowed);
  const std::string scheme = lower(parsed->scheme());
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end()) fail(key, allowed);
  return boost::urls::url(*parsed);
}

std::vector<std::string> config::list(std::string_view key) const {
  return parse_list(string(key));
}

std::string config::ip_address(std::string_view key) const {
  const std::string value = string(key);
  boost::system::error_code ec;
  boost::asio::ip::make_address(value, ec);
  if (ec) fail(key, "an IPv4 or IPv6 address");
  return value;
}

std::string config::choice(std::string_view key,
                           std::initializer_list<std::string_view> allowed) const {
  return choice(key, std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

std::string config::choice(std::string_view key, std::span<const std::string_view> allowed) const {
  const std::string value = lower(string(key));
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  std::string text = "one of";
  for (auto a : allowed)
    text += " " + std::string(a);
  fail(key, text);
}

std::string config::redacted() const {
  std::string out;
  for (const auto& s : schema_) {
    const auto it = values_.find(s.name);
    const entry& e = it->second;
    out += std::string(s.name) + "=";
    if (!e.value.empty()) out += s.secret ? std::string("<redacted>") : redact_url(e.value);
    switch (e.from) {
      case source::unset:
        out += "  # unset";
        break;
      case source::default_value:
        out += "  # default";
        break;
      case source::file:
        out += "  # config file";
        break;
      case source::env:
        out += "  # environment";
        break;
      case source::secret_file:
        out += "  # " + std::string(s.name) + "_FILE";
        break;
    }
    out += "\n";
  }
  return out;
}

}  // namespace pgship::config
