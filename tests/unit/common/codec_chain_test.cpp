// The chain factory and what it builds on: every stored format's extension names it back, its
// write stages store what the hand-wired codecs stored (the same bytes on disk), its read stages
// give the plain bytes back, and a filter group runs its stages in order, finishes, aborts and
// lets the stage that failed say why.

#include <gtest/gtest.h>

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/backup_name.hpp>
#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>

#include "temp_dir.hpp"

namespace pgship::io {
namespace {

using test::random_bytes;
using test::temp_dir;

const stored_format all_formats[] = {
    {compression::none, encryption::none},
    {compression::zstd, encryption::none},
    {compression::none, encryption::age},
    {compression::zstd, encryption::age},
};

std::error_code feed(sink& first, const std::string& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const std::span<const char> part(data.data() + at, std::min(piece, data.size() - at));
    if (auto ec = first.write(part)) return ec;
  }
  return first.finish();
}

struct keys {
  age::identity id = age::generate_identity();
  codec_settings settings;
  keys() {
    settings.recipients.push_back(age::parse_recipient(age::encode_recipient(id.public_key)));
    settings.secrets.identities.push_back(id);
  }
};

std::string write_as(const stored_format& format, const codec_settings& settings,
                     const std::string& plain) {
  buffer_sink out;
  filter_group chain(out);
  push_write_stages(chain, format, settings);
  EXPECT_FALSE(feed(chain, plain, 100000));
  EXPECT_TRUE(out.finished());
  return out.text();
}

TEST(codec_chain_test, EveryFormatsExtensionNamesItBack) {
  EXPECT_EQ(stored_extension(".dump", all_formats[0]), ".dump");
  EXPECT_EQ(stored_extension(".tar", all_formats[1]), ".tar.zst");
  EXPECT_EQ(stored_extension(".sql", all_formats[2]), ".sql.age");
  EXPECT_EQ(stored_extension(".dump", all_formats[3]), ".dump.zst.age");
  for (const auto& format : all_formats) {
    for (const auto base : {".dump", ".tar", ".sql"}) {
      const auto ext = stored_extension(base, format);
      EXPECT_EQ(format_of_name("app-20261201-030000" + ext), format) << ext;
      EXPECT_EQ(format_of_name(ext), format) << ext;
      // Every name the formats make is one backup_name knows.
      EXPECT_TRUE(parse_backup_name((base == std::string(".sql") ? "globals" : "app") +
                                    std::string("-20261201-030000") + ext))
          << ext;
    }
  }
  EXPECT_EQ(format_of_name("app-20261201-030000.age.dump"), all_formats[0]);
  EXPECT_EQ(to_string(compression::zstd), "zstd");
  EXPECT_EQ(to_string(compression::none), "none");
  EXPECT_EQ(to_string(encryption::age), "age");
  EXPECT_EQ(compression_named("zstd"), compression::zstd);
  EXPECT_EQ(compression_named("pg_dump"), compression::none);
  EXPECT_TRUE(stored_format{}.as_produced());
  EXPECT_FALSE(all_formats[3].as_produced());
}

TEST(codec_chain_test, TheWriteStagesStoreWhatTheCodecsThemselvesStore) {
  const auto plain = random_bytes(300000, 9) + std::string(300000, 'x');
  keys k;
  EXPECT_EQ(write_as(all_formats[0], k.settings, plain), plain);
  buffer_sink direct;
  zstd_compressor z(direct, k.settings.zstd_level, 0);
  ASSERT_FALSE(feed(z, plain, 100000));
  const auto zst = write_as(all_formats[1], k.settings, plain);
  EXPECT_EQ(zst, direct.text()) << "the same zstd bytes on disk";
  EXPECT_LT(zst.size(), plain.size());
  EXPECT_TRUE(starts_like_age(write_as(all_formats[2], k.settings, plain)));
  // Compressed, then encrypted: decrypting gives the zstd stream.
  const auto both = write_as(all_formats[3], k.settings, plain);
  EXPECT_TRUE(starts_like_age(both));
  EXPECT_EQ(both.size(), write_as(all_formats[2], k.settings, zst).size());
}

// Base backups ask for smaller zstd jobs than dumps (memory): the setting reaches the workers,
// which split the stream where it says, and the bytes still read back.
TEST(codec_chain_test, TheZstdJobSizeReachesTheWorkers) {
  std::string plain;
  for (int i = 0; i < 6; ++i)
    plain += random_bytes(512 * 1024, i) + std::string(512 * 1024, 'z');
  codec_settings settings;
  settings.zstd_threads = 2;
  const auto usual = write_as(all_formats[1], settings, plain);
  settings.zstd_job_size = 1024 * 1024;
  const auto small_jobs = write_as(all_formats[1], settings, plain);
  buffer_sink direct;
  zstd_compressor z(direct, settings.zstd_level, 2, 1024 * 1024);
  ASSERT_FALSE(feed(z, plain, 100000));
  EXPECT_EQ(small_jobs, direct.text());
  EXPECT_NE(small_jobs, usual) << "1 MiB jobs cut the 6 MiB stream where 4 MiB jobs do not";
  for (const auto* stored : {&usual, &small_jobs}) {
    buffer_sink out;
    filter_group chain(out);
    push_read_stages(chain, all_formats[1], settings);
    ASSERT_FALSE(feed(chain, *stored, 65537));
    EXPECT_EQ(out.text(), plain);
  }
}

TEST(codec_chain_test, TheReadStagesGiveThePlainBytesBackForEveryFormat) {
  const auto plain = random_bytes(200000, 4) + std::string(500000, 'y');
  keys k;
  for (const auto& format : all_formats) {
    const auto stored = write_as(format, k.settings, plain);
    buffer_sink out;
    filter_group chain(out);
    push_read_stages(chain, format, k.settings);
    ASSERT_FALSE(feed(chain, stored, 65537)) << stored_extension(".dump", format);
    EXPECT_EQ(out.text(), plain) << stored_extension(".dump", format);
  }
}

TEST(codec_chain_test, AReadFailureIsTheCodecsAndSaysWhichStageFailed) {
  const auto plain = random_bytes(400000, 2);
  keys k;
  auto stored = write_as(all_formats[3], k.settings, plain);
  stored[stored.size() - 1000] ^= 1;  // in the payload's last chunk
  buffer_sink out;
  filter_group chain(out);
  push_read_stages(chain, all_formats[3], k.settings);
  const auto ec = feed(chain, stored, 10000);
  ASSERT_TRUE(age::is_age_error(ec));
  EXPECT_TRUE(is_codec_error(ec));
  EXPECT_NE(chain.describe(ec).find("chunk"), std::string::npos) << chain.describe(ec);

  auto zst = write_as(all_formats[1], k.settings, plain);
  zst.resize(zst.size() - 3);
  buffer_sink cut;
  filter_group unzstd(cut);
  push_read_stages(unzstd, all_formats[1], k.settings);
  const auto cut_ec = feed(unzstd, zst, 1000);
  EXPECT_TRUE(is_codec_error(cut_ec));
  EXPECT_EQ(unzstd.describe(cut_ec), cut_ec.message());
  EXPECT_FALSE(is_codec_error(std::make_error_code(std::errc::io_error)));
}

TEST(codec_chain_test, AGroupRunsItsStagesInOrderAndAbortsDownToANewFile) {
  temp_dir dir;
  std::error_code ec;
  filter_group chain(std::make_unique<new_file>(dir / "f", ec));
  ASSERT_FALSE(ec);
  const auto& stored = chain.push_front<hash_filter>();
  const auto& head = chain.push_front<head_filter>(3);
  ASSERT_FALSE(chain.write(std::string_view("PGDMP")));
  EXPECT_EQ(head.head(), "PGD");
  EXPECT_EQ(stored.bytes(), 5u);
  EXPECT_TRUE(std::filesystem::exists(dir / "f"));
  chain.abort();
  EXPECT_FALSE(std::filesystem::exists(dir / "f"));

  filter_group kept(std::make_unique<new_file>(dir / "g", ec));
  ASSERT_FALSE(feed(kept, "all of it", 4));
  EXPECT_EQ(test::read_file(dir / "g"), "all of it");
  new_file again(dir / "g", ec);
  EXPECT_EQ(ec, std::errc::file_exists) << "created exclusively";
}

}  // namespace
}  // namespace pgship::io
