#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/config.hpp>

#include "temp_dir.hpp"

namespace pgship::config {
namespace {

using pgship::test::temp_dir;
using pgship::test::write_file;

// A small schema like a program's: defaults, unset keys, one secret.
constexpr key_spec small_schema[] = {
    {"PORT", "8080", false, "listen port"},
    {"NAME", "", false, "database name"},
    {"TOKEN", "", true, "bearer token"},
    {"MODE", "text", false, "log format"},
};

// One key per getter, none with a default, so each test sets exactly what it reads.
constexpr key_spec typed_schema[] = {
    {"PORT", "", false, ""},    {"FLAG", "", false, ""}, {"LIMIT", "", false, ""},
    {"TIMEOUT", "", false, ""}, {"URL", "", false, ""},  {"DB_URL", "", true, ""},
    {"LIST", "", false, ""},    {"MODE", "", false, ""}, {"RETRIES", "", false, ""},
    {"DIR", "", false, ""},     {"NAME", "", false, ""}, {"PASSWORD", "", true, ""},
};

config from_env(const environment& env) {
  return config::load(typed_schema, std::nullopt, env);
}

// The message of the config_error `f` throws; a test failure if it throws none.
std::string config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a config_error";
  return {};
}

// --- layers and precedence --------------------------------------------------------------------

TEST(config_load_test, defaults_apply_when_nothing_is_configured) {
  const auto cfg = config::load(small_schema, std::nullopt, {});
  EXPECT_EQ(cfg.raw("PORT"), std::optional<std::string>("8080"));
  EXPECT_EQ(cfg.source_of("PORT"), source::default_value);
  EXPECT_EQ(cfg.raw("MODE"), std::optional<std::string>("text"));
  EXPECT_EQ(cfg.raw("NAME"), std::nullopt);
  EXPECT_EQ(cfg.source_of("NAME"), source::unset);
  EXPECT_EQ(cfg.string("NAME"), "");
  EXPECT_EQ(cfg.raw("TOKEN"), std::nullopt);
  EXPECT_TRUE(cfg.warnings().empty());
}

TEST(config_load_test, file_beats_default) {
  temp_dir dir;
  write_file(dir / "pgship.env", "PORT=9000\nNAME=db1\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env", {});
  EXPECT_EQ(cfg.string("PORT"), "9000");
  EXPECT_EQ(cfg.source_of("PORT"), source::file);
  EXPECT_EQ(cfg.string("NAME"), "db1");
  EXPECT_EQ(cfg.source_of("NAME"), source::file);
  EXPECT_EQ(cfg.string("MODE"), "text");
  EXPECT_EQ(cfg.source_of("MODE"), source::default_value);
}

TEST(config_load_test, environment_beats_file) {
  temp_dir dir;
  write_file(dir / "pgship.env", "PORT=9000\nNAME=db1\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env", {{"PORT", "9100"}});
  EXPECT_EQ(cfg.string("PORT"), "9100");
  EXPECT_EQ(cfg.source_of("PORT"), source::env);
  EXPECT_EQ(cfg.string("NAME"), "db1");
  EXPECT_EQ(cfg.source_of("NAME"), source::file);
}

TEST(config_load_test, environment_beats_default_without_a_file) {
  const auto cfg = config::load(small_schema, std::nullopt, {{"MODE", "json"}});
  EXPECT_EQ(cfg.string("MODE"), "json");
  EXPECT_EQ(cfg.source_of("MODE"), source::env);
}

TEST(config_load_test, an_empty_environment_value_overrides_and_reads_as_unset) {
  const auto cfg = config::load(small_schema, std::nullopt, {{"PORT", ""}});
  EXPECT_EQ(cfg.source_of("PORT"), source::env);
  EXPECT_EQ(cfg.raw("PORT"), std::nullopt);
}

TEST(config_load_test, secret_file_from_the_file_layer_is_read) {
  temp_dir dir;
  write_file(dir / "token", "from-file-secret\n");
  write_file(dir / "pgship.env", "TOKEN_FILE=" + (dir / "token").string() + "\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env", {});
  EXPECT_EQ(cfg.string("TOKEN"), "from-file-secret");
  EXPECT_EQ(cfg.source_of("TOKEN"), source::secret_file);
  EXPECT_TRUE(cfg.warnings().empty());
}

TEST(config_load_test, environment_secret_file_beats_file_secret_file) {
  temp_dir dir;
  write_file(dir / "env-token", "env-secret");
  write_file(dir / "file-token", "file-secret");
  write_file(dir / "pgship.env", "TOKEN_FILE=" + (dir / "file-token").string() + "\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env",
                                {{"TOKEN_FILE", (dir / "env-token").string()}});
  EXPECT_EQ(cfg.string("TOKEN"), "env-secret");
  EXPECT_EQ(cfg.source_of("TOKEN"), source::secret_file);
}

TEST(config_load_test, secret_file_beats_plain_key_and_warns) {
  temp_dir dir;
  write_file(dir / "token", "file-secret");
  const auto cfg =
      config::load(small_schema, std::nullopt,
                   {{"TOKEN", "plain-secret"}, {"TOKEN_FILE", (dir / "token").string()}});
  EXPECT_EQ(cfg.string("TOKEN"), "file-secret");
  EXPECT_EQ(cfg.source_of("TOKEN"), source::secret_file);
  ASSERT_EQ(cfg.warnings().size(), 1u);
  EXPECT_EQ(cfg.warnings()[0], "both TOKEN and TOKEN_FILE are set; using TOKEN_FILE");
}

TEST(config_load_test, secret_file_in_the_file_beats_plain_key_in_the_environment) {
  temp_dir dir;
  write_file(dir / "token", "file-secret");
  write_file(dir / "pgship.env", "TOKEN_FILE=" + (dir / "token").string() + "\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env", {{"TOKEN", "plain-secret"}});
  EXPECT_EQ(cfg.string("TOKEN"), "file-secret");
  ASSERT_EQ(cfg.warnings().size(), 1u);
  EXPECT_EQ(cfg.warnings()[0], "both TOKEN and TOKEN_FILE are set; using TOKEN_FILE");
}

TEST(config_load_test, full_precedence_chain) {
  temp_dir dir;
  write_file(dir / "env-token", "winner");
  write_file(dir / "file-token", "loser");
  write_file(dir / "pgship.env",
             "TOKEN=from-file\nTOKEN_FILE=" + (dir / "file-token").string() + "\n");
  const auto cfg =
      config::load(small_schema, dir / "pgship.env",
                   {{"TOKEN", "from-env"}, {"TOKEN_FILE", (dir / "env-token").string()}});
  EXPECT_EQ(cfg.string("TOKEN"), "winner");
  EXPECT_EQ(cfg.source_of("TOKEN"), source::secret_file);
  EXPECT_EQ(cfg.warnings(),
            std::vector<std::string>{"both TOKEN and TOKEN_FILE are set; using TOKEN_FILE"});
}

TEST(config_load_test, empty_secret_file_path_is_ignored) {
  const auto cfg =
      config::load(small_schema, std::nullopt, {{"TOKEN", "plain"}, {"TOKEN_FILE", ""}});
  EXPECT_EQ(cfg.string("TOKEN"), "plain");
  EXPECT_EQ(cfg.source_of("TOKEN"), source::env);
  EXPECT_TRUE(cfg.warnings().empty());
}

TEST(config_load_test, secret_file_content_is_trimmed) {
  temp_dir dir;
  write_file(dir / "token", "  \t s3cr3t value \r\n\n");
  const auto cfg =
      config::load(small_schema, std::nullopt, {{"TOKEN_FILE", (dir / "token").string()}});
  EXPECT_EQ(cfg.string("TOKEN"), "s3cr3t value");
}

TEST(config_load_test, file_suffix_is_only_for_secret_keys) {
  temp_dir dir;
  write_file(dir / "port", "1234");
  const auto cfg =
      config::load(small_schema, std::nullopt, {{"PORT_FILE", (dir / "port").string()}});
  EXPECT_EQ(cfg.string("PORT"), "8080");
  EXPECT_EQ(cfg.source_of("PORT"), source::default_value);
}

TEST(config_load_test, missing_secret_file_is_an_error_naming_the_key) {
  temp_dir dir;
  const std::string path = (dir / "no-such-token").string();
  const std::string message = config_error_of([&] {
    config::load(small_schema, std::nullopt, {{"TOKEN_FILE", path}});
  });
  EXPECT_EQ(message,
            "TOKEN_FILE=" + path + ": cannot read the secret file: No such file or directory");
}

TEST(config_load_test, secret_file_that_is_a_directory_is_an_error) {
  temp_dir dir;
  const std::string path = dir.path().string();
  const std::string message = config_error_of([&] {
    config::load(small_schema, std::nullopt, {{"TOKEN_FILE", path}});
  });
  EXPECT_EQ(message, "TOKEN_FILE=" + path + ": cannot read the secret file: Is a directory");
}

TEST(config_load_test, missing_config_file_is_an_error) {
  temp_dir dir;
  const auto path = dir / "missing.env";
  const std::string message = config_error_of([&] { config::load(small_schema, path, {}); });
  EXPECT_EQ(message, "cannot read config file " + path.string() + ": No such file or directory");
}

TEST(config_load_test, config_file_that_is_a_directory_is_an_error) {
  temp_dir dir;
  const std::string message = config_error_of([&] { config::load(small_schema, dir.path(), {}); });
  EXPECT_EQ(message, "cannot read config file " + dir.path().string() + ": Is a directory");
}

TEST(config_load_test, an_unknown_key_in_the_file_is_an_error_naming_the_nearest_key) {
  temp_dir dir;
  const auto path = dir / "pgship.env";
  write_file(path, "PORT=1\nTOKEN_FILE=\nTOKEN_FILEX=3\n");
  EXPECT_EQ(config_error_of([&] { config::load(small_schema, path, {}); }),
            "unknown key TOKEN_FILEX in " + path.string() + ": did you mean TOKEN_FILE?");
  write_file(path, "PORT_FILE=/x\n");  // PORT is no secret
  EXPECT_EQ(config_error_of([&] { config::load(small_schema, path, {}); }),
            "unknown key PORT_FILE in " + path.string() + ": the nearest known key is TOKEN_FILE");
  write_file(path, "SOMETHING_ELSE_ENTIRELY=1\n");
  EXPECT_EQ(config_error_of([&] { config::load(small_schema, path, {}); }),
            "unknown key SOMETHING_ELSE_ENTIRELY in " + path.string() +
                ": the nearest known key is TOKEN_FILE");
}

TEST(config_load_test, a_key_of_the_other_program_in_the_file_is_an_error) {
  temp_dir dir;
  const auto path = dir / "pgship.env";
  write_file(path, "STORAGE_DIR=/srv\n");
  EXPECT_EQ(config_error_of([&] { config::load(small_schema, path, {}); }),
            "unknown key STORAGE_DIR in " + path.string() +
                ": a key of the other pgship program, not of this one (the nearest known key "
                "is TOKEN)");
}

TEST(config_load_test, a_mistaken_pgship_key_in_the_environment_is_an_error) {
  EXPECT_EQ(config_error_of([&] {
              config::load(small_schema, std::nullopt, {{"ENCRYPT_RECIPIENT", "age1x"}});
            }),
            "unknown key ENCRYPT_RECIPIENT in the environment: did you mean ENCRYPT_RECIPIENTS?");
  EXPECT_EQ(config_error_of([&] {
              config::load(small_schema, std::nullopt, {{"ENCRYPTION_RECIPIENTS", "age1x"}});
            }),
            "unknown key ENCRYPTION_RECIPIENTS in the environment: did you mean "
            "ENCRYPT_RECIPIENTS?");
  EXPECT_EQ(config_error_of([&] {
              config::load(small_schema, std::nullopt, {{"TOKEN_FIEL", "/x"}});
            }),
            "unknown key TOKEN_FIEL in the environment: did you mean TOKEN_FILE?");
}

TEST(config_load_test, other_environment_variables_are_ignored) {
  // Ordinary environment, the postgres image's own names, and the other program's keys (an .env
  // shared by the database, the agent and the receiver).
  const auto cfg = config::load(small_schema, std::nullopt,
                                {{"HOME", "/root"},
                                 {"PATH", "/bin"},
                                 {"_", "/usr/bin/env"},
                                 {"PWD", "/"},
                                 {"POSTGRES_INITDB_ARGS", "--data-checksums"},
                                 {"PGDATA", "/var/lib/postgresql/data"},
                                 {"STORAGE_DIR", "/srv"},
                                 {"S3_SECRET_ACCESS_KEY_FILE", "/run/secrets/s3"},
                                 {"PGSHIP_RECEIVER_PORT_9101_TCP", "tcp://10.0.0.2:9101"}});
  EXPECT_TRUE(cfg.warnings().empty());
}

TEST(config_load_test, passwords_in_urls_are_redacted_in_dumps_and_errors) {
  const auto cfg = from_env({{"URL", "http://user:hunter2@host:9101"}});
  EXPECT_NE(cfg.redacted().find("URL=http://user:<redacted>@host:9101  # environment"),
            std::string::npos)
      << cfg.redacted();
  EXPECT_EQ(cfg.redacted().find("hunter2"), std::string::npos);
  const auto bad = from_env({{"URL", "ftp://user:hunter2@host"}});
  const std::string message = config_error_of([&] { bad.url("URL", {"http"}); });
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(message.find("ftp://user:<redacted>@host"), std::string::npos) << message;
}

TEST(config_load_test, keys_outside_the_schema_are_a_logic_error) {
  const auto cfg = config::load(small_schema, std::nullopt, {{"OTHER", "x"}});
  EXPECT_THROW(cfg.raw("OTHER"), std::logic_error);
  EXPECT_THROW(cfg.string("OTHER"), std::logic_error);
  EXPECT_THROW(cfg.source_of("OTHER"), std::logic_error);
}

TEST(config_load_test, file_syntax_is_applied_when_loading) {
  temp_dir dir;
  const auto path = dir / "pgship.env";
  write_file(path,
             "# pgship\n"
             "export PORT=5432 # the port\n"
             "NAME=\"my \\\"db\\\"\"\n"
             "MODE='json'\n");
  const auto cfg = config::load(small_schema, path, {});
  EXPECT_EQ(cfg.string("PORT"), "5432");
  EXPECT_EQ(cfg.string("NAME"), "my \"db\"");
  EXPECT_EQ(cfg.string("MODE"), "json");
  EXPECT_TRUE(cfg.warnings().empty());
}

TEST(config_load_test, malformed_file_line_is_an_error_with_file_and_line) {
  temp_dir dir;
  const auto path = dir / "pgship.env";
  write_file(path, "PORT=1\n\n# fine\nthis is not a pair\n");
  const std::string message = config_error_of([&] { config::load(small_schema, path, {}); });
  EXPECT_EQ(message, path.string() + ":4: expected KEY=VALUE, got 'this is not a pair'");
}

// --- parse_env_text ---------------------------------------------------------------------------

using env_map = std::map<std::string, std::string, std::less<>>;

TEST(parse_env_text_test, plain_values_comments_and_blank_lines) {
  const auto out = parse_env_text(
      "# a comment\n"
      "\n"
      "   # an indented comment\n"
      "A=plain\n"
      "  B=indented  \n"
      "C = spaced around equals\n",
      "test.env");
  EXPECT_EQ(out, (env_map{{"A", "plain"}, {"B", "indented"}, {"C", "spaced around equals"}}));
}

TEST(parse_env_text_test, export_prefix_is_skipped) {
  const auto out = parse_env_text("export A=1\nexport\tB=2\nexportC=3\n", "test.env");
  EXPECT_EQ(out, (env_map{{"A", "1"}, {"B", "2"}, {"exportC", "3"}}));
}

TEST(parse_env_text_test, single_quotes_are_literal) {
  const auto out = parse_env_text(R"(A='a # b $HOME \n \" x')"
                                  "\n",
                                  "test.env");
  EXPECT_EQ(out, (env_map{{"A", R"(a # b $HOME \n \" x)"}}));
}

TEST(parse_env_text_test, double_quotes_understand_escapes) {
  const auto out = parse_env_text(R"(A="say \"hi\" \\ \$HOME \` end\nnext \q")"
                                  "\n",
                                  "test.env");
  EXPECT_EQ(out, (env_map{{"A", "say \"hi\" \\ $HOME ` end\nnext \\q"}}));
}

TEST(parse_env_text_test, hash_inside_quotes_is_kept) {
  const auto out = parse_env_text("A=\"has # inside\"\nB='also #here'\n", "test.env");
  EXPECT_EQ(out, (env_map{{"A", "has # inside"}, {"B", "also #here"}}));
}

TEST(parse_env_text_test, comment_after_a_quoted_value) {
  const auto out = parse_env_text("A=\"x y\" # note\nB='z'   #note\n", "test.env");
  EXPECT_EQ(out, (env_map{{"A", "x y"}, {"B", "z"}}));
}

TEST(parse_env_text_test, inline_comment_after_unquoted_value) {
  const auto out = parse_env_text(
      "A=value # comment\n"
      "B=value\t# tab comment\n"
      "C=value#not-a-comment\n"
      "D=#starts-with-hash\n"
      "E=a b # c\n",
      "test.env");
  EXPECT_EQ(out, (env_map{{"A", "value"},
                          {"B", "value"},
                          {"C", "value#not-a-comment"},
                          {"D", "#starts-with-hash"},
                          {"E", "a b"}}));
}

TEST(parse_env_text_test, empty_values) {
  const auto out = parse_env_text("A=\nB=\"\"\nC=''\nD= # only a comment\n", "test.env");
  EXPECT_EQ(out, (env_map{{"A", ""}, {"B", ""}, {"C", ""}, {"D", ""}}));
}

TEST(parse_env_text_test, value_may_contain_equals) {
  const auto out = parse_env_text("URL=postgres://u@h/db?sslmode=require\n", "test.env");
  EXPECT_EQ(out, (env_map{{"URL", "postgres://u@h/db?sslmode=require"}}));
}

TEST(parse_env_text_test, crlf_line_endings) {
  const auto out = parse_env_text("A=1\r\nB=\"two\"\r\n# c\r\nC='3' # x\r\n", "test.env");
  EXPECT_EQ(out, (env_map{{"A", "1"}, {"B", "two"}, {"C", "3"}}));
}

TEST(parse_env_text_test, last_line_without_newline) {
  EXPECT_EQ(parse_env_text("A=1\nB=2", "test.env"), (env_map{{"A", "1"}, {"B", "2"}}));
}

TEST(parse_env_text_test, later_lines_win) {
  EXPECT_EQ(parse_env_text("A=1\nA=2\n", "test.env"), (env_map{{"A", "2"}}));
}

TEST(parse_env_text_test, empty_text) {
  EXPECT_TRUE(parse_env_text("", "test.env").empty());
}

TEST(parse_env_text_test, malformed_lines_name_origin_and_line) {
  const auto error = [](std::string_view text) {
    return config_error_of([&] { parse_env_text(text, "/etc/pgship.env"); });
  };
  EXPECT_EQ(error("A=1\nnot a pair\n"), "/etc/pgship.env:2: expected KEY=VALUE, got 'not a pair'");
  EXPECT_EQ(error("1BAD=x\n"),
            "/etc/pgship.env:1: '1BAD' is not a valid key (letters, digits and _)");
  EXPECT_EQ(error("# c\n\nBAD-KEY=x\n"),
            "/etc/pgship.env:3: 'BAD-KEY' is not a valid key (letters, digits and _)");
  EXPECT_EQ(error("=x\n"), "/etc/pgship.env:1: '' is not a valid key (letters, digits and _)");
  EXPECT_EQ(error("A B=x\n"),
            "/etc/pgship.env:1: 'A B' is not a valid key (letters, digits and _)");
  EXPECT_EQ(error("A=\"unterminated\n"), "/etc/pgship.env:1: unterminated quote in value of A");
  EXPECT_EQ(error("A='unterminated\n"), "/etc/pgship.env:1: unterminated quote in value of A");
  EXPECT_EQ(error("A=\"ends with escaped quote\\\"\n"),
            "/etc/pgship.env:1: unterminated quote in value of A");
  EXPECT_EQ(error("A='x' junk\n"),
            "/etc/pgship.env:1: unexpected text after the quoted value of A");
  EXPECT_EQ(error("A=\"x\"y\n"), "/etc/pgship.env:1: unexpected text after the quoted value of A");
}

// --- typed getters ----------------------------------------------------------------------------

TEST(config_getter_test, integer_in_range) {
  EXPECT_EQ(from_env({{"PORT", "8080"}}).integer("PORT", 1, 65535), 8080);
  EXPECT_EQ(from_env({{"PORT", "1"}}).integer("PORT", 1, 65535), 1);
  EXPECT_EQ(from_env({{"PORT", "65535"}}).integer("PORT", 1, 65535), 65535);
  EXPECT_EQ(from_env({{"PORT", "-3"}}).integer("PORT", -5, 5), -3);
}

TEST(config_getter_test, integer_errors) {
  const std::string allowed = "an integer from 1 to 65535";
  EXPECT_EQ(config_error_of([] {
              from_env({{"PORT", "0"}}).integer("PORT", 1, 65535);
            }),
            "PORT=\"0\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"PORT", "65536"}}).integer("PORT", 1, 65535);
            }),
            "PORT=\"65536\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"PORT", "80x"}}).integer("PORT", 1, 65535);
            }),
            "PORT=\"80x\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"PORT", "99999999999999999999"}}).integer("PORT", 1, 65535);
            }),
            "PORT=\"99999999999999999999\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] { from_env({}).integer("PORT", 1, 65535); }),
            "PORT=\"\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"PORT", "-6"}}).integer("PORT", -5, 5);
            }),
            "PORT=\"-6\" is invalid: expected an integer from -5 to 5");
}

TEST(config_getter_test, optional_integer) {
  EXPECT_EQ(from_env({}).optional_integer("RETRIES", 0, 10), std::nullopt);
  EXPECT_EQ(from_env({{"RETRIES", ""}}).optional_integer("RETRIES", 0, 10), std::nullopt);
  EXPECT_EQ(from_env({{"RETRIES", "3"}}).optional_integer("RETRIES", 0, 10),
            std::optional<std::int64_t>(3));
  EXPECT_EQ(config_error_of([] {
              from_env({{"RETRIES", "11"}}).optional_integer("RETRIES", 0, 10);
            }),
            "RETRIES=\"11\" is invalid: expected an integer from 0 to 10");
  EXPECT_EQ(config_error_of([] {
              from_env({{"RETRIES", "many"}}).optional_integer("RETRIES", 0, 10);
            }),
            "RETRIES=\"many\" is invalid: expected an integer from 0 to 10");
}

TEST(config_getter_test, boolean) {
  EXPECT_TRUE(from_env({{"FLAG", "yes"}}).boolean("FLAG"));
  EXPECT_TRUE(from_env({{"FLAG", "TRUE"}}).boolean("FLAG"));
  EXPECT_FALSE(from_env({{"FLAG", "off"}}).boolean("FLAG"));
  EXPECT_FALSE(from_env({{"FLAG", "0"}}).boolean("FLAG"));
  EXPECT_EQ(config_error_of([] {
              from_env({{"FLAG", "maybe"}}).boolean("FLAG");
            }),
            "FLAG=\"maybe\" is invalid: expected true or false (also yes/no, on/off, 1/0)");
  EXPECT_EQ(config_error_of([] { from_env({}).boolean("FLAG"); }),
            "FLAG=\"\" is invalid: expected true or false (also yes/no, on/off, 1/0)");
}

TEST(config_getter_test, size) {
  EXPECT_EQ(from_env({{"LIMIT", "16M"}}).size("LIMIT"), 16u * 1024 * 1024);
  EXPECT_EQ(from_env({{"LIMIT", "4096"}}).size("LIMIT", 1024, 1024 * 1024), 4096u);
  EXPECT_EQ(from_env({{"LIMIT", "1M"}}).size("LIMIT", 1024, 1024 * 1024), 1024u * 1024);
}

TEST(config_getter_test, size_errors) {
  const std::string allowed = "a size in bytes with an optional K/M/G/T suffix (powers of 1024)";
  EXPECT_EQ(config_error_of([] {
              from_env({{"LIMIT", "1.5G"}}).size("LIMIT");
            }),
            "LIMIT=\"1.5G\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"LIMIT", "-1"}}).size("LIMIT");
            }),
            "LIMIT=\"-1\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"LIMIT", "5x"}}).size("LIMIT");
            }),
            "LIMIT=\"5x\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"LIMIT", "512"}}).size("LIMIT", 1024, 1048576);
            }),
            "LIMIT=\"512\" is invalid: expected " + allowed + ", from 1024 to 1048576 bytes");
  EXPECT_EQ(config_error_of([] {
              from_env({{"LIMIT", "2M"}}).size("LIMIT", 0, 1048576);
            }),
            "LIMIT=\"2M\" is invalid: expected " + allowed + ", from 0 to 1048576 bytes");
}

TEST(config_getter_test, duration) {
  using std::chrono::milliseconds;
  EXPECT_EQ(from_env({{"TIMEOUT", "30"}}).duration("TIMEOUT"), milliseconds(30'000));
  EXPECT_EQ(from_env({{"TIMEOUT", "1h30m"}}).duration("TIMEOUT"), milliseconds(5'400'000));
  EXPECT_EQ(from_env({{"TIMEOUT", "250ms"}}).duration("TIMEOUT"), milliseconds(250));
  const std::string allowed =
      "a duration such as 30, 90s, 5m, 1h30m, 2d (a bare number is seconds)";
  EXPECT_EQ(config_error_of([] {
              from_env({{"TIMEOUT", "5x"}}).duration("TIMEOUT");
            }),
            "TIMEOUT=\"5x\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] {
              from_env({{"TIMEOUT", "m5"}}).duration("TIMEOUT");
            }),
            "TIMEOUT=\"m5\" is invalid: expected " + allowed);
  EXPECT_EQ(config_error_of([] { from_env({}).duration("TIMEOUT"); }),
            "TIMEOUT=\"\" is invalid: expected " + allowed);
}

TEST(config_getter_test, url_with_allowed_scheme) {
  const auto u =
      from_env({{"URL", "https://recv.example:8443/upload?x=1"}}).url("URL", {"http", "https"});
  EXPECT_EQ(u.scheme(), "https");
  EXPECT_EQ(u.host(), "recv.example");
  EXPECT_EQ(u.port(), "8443");
  EXPECT_EQ(u.path(), "/upload");
  EXPECT_EQ(u.query(), "x=1");
  EXPECT_EQ(from_env({{"URL", "http://127.0.0.1"}}).url("URL", {"http", "https"}).host(),
            "127.0.0.1");
  // The scheme is compared case-insensitively.
  EXPECT_EQ(from_env({{"URL", "HTTPS://Host.Example/"}}).url("URL", {"https"}).host(),
            "Host.Example");
}

TEST(config_getter_test, url_errors) {
  const std::string allowed = "an absolute URL with scheme http:// https://";
  for (std::string_view bad : {"ftp://host/x", "not a url", "/relative/path", "https://",
                               "mailto:someone@example.com", "host.example:443", ""}) {
    const std::string value(bad);
    EXPECT_EQ(config_error_of([&] {
                from_env({{"URL", value}}).url("URL", {"http", "https"});
              }),
              "URL=\"" + value + "\" is invalid: expected " + allowed)
        << value;
  }
}

TEST(config_getter_test, list) {
  EXPECT_EQ(from_env({{"LIST", "a, b,,c "}}).list("LIST"),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(from_env({}).list("LIST").empty());
}

TEST(config_getter_test, choice) {
  EXPECT_EQ(from_env({{"MODE", "json"}}).choice("MODE", {"text", "json"}), "json");
  EXPECT_EQ(from_env({{"MODE", "JSON"}}).choice("MODE", {"text", "json"}), "json");
  EXPECT_EQ(from_env({{"MODE", "Text"}}).choice("MODE", {"text", "json"}), "text");
  EXPECT_EQ(config_error_of([] {
              from_env({{"MODE", "xml"}}).choice("MODE", {"text", "json"});
            }),
            "MODE=\"xml\" is invalid: expected one of text json");
  EXPECT_EQ(config_error_of([] {
              from_env({}).choice("MODE", {"text", "json"});
            }),
            "MODE=\"\" is invalid: expected one of text json");
}

TEST(config_getter_test, optional_path) {
  EXPECT_EQ(from_env({}).optional_path("DIR"), std::nullopt);
  EXPECT_EQ(from_env({{"DIR", ""}}).optional_path("DIR"), std::nullopt);
  EXPECT_EQ(from_env({{"DIR", "/var/lib/pgship"}}).optional_path("DIR"),
            std::optional<std::filesystem::path>("/var/lib/pgship"));
}

TEST(config_getter_test, required_string) {
  EXPECT_EQ(from_env({{"NAME", "db1"}}).required_string("NAME"), "db1");
  EXPECT_EQ(config_error_of([] { from_env({}).required_string("NAME"); }),
            "NAME is required but not set");
  EXPECT_EQ(config_error_of([] {
              from_env({{"NAME", ""}}).required_string("NAME");
            }),
            "NAME is required but not set");
}

TEST(config_getter_test, errors_are_one_line) {
  for (const std::string& m : {config_error_of([] {
                                 from_env({{"PORT", "x"}}).integer("PORT", 1, 2);
                               }),
                               config_error_of([] {
                                 from_env({{"FLAG", "x"}}).boolean("FLAG");
                               }),
                               config_error_of([] {
                                 from_env({{"URL", "x"}}).url("URL", {"https"});
                               }),
                               config_error_of([] {
                                 from_env({{"LIMIT", "x"}}).size("LIMIT", 1, 2);
                               }),
                               config_error_of([] {
                                 from_env({{"TIMEOUT", "x"}}).duration("TIMEOUT");
                               }),
                               config_error_of([] {
                                 from_env({{"MODE", "x"}}).choice("MODE", {"a", "b"});
                               }),
                               config_error_of([] { from_env({}).required_string("NAME"); })}) {
    EXPECT_FALSE(m.empty());
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(config_getter_test, secret_bad_value_is_redacted_in_errors) {
  const std::string secret = "ftp://admin:hunter2@db.example/prod";
  const std::string message = config_error_of([&] {
    from_env({{"DB_URL", secret}}).url("DB_URL", {"postgres", "postgresql"});
  });
  EXPECT_EQ(message,
            "DB_URL=\"<redacted>\" is invalid: expected an absolute URL with scheme postgres:// "
            "postgresql://");
  EXPECT_EQ(message.find("hunter2"), std::string::npos);

  const std::string message2 = config_error_of([] {
    from_env({{"PASSWORD", "hunter2"}}).integer("PASSWORD", 0, 1);
  });
  EXPECT_EQ(message2, "PASSWORD=\"<redacted>\" is invalid: expected an integer from 0 to 1");
}

// --- redacted ---------------------------------------------------------------------------------

TEST(config_redacted_test, lists_every_key_with_its_source_and_hides_secrets) {
  temp_dir dir;
  write_file(dir / "pgship.env", "NAME=db1\n");
  const auto cfg = config::load(small_schema, dir / "pgship.env", {{"TOKEN", "supersecret-42"}});
  EXPECT_EQ(cfg.redacted(),
            "PORT=8080  # default\n"
            "NAME=db1  # config file\n"
            "TOKEN=<redacted>  # environment\n"
            "MODE=text  # default\n");
}

TEST(config_redacted_test, secret_from_a_file_and_unset_keys) {
  temp_dir dir;
  write_file(dir / "token", "supersecret-from-file\n");
  const auto cfg = config::load(small_schema, std::nullopt,
                                {{"TOKEN_FILE", (dir / "token").string()}, {"MODE", "json"}});
  const std::string out = cfg.redacted();
  EXPECT_EQ(out,
            "PORT=8080  # default\n"
            "NAME=  # unset\n"
            "TOKEN=<redacted>  # TOKEN_FILE\n"
            "MODE=json  # environment\n");
  EXPECT_EQ(out.find("supersecret"), std::string::npos);
}

TEST(config_redacted_test, never_contains_any_secret_value) {
  temp_dir dir;
  write_file(dir / "pgship.env", "PASSWORD=file-pass-123\nDB_URL=postgres://u:pw-xyz@h/db\n");
  const auto cfg = config::load(typed_schema, dir / "pgship.env", {{"PASSWORD", "env-pass-456"}});
  const std::string out = cfg.redacted();
  EXPECT_EQ(out.find("file-pass-123"), std::string::npos);
  EXPECT_EQ(out.find("env-pass-456"), std::string::npos);
  EXPECT_EQ(out.find("pw-xyz"), std::string::npos);
  EXPECT_NE(out.find("PASSWORD=<redacted>  # environment\n"), std::string::npos) << out;
  EXPECT_NE(out.find("DB_URL=<redacted>  # config file\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace pgship::config
