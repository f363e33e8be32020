// How a TimescaleDB archive's listing is split for TimescaleDB's restore procedure, and what
// a failed pg_restore is reported with.

#include "pipeline/timescaledb_restore.hpp"

#include <gtest/gtest.h>

#include "child_process.hpp"

namespace pgship::agent {
namespace {

// Lines as pg_restore 15 --list prints them for a TimescaleDB database.
constexpr std::string_view listing =
    ";\n; Archive created at 2026-12-06 13:43:06 UTC\n;     dbname: shop\n;\n"
    "2; 3079 16385 EXTENSION - timescaledb \n"
    "4712; 0 0 COMMENT - EXTENSION timescaledb \n"
    "250; 1259 16600 TABLE public trades postgres\n"
    "4601; 0 16403 TABLE DATA _timescaledb_catalog hypertable postgres\n"
    "4634; 0 0 SEQUENCE SET _timescaledb_catalog chunk_id_seq postgres\n"
    "4620; 0 16700 TABLE DATA _timescaledb_internal _hyper_1_1_chunk postgres\n"
    "4650; 0 16620 TABLE DATA public accounts postgres\n"
    "4660; 0 0 SEQUENCE SET public orders_id_seq postgres\n"
    "4390; 2606 16630 CONSTRAINT public accounts accounts_pkey postgres\n";

TEST(timescaledb_restore_test, TheExtensionsOwnEntriesAreLeftOut) {
  const auto toc = split_timescaledb_toc(listing);
  EXPECT_EQ(toc.all.find("EXTENSION - timescaledb"), std::string::npos);
  EXPECT_EQ(toc.all.find("COMMENT - EXTENSION"), std::string::npos);
  EXPECT_EQ(toc.all.find("Archive created"), std::string::npos);
  EXPECT_NE(toc.all.find("250; 1259 16600 TABLE public trades postgres\n"), std::string::npos);
  EXPECT_NE(toc.all.find("4390; 2606"), std::string::npos);
}

TEST(timescaledb_restore_test, TheCatalogsRowsGoFirstAndEveryOtherRowAfter) {
  const auto toc = split_timescaledb_toc(listing);
  // First: definitions and the catalog's rows.
  EXPECT_NE(toc.first.find("TABLE public trades"), std::string::npos);
  EXPECT_NE(toc.first.find("TABLE DATA _timescaledb_catalog hypertable"), std::string::npos);
  EXPECT_NE(toc.first.find("SEQUENCE SET _timescaledb_catalog chunk_id_seq"), std::string::npos);
  EXPECT_EQ(toc.first.find("_hyper_1_1_chunk"), std::string::npos);
  EXPECT_EQ(toc.first.find("TABLE DATA public accounts"), std::string::npos);
  EXPECT_EQ(toc.first.find("orders_id_seq"), std::string::npos);
  // Second: every other row and what follows them, never the catalog's rows twice.
  EXPECT_EQ(toc.second.find("_timescaledb_catalog"), std::string::npos);
  EXPECT_NE(toc.second.find("_hyper_1_1_chunk"), std::string::npos);
  EXPECT_NE(toc.second.find("TABLE DATA public accounts"), std::string::npos);
  EXPECT_NE(toc.second.find("SEQUENCE SET public orders_id_seq"), std::string::npos);
  EXPECT_NE(toc.second.find("CONSTRAINT public accounts"), std::string::npos);
}

TEST(timescaledb_restore_test, AFailedRestoreIsReportedWithPostgresErrorAndDetail) {
  child_result r;
  r.started = true;
  r.exit_code = 1;
  r.err =
      "pg_restore: while PROCESSING TOC:\n"
      "pg_restore: from TOC entry 4601; 0 16403 TABLE DATA _timescaledb_catalog chunk postgres\n"
      "pg_restore: error: could not execute query: ERROR:  insert or update on table \"chunk\" "
      "violates foreign key constraint \"chunk_hypertable_id_fkey\"\n"
      "DETAIL:  Key (hypertable_id)=(1) is not present in table \"hypertable\".\n"
      "CONTEXT:  COPY chunk, line 1\n"
      "Command was: COPY _timescaledb_catalog.chunk (id, hypertable_id) FROM stdin;\n";
  EXPECT_EQ(r.postgres_error(),
            "ERROR:  insert or update on table \"chunk\" violates foreign key constraint "
            "\"chunk_hypertable_id_fkey\" DETAIL:  Key (hypertable_id)=(1) is not present in "
            "table \"hypertable\". (in: COPY _timescaledb_catalog.chunk (id, hypertable_id) FROM "
            "stdin;)");
  // The last line alone would have said only the command.
  EXPECT_EQ(r.last_error_line(),
            "Command was: COPY _timescaledb_catalog.chunk (id, hypertable_id) FROM stdin;");
}

TEST(timescaledb_restore_test, WithoutAnErrorLineTheLastLineStands) {
  child_result r;
  r.err = "pg_restore: error: could not open input file \"x\": No such file or directory\n";
  EXPECT_EQ(r.postgres_error(), r.last_error_line());
}

}  // namespace
}  // namespace pgship::agent
