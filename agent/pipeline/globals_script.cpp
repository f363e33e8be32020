#include "pipeline/globals_script.hpp"
#include <algorithm>
#include <cctype>
#include <set>

namespace pgship::agent {
namespace {

struct token {
  std::string text;
  bool quoted = false;   // "identifier"
  bool literal = false;  // 'string'
};

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

// The tokens of one statement: words, quoted identifiers (unquoted), string literals, and
// single punctuation characters.
std::vector<token> tokenize(std::string_view s) {
  std::vector<token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
    } else if (c == '"' || c == '\'') {
      token t;
      t.quoted = c == '"';
      t.literal = c == '\'';
      ++i;
      while (i < s.size()) {
        if (s[i] == c && i + 1 < s.size() && s[i + 1] == c) {
          t.text += c;
          i += 2;
        } else if (s[i] == c) {
          ++i;
          break;
        } else {
          t.text += s[i++];
        }
      }
      out.push_back(std::move(t));
    } else if (is_word_char(c)) {
      token t;
      while (i < s.size() && is_word_char(s[i]))
        t.text += s[i++];
      out.push_back(std::move(t));
    } else {
      out.push_back(token{std::string(1, c)});
      ++i;
    }
  }
  return out;
}

bool is_keyword(const std::vector<token>& t, std::size_t i, std::string_view word) {
  if (i >= t.size() || t[i].quoted || t[i].literal || t[i].text.size() != word.size()) {
    return false;
  }
  return std::equal(word.begin(), word.end(), t[i].text.begin(), [](char a, char b) {
    return std::toupper(static_cast<unsigned char>(a)) ==
           std::toupper(static_cast<unsigned char>(b));
  });
}

// An identifier as the server reads it: unquoted ones fold to lower case.
std::string name_at(const std::vector<token>& t, std::size_t i) {
  if (i >= t.size() || t[i].literal) return {};
  if (t[i].quoted) return t[i].text;
  std::string name = t[i].text;
  for (auto& c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// The index of the first `ON <word>` pair, or t.size().
std::size_t find_on(const std::vector<token>& t, std::string_view word) {
  for (std::size_t i = 0; i + 1 < t.size(); ++i)
    if (is_keyword(t, i, "ON") && is_keyword(t, i + 1, word)) return i;
  return t.size();
}

std::size_t find_keyword(const std::vector<token>& t, std::string_view word) {
  for (std::size_t i = 0; i < t.size(); ++i)
    if (is_keyword(t, i, word)) return i;
  return t.size();
}

void name_subject(globals_statement& s) {
  using subject = globals_statement::subject;
  const auto t = tokenize(s.text);
  const auto set = [&](subject what, std::size_t at) {
    const auto name = name_at(t, at);
    if (name.empty()) return;
    s.about = what;
    s.name = name;
  };
  if ((is_keyword(t, 0, "CREATE") || is_keyword(t, 0, "ALTER")) && is_keyword(t, 1, "ROLE")) {
    set(subject::role, 2);
  } else if ((is_keyword(t, 0, "CREATE") || is_keyword(t, 0, "ALTER")) &&
             is_keyword(t, 1, "TABLESPACE")) {
    set(subject::tablespace, 2);
  } else if (is_keyword(t, 0, "COMMENT") || is_keyword(t, 0, "SECURITY")) {
    if (const auto on = find_on(t, "ROLE"); on < t.size()) {
      set(subject::role, on + 2);
    } else if (const auto ts = find_on(t, "TABLESPACE"); ts < t.size()) {
      set(subject::tablespace, ts + 2);
    }
  } else if (is_keyword(t, 0, "GRANT") || is_keyword(t, 0, "REVOKE")) {
    // A tablespace's privileges belong to the tablespace; memberships and parameter
    // privileges to the role that receives (or loses) them.
    if (const auto ts = find_on(t, "TABLESPACE"); ts < t.size()) {
      set(subject::tablespace, ts + 2);
    } else {
      const auto to = find_keyword(t, is_keyword(t, 0, "GRANT") ? "TO" : "FROM");
      if (to < t.size()) set(subject::role, to + 1);
    }
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0)
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0)
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool globals_script_complete(std::string_view tail) {
  // The trailer is a comment block: "--\n-- PostgreSQL database cluster dump complete\n--".
  const auto end = trim(tail);
  if (!end.ends_with("--")) return false;
  return trim(end.substr(0, end.size() - 2)).ends_with(globals_trailer);
}

std::string created_role(std::string_view line) {
  if (!line.starts_with("CREATE ROLE ")) return {};
  const auto t = tokenize(line);
  if (t.size() < 3) return {};
  return name_at(t, 2);
}

globals_parse parse_globals_script(std::string_view script) {
  globals_parse out;
  std::size_t i = 0;
  const auto line_end = [&](std::size_t from) {
    const auto nl = script.find('\n', from);
    return nl == std::string_view::npos ? script.size() : nl + 1;
  };
  while (i < script.size()) {
    const char c = script[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
      continue;
    }
    if (script.substr(i).starts_with("--")) {
      i = line_end(i);
      continue;
    }
    if (c == '\\') {
      const auto end = line_end(i);
      const auto line = trim(script.substr(i, end - i));
      // pg_dumpall 15.14+ fences its output against meta-commands a server could inject.
      if (!line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")) {
        out.problem = "unexpected psql meta-command in the globals script: " +
                      std::string(line.substr(0, 40));
        return out;
      }
      i = end;
      continue;
    }
    // A statement: up to the ';' outside quotes.
    const std::size_t start = i;
    char quote = 0;
    for (; i < script.size(); ++i) {
      const char ch = script[i];
      if (quote != 0) {
        if (ch == quote) quote = 0;  // a doubled quote closes and reopens: same result
      } else if (ch == '\'' || ch == '"') {
        quote = ch;
      } else if (ch == ';') {
        break;
      }
    }
    if (i >= script.size()) {
      out.problem =
          "the globals script ends inside a statement: " + describe_statement(script.substr(start));
      return out;
    }
    ++i;  // the ';'
    globals_statement s;
    s.text = std::string(script.substr(start, i - start));
    name_subject(s);
    out.statements.push_back(std::move(s));
  }
  return out;
}

globals_plan plan_globals(const std::vector<globals_statement>& statements,
                          const std::vector<std::string>& existing_roles,
                          const std::vector<std::string>& existing_tablespaces) {
  using subject = globals_statement::subject;
  const std::set<std::string> roles(existing_roles.begin(), existing_roles.end());
  const std::set<std::string> tablespaces(existing_tablespaces.begin(), existing_tablespaces.end());
  globals_plan plan;
  const auto note = [](std::vector<std::string>& list, const std::string& name) {
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  for (const auto& s : statements) {
    if (s.about == subject::role && roles.contains(s.name)) {
      note(plan.kept_roles, s.name);
      continue;
    }
    if (s.about == subject::tablespace && tablespaces.contains(s.name)) {
      note(plan.kept_tablespaces, s.name);
      continue;
    }
    if (s.about == subject::tablespace && s.text.starts_with("CREATE TABLESPACE")) {
      plan.creates_tablespace = true;
    }
    plan.statements.push_back(s.text);
  }
  return plan;
}

std::string describe_statement(std::string_view statement, std::size_t max) {
  std::string text(trim(statement));
  if (const auto pw = text.find(" PASSWORD "); pw != std::string::npos) {
    text = text.substr(0, pw) + " PASSWORD ...";
  }
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

}  // namespace pgship::agent
