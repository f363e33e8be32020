#include "repository/manifest.hpp"

#include <gtest/gtest.h>

#include <pgship/common/checksum_line.hpp>

#include "net/http_client.hpp"
#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

TEST(Manifest, RoundTripsThroughJsonAndDisk) {
  manifest m;
  m.name = "sales-20261121-030000.dump";
  m.database = "sales";
  m.size = 123456789;
  m.sha256 = std::string(64, 'b');
  m.pg_dump_version = "15.18";
  m.server_version = "15.4";
  m.started = "2026-11-21T03:00:00Z";
  m.finished = "2026-11-21T03:01:00Z";
  m.agent_host = "db1";
  m.run_id = "20261121T030000Z-abcdef";
  m.upload.state = upload_state::failed;
  m.upload.retries = 2;
  m.upload.resumes = 1;
  m.upload.resume_at = "/api/backup/uploads/0123456789abcdef0123456789abcdef";
  test::temp_dir dir;
  ASSERT_FALSE(write_manifest(dir.path(), m));
  EXPECT_EQ(manifest_path(dir.path(), m.name), dir / "sales-20261121-030000.json");
  const auto back = read_manifest(manifest_path(dir.path(), m.name));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->database, "sales");
  EXPECT_EQ(back->size, 123456789u);
  EXPECT_EQ(back->sha256, m.sha256);
  EXPECT_EQ(back->server_version, "15.4");
  EXPECT_EQ(back->upload.state, upload_state::failed);
  EXPECT_EQ(back->upload.retries, 2);
  EXPECT_EQ(back->upload.resumes, 1);
  EXPECT_EQ(back->upload.resume_at, m.upload.resume_at);
  EXPECT_FALSE(parse_manifest("{not json"));
  EXPECT_FALSE(parse_manifest("{\"name\":\"x.dump\"}")) << "no sha256";
}

TEST(Manifest, RowCountsAndAdoptionRoundTrip) {
  manifest m;
  m.name = "sales-20261121-030000.dump";
  m.sha256 = std::string(64, 'c');
  m.adopted = true;
  m.row_counts = "exact";
  m.tables = {{"public", "trades", 1500000}, {"audit", "log \"x\"", 0}};
  const auto back = parse_manifest(to_json(m));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->adopted);
  EXPECT_EQ(back->row_counts, "exact");
  ASSERT_EQ(back->tables.size(), 2u);
  EXPECT_EQ(back->tables[0].schema, "public");
  EXPECT_EQ(back->tables[0].name, "trades");
  EXPECT_EQ(back->tables[0].rows, 1500000u);
  EXPECT_EQ(back->tables[1].name, "log \"x\"");
  // Without counts the manifest says nothing of tables.
  manifest plain = m;
  plain.row_counts.clear();
  plain.tables.clear();
  EXPECT_EQ(to_json(plain).find("tables"), std::string::npos);
}

TEST(Manifest, KindsFailedCountsExtensionsAndTimescaleDBRoundTrip) {
  manifest m;
  m.name = "market-20261206-030000.dump";
  m.sha256 = std::string(64, 'd');
  m.row_counts = "exact";
  m.tables = {{"public", "trades", 200000, "hypertable", ""},
              {"public", "trades_1h", 24050, "continuous_aggregate", ""},
              {"public", "quotes", 0, "hypertable", "chunk 3 has no dimension slices"}};
  m.extensions = {{"plpgsql", "1.0"}, {"timescaledb", "2.28.3"}};
  timescaledb_facts ts;
  ts.version = "2.28.3";
  ts.hypertables = {{"public", "trades", 21, 13}};
  ts.jobs = {
      {1001, "_timescaledb_functions.policy_compression", "public.trades", "12:00:00", false},
      {1, "_timescaledb_functions.policy_telemetry", "", "24:00:00", true}};
  m.timescaledb = ts;
  const auto text = to_json(m);
  // A failed count has no number, so nothing can mistake it for zero rows.
  EXPECT_NE(text.find(R"("rows":null,"error":"chunk 3 has no dimension slices")"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("hypertable":null)"), std::string::npos) << text;
  const auto back = parse_manifest(text);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->tables.size(), 3u);
  EXPECT_EQ(back->tables[0].kind, "hypertable");
  EXPECT_EQ(back->tables[1].kind, "continuous_aggregate");
  EXPECT_EQ(back->tables[2].error, "chunk 3 has no dimension slices");
  EXPECT_EQ(extension_of(*back, "timescaledb"), "2.28.3");
  EXPECT_FALSE(extension_of(*back, "postgis"));
  ASSERT_TRUE(back->timescaledb);
  EXPECT_EQ(back->timescaledb->version, "2.28.3");
  ASSERT_EQ(back->timescaledb->hypertables.size(), 1u);
  EXPECT_EQ(back->timescaledb->hypertables[0].compressed_chunks, 13u);
  ASSERT_EQ(back->timescaledb->jobs.size(), 2u);
  EXPECT_EQ(back->timescaledb->jobs[0].id, 1001);
  EXPECT_FALSE(back->timescaledb->jobs[0].scheduled);
  EXPECT_EQ(back->timescaledb->jobs[1].hypertable, "");
  // Older manifests: no kind means a plain table, no section means no TimescaleDB.
  const auto old = parse_manifest(
      R"({"name":"a-20261121-030000.dump","sha256":")" + std::string(64, 'e') +
      R"(","row_counts":"exact","tables":[{"schema":"public","name":"t","rows":3}]})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->tables.at(0).kind, "table");
  EXPECT_FALSE(old->timescaledb);
  EXPECT_TRUE(old->extensions.empty());
}

TEST(Manifest, ChecksumFileIsInSha256sumFormat) {
  test::temp_dir dir;
  const std::string hex(64, 'c');
  ASSERT_FALSE(write_checksum_file(dir.path(), "db-20261121-030000.dump", hex));
  EXPECT_EQ(test::read_file(dir / "db-20261121-030000.dump.sha256"),
            hex + "  db-20261121-030000.dump\n");
  EXPECT_TRUE(write_checksum_file(dir.path(), "x.dump", "not-hex"));
}

TEST(ReceiverEndpoint, ParsesBackupApiUrls) {
  const auto plain = receiver_endpoint::parse("http://backup:9101");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "backup");
  EXPECT_EQ(plain->port, "9101");
  EXPECT_EQ(plain->target("/health"), "/health");
  const auto tls = receiver_endpoint::parse("https://backup.example/pgship/");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->port, "443");
  EXPECT_EQ(tls->target("/health"), "/pgship/health");
  EXPECT_EQ(tls->origin(), "https://backup.example:443");
  EXPECT_FALSE(receiver_endpoint::parse("ftp://backup"));
  EXPECT_FALSE(receiver_endpoint::parse("backup:9101/x"));
}

}  // namespace
}  // namespace pgship::agent
