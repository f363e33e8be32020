#include <algorithm>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <pgship/common/config.hpp>
#include <pgship/common/config_keys.hpp>

// Both programs' schemas; declared here because both headers are named settings.hpp.
namespace pgship::agent {
std::span<const config::key_spec> config_schema();
}
namespace pgship::receiver {
std::span<const config::key_spec> config_schema();
}

namespace pgship::config {
namespace {

std::set<std::string> schema_names(std::span<const key_spec> schema) {
  std::set<std::string> out;
  for (const auto& s : schema) {
    out.emplace(s.name);
    if (s.secret) out.insert(std::string(s.name) + "_FILE");
  }
  return out;
}

TEST(config_keys_test, the_list_is_both_schemas_with_file_forms) {
  auto expected = schema_names(agent::config_schema());
  expected.merge(schema_names(receiver::config_schema()));
  const auto listed = pgship_key_names();
  const std::set<std::string> actual(listed.begin(), listed.end());
  EXPECT_EQ(actual, expected) << "common/src/config_keys.cpp lists other names than the schemas";
  EXPECT_EQ(actual.size(), listed.size()) << "a name is listed twice";
}

TEST(config_keys_test, every_prefix_is_a_word_some_key_or_planned_key_begins_with) {
  const std::string_view planned[] = {"WAL_", "PITR_", "BASEBACKUP_", "WEBHOOK_"};  // DESIGN.md
  for (const auto prefix : pgship_key_prefixes()) {
    EXPECT_TRUE(prefix.ends_with('_')) << prefix;
    const auto names = pgship_key_names();
    const bool used =
        std::any_of(names.begin(), names.end(),
                    [&](std::string_view k) { return k.starts_with(prefix); }) ||
        std::find(std::begin(planned), std::end(planned), prefix) != std::end(planned);
    EXPECT_TRUE(used) << prefix;
  }
}

TEST(config_keys_test, edit_distance_counts_single_edits_and_swaps) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("SCHEDULE", "SCHEDULE"), 0u);
  EXPECT_EQ(edit_distance("KEEP_LOCAL_BACKUP", "KEEP_LOCAL_BACKUPS"), 1u);  // insertion
  EXPECT_EQ(edit_distance("POSTGRES_PASWORD", "POSTGRES_PASSWORD"), 1u);
  EXPECT_EQ(edit_distance("SCHEDUEL", "SCHEDULE"), 2u);  // a swap is two edits
  EXPECT_EQ(edit_distance("ZSTD_LEVLE", "ZSTD_LEVEL"), 2u);
  EXPECT_EQ(edit_distance("SSL_CERT_FILE", "TLS_CERT_FILE"), 3u);
  EXPECT_EQ(edit_distance("ENCRYPTION_RECIPIENTS", "ENCRYPT_RECIPIENTS"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(config_keys_test, near_misses_of_long_keys_look_mistaken) {
  for (const char* name :
       {"ENCRYPT_RECIPIENT", "KEEP_LOCAL_BACKUP", "POSTGRES_PASWORD", "BACKUP_API_TOKN", "SCHEDUEL",
        "STORAGE_DIRR", "COMPRESS_LVL", "UPLOAD_CHUNKSIZE", "KEEP_DAY", "BACKUP_API_URI",
        "MAX_RETRIES_", "LISTEN_ADR", "UPLOADS", "LOGLEVEL"}) {
    EXPECT_TRUE(looks_like_pgship_key(name)) << name;
  }
}

TEST(config_keys_test, names_carrying_a_pgship_prefix_look_mistaken) {
  for (const char* name :
       {"ENCRYPTION_RECIPIENTS", "ENCRYPT_KEY", "DRILL_POSTGRES_DB", "WAL_STREAM", "PITR_KEEP",
        "BASEBACKUP_SCHEDULE", "WEBHOOK_URL", "WEBHOOKS_URL", "UPLOAD_LIMIT", "ZSTD_LVL",
        "S3_SECRET_KEY", "S3_ENGINE", "SCRUB_EVERY", "AGE_IDENTITY", "DRILL_POSTGRES_USER_FILE"}) {
    EXPECT_TRUE(looks_like_pgship_key(name)) << name;
  }
}

TEST(config_keys_test, short_names_are_not_compared) {
  // Within 2 edits of TZ or PORT, but not pgship's.
  for (const char* name : {"_", "PWD", "TERM", "PATH", "HOME", "LANG", "USER", "CI", "TZX",
                           "PGPORT", "PROT", "SHELL", "JOBS"}) {
    EXPECT_FALSE(looks_like_pgship_key(name)) << name;
  }
}

TEST(config_keys_test, the_usual_environment_is_not_taken_for_pgship_keys) {
  for (const char* name :
       {// the postgres and timescaledb images, libpq
        "POSTGRES_INITDB_ARGS", "POSTGRES_INITDB_WALDIR", "POSTGRES_HOST_AUTH_METHOD",
        "POSTGRES_USER_FILE", "POSTGRES_DB_FILE", "PGDATA", "PG_MAJOR", "PG_VERSION",
        "GOSU_VERSION", "PGHOST", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGPASSFILE",
        "TIMESCALEDB_TELEMETRY", "TS_TUNE_MEMORY",
        // postgres-backup-local's own keys beside those pgship shares with it
        "BACKUP_KEEP_MINS", "BACKUP_SUFFIX", "BACKUP_ON_START", "POSTGRES_EXTRA_OPTS",
        // shell, locale, TLS, proxies
        "HOSTNAME", "OLDPWD", "SHLVL", "LOGNAME", "TMPDIR", "LC_ALL", "LANGUAGE", "EDITOR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "https_proxy", "NO_PROXY",
        // Kubernetes, including service links of Services named pgship-receiver and postgres
        "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBERNETES_PORT_443_TCP_ADDR",
        "PGSHIP_RECEIVER_PORT", "PGSHIP_RECEIVER_PORT_9101_TCP",
        "PGSHIP_RECEIVER_PORT_9101_TCP_ADDR", "PGSHIP_RECEIVER_SERVICE_HOST",
        "POSTGRES_SERVICE_HOST", "POSTGRES_PORT_5432_TCP",
        // the pgship image, systemd, CI and the test runner
        "PGSHIP_ROLE", "PGSHIP_STORAGE_BACKENDS", "INVOCATION_ID", "JOURNAL_STREAM",
        "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC",
        "RUNTIME_DIRECTORY", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "GITHUB_ACTIONS",
        "CCACHE_BASEDIR", "CCACHE_NOHASHDIR", "BUILD_DIR", "BUILD_TYPE", "UBSAN_OPTIONS",
        "DEBIAN_FRONTEND", "XDG_RUNTIME_DIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    EXPECT_FALSE(looks_like_pgship_key(name)) << name;
  }
}

// Kubernetes service links of Services called s3, webhook, uploads or wal: every pod in the
// namespace gets them, so they must not stop an agent or receiver started there.
TEST(config_keys_test, kubernetes_service_links_are_never_pgship_keys) {
  EXPECT_TRUE(is_service_link("S3_SERVICE_HOST", "10.96.0.12"));
  EXPECT_TRUE(is_service_link("WEBHOOK_SERVICE_PORT", "80"));
  EXPECT_TRUE(is_service_link("UPLOADS_SERVICE_PORT_HTTP", "8080"));
  EXPECT_TRUE(is_service_link("S3_PORT", "tcp://10.96.0.12:9000"));
  EXPECT_TRUE(is_service_link("WAL_PORT_5432_TCP", "tcp://10.96.0.13:5432"));
  EXPECT_TRUE(is_service_link("WAL_PORT_5432_TCP_ADDR", "10.96.0.13"));
  EXPECT_TRUE(is_service_link("S3_PORT_9000_TCP_PROTO", "tcp"));
  // Not links: a typo of a key that happens to end in _PORT, or a port-ish value.
  EXPECT_FALSE(is_service_link("DRILL_POSTGRES_PROT", "5432"));
  EXPECT_FALSE(is_service_link("DRILL_POSTGERS_PORT", "5432"));
  EXPECT_FALSE(is_service_link("S3_PORT_X_TCP", "tcp"));
}

TEST(config_keys_test, nearest_key_takes_the_smallest_distance) {
  const std::string_view keys[] = {"KEEP_DAYS", "KEEP_LOCAL_BACKUPS", "ENCRYPT_RECIPIENTS"};
  EXPECT_EQ(nearest_key("KEEP_LOCAL_BACKUP", keys), "KEEP_LOCAL_BACKUPS");
  EXPECT_EQ(nearest_key("ENCRYPTION_RECIPIENTS", keys), "ENCRYPT_RECIPIENTS");
  EXPECT_EQ(nearest_key("KEEP_DAY", keys), "KEEP_DAYS");
  EXPECT_EQ(nearest_key("X", std::span<const std::string_view>()), "");
}

}  // namespace
}  // namespace pgship::config
