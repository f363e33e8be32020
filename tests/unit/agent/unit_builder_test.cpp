// The unit builder cuts the replication stream into sealed units: never across a segment end
// (a message crossing one is split), at the size cap, when the first byte has waited long
// enough, or when asked; each unit is a complete file of its own that the age test identity
// decrypts and zstd decompresses back to exactly its WAL bytes, and the units together are
// the stream.

#include "wal/unit_builder.hpp"
#include <filesystem>
#include <stdexcept>

#include <gtest/gtest.h>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>
#include <pgship/common/sha256.hpp>

#include "temp_dir.hpp"

namespace pgship::agent::wal {
namespace {

using namespace std::chrono_literals;
using clock = unit_builder::clock;
using wire::wal::time_sample;

constexpr std::uint64_t MiB = 1ull << 20;
constexpr io::stored_format zst_age{io::compression::zstd, io::encryption::age};

// The C2SP testkit's X25519 identity (the `identity:` line of its x25519 vector), the key
// an operator would hold offline.
age::identity testkit_identity() {
  const auto text =
      test::read_file(std::filesystem::path(PGSHIP_TEST_DATA_DIR) / "age-testkit" / "x25519");
  const std::string key = "identity: ";
  const auto at = text.find(key);
  EXPECT_NE(at, std::string::npos);
  const auto end = text.find('\n', at);
  const auto ids = age::parse_identities_file(text.substr(at + key.size(), end - at - key.size()));
  EXPECT_EQ(ids.size(), 1u);
  return ids.at(0);
}

struct keys {
  io::codec_settings settings;
  keys() {
    const auto id = testkit_identity();
    settings.zstd_level = 1;
    settings.zstd_threads = 4;  // the builder uses none for units, whatever ZSTD_THREADS says
    settings.recipients.push_back(age::parse_recipient(age::encode_recipient(id.public_key)));
    settings.secrets.identities.push_back(id);
  }
};

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A unit's stored bytes read back alone, as restore_command does (age -d | zstd -d).
std::string read_back(const sealed_unit& unit, const io::codec_settings& settings) {
  io::buffer_sink out;
  io::filter_group chain(out);
  io::push_read_stages(chain, unit.name.format, settings);
  auto ec = chain.write(std::span<const char>(unit.stored.data(), unit.stored.size()));
  if (!ec) ec = chain.finish();
  EXPECT_FALSE(ec) << unit.name.file_name() << ": " << chain.describe(ec);
  return out.text();
}

// Feeds `stream` from `at` in messages of `message` bytes, sealing what is left at the end.
std::vector<sealed_unit> feed(unit_builder& b, timeline_id tli, lsn at, const std::string& stream,
                              std::size_t message, clock::time_point now) {
  std::vector<sealed_unit> units;
  for (std::size_t done = 0; done < stream.size(); done += message) {
    const auto piece = std::string_view(stream).substr(done, message);
    auto sealed = b.append(
        tli, at + done, std::as_bytes(std::span(piece.data(), piece.size())),
        time_sample{1'700'000'000'000 + static_cast<std::int64_t>(done), at + done + piece.size()},
        now);
    for (auto& u : sealed)
      units.push_back(std::move(u));
  }
  if (auto last = b.seal()) units.push_back(std::move(*last));
  return units;
}

// Every unit decrypts and decompresses alone to its own WAL bytes, carries their hashes and
// sizes, and the units follow each other without a gap to rebuild `stream`.
void expect_units_rebuild(const std::vector<sealed_unit>& units, const std::string& stream, lsn at,
                          const io::codec_settings& settings) {
  std::string joined;
  lsn expected_start = at;
  for (const auto& u : units) {
    SCOPED_TRACE(u.name.file_name());
    EXPECT_EQ(u.start, expected_start);
    EXPECT_LT(u.start, u.end);
    EXPECT_TRUE(io::starts_like_age(std::span<const char>(u.stored.data(), u.stored.size())));
    const auto plain = read_back(u, settings);
    EXPECT_EQ(plain.size(), u.end - u.start);
    EXPECT_EQ(u.plaintext_size, plain.size());
    EXPECT_EQ(u.plaintext_sha256, to_hex(sha256_of(plain)));
    EXPECT_EQ(u.stored_sha256, to_hex(sha256_of(u.stored)));
    EXPECT_EQ(plain, stream.substr(u.start - at, u.end - u.start));
    // A unit never crosses its segment's end.
    EXPECT_EQ(u.start / u.segment_size, (u.end - 1) / u.segment_size);
    EXPECT_EQ(u.name.end - u.name.start, u.end - u.start);
    joined += plain;
    expected_start = u.end;
  }
  EXPECT_EQ(joined.size(), stream.size());
  EXPECT_TRUE(joined == stream);
}

TEST(unit_builder_test, CutsAtTheSegmentEndSplittingAMessageThatCrossesIt) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 1000ms);
  const auto t0 = clock::now();
  const lsn at = 0x100300000ull + 0xF0000;  // segment 1/3 (1 MiB segments), 64 KiB before its end
  const auto message = test::random_bytes(128 * 1024, 7);

  auto sealed = b.append(1, at, bytes_of(message), time_sample{1000, at + message.size()}, t0);
  ASSERT_EQ(sealed.size(), 1u);
  const auto& first = sealed[0];
  EXPECT_EQ(first.name.file_name(), "000000010000000100000003.000F0000-00100000.zst.age");
  EXPECT_EQ(first.start, at);
  EXPECT_EQ(first.end, 0x100400000ull);
  EXPECT_TRUE(first.ends_segment());
  EXPECT_EQ(first.timeline, 1u);
  EXPECT_EQ(first.segment_size, 1 * MiB);
  EXPECT_EQ(first.first_received, t0);
  // The rest of the message opened the next segment's unit.
  EXPECT_EQ(b.next(), at + message.size());
  ASSERT_TRUE(b.deadline().has_value());

  auto second = b.seal();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->name.file_name(), "000000010000000100000004.00000000-00010000.zst.age");
  EXPECT_FALSE(second->ends_segment());
  EXPECT_EQ(second->first_received, t0);
  EXPECT_EQ(b.held_bytes(), 0u);
  EXPECT_FALSE(b.deadline().has_value());

  expect_units_rebuild({first, *second}, message, at, k.settings);
}

TEST(unit_builder_test, WholeSegmentsInOneMiBSegmentsRebuildTheStream) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 1000ms);
  // 4 segments' worth from the middle of one, in messages that do not divide a segment.
  const lsn at = 5 * MiB + 300'000;
  const auto stream = test::random_bytes(4 * MiB, 11);
  const auto units = feed(b, 1, at, stream, 100'003, clock::now());
  ASSERT_EQ(units.size(), 5u);
  EXPECT_EQ(units[0].name.file_name(), "000000010000000000000005.000493E0-00100000.zst.age");
  EXPECT_EQ(units[1].name.file_name(), "000000010000000000000006.00000000-00100000.zst.age");
  EXPECT_EQ(units[3].name.file_name(), "000000010000000000000008.00000000-00100000.zst.age");
  EXPECT_EQ(units[4].name.segment, "000000010000000000000009");
  EXPECT_EQ(units[4].name.start, 0u);
  EXPECT_EQ(units[4].name.end, (at + stream.size()) % MiB);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_TRUE(units[i].ends_segment()) << i;
  EXPECT_FALSE(units[4].ends_segment());
  expect_units_rebuild(units, stream, at, k.settings);
}

TEST(unit_builder_test, SixteenMiBSegmentsAreNamedByTheirOwnNumbering) {
  keys k;
  unit_builder b(zst_age, k.settings, 16 * MiB, 1000ms);
  const lsn at = 0x123000000ull + 0x400000;  // 16 MiB segment 0x123: log 1, segment 0x23
  const auto message = test::random_bytes(1024, 3);
  EXPECT_TRUE(b.append(2, at, bytes_of(message), time_sample{5, at}, clock::now()).empty());
  const auto unit = b.seal();
  ASSERT_TRUE(unit.has_value());
  EXPECT_EQ(unit->name.file_name(), "000000020000000100000023.00400000-00400400.zst.age");
  EXPECT_EQ(unit->name.stem(), "000000020000000100000023.00400000-00400400");
  EXPECT_EQ(unit->timeline, 2u);
  expect_units_rebuild({*unit}, message, at, k.settings);
}

TEST(unit_builder_test, TheSizeCapCutsUnitsOfLargeSegmentsAt16MiB) {
  keys k;
  unit_builder b(zst_age, k.settings, 64 * MiB, 1000ms);
  // From 8 MiB into a 64 MiB segment, 20 MiB: cut at 24 MiB (cap), not at the segment end.
  const lsn at = 64 * MiB + 8 * MiB;
  std::string stream = test::random_bytes(MiB, 5);
  while (stream.size() < 20 * MiB)
    stream += stream.substr(0, 20 * MiB - stream.size());
  const auto units = feed(b, 1, at, stream, 128 * 1024, clock::now());
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].name.file_name(), "000000010000000000000001.00800000-01800000.zst.age");
  EXPECT_EQ(units[0].plaintext_size, 16 * MiB);
  EXPECT_FALSE(units[0].ends_segment());
  EXPECT_EQ(units[1].name.file_name(), "000000010000000000000001.01800000-01C00000.zst.age");
  expect_units_rebuild(units, stream, at, k.settings);
}

TEST(unit_builder_test, SixteenMiBSegmentsAreCutAtTheirEndOnly) {
  keys k;
  unit_builder b(zst_age, k.settings, 16 * MiB, 1000ms);
  std::string stream(16 * MiB + 4096, 'w');  // compresses to almost nothing
  const auto units = feed(b, 1, 0, stream, 128 * 1024, clock::now());
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].name.file_name(), "000000010000000000000000.00000000-01000000.zst.age");
  EXPECT_TRUE(units[0].ends_segment());
  EXPECT_EQ(units[1].name.file_name(), "000000010000000000000001.00000000-00001000.zst.age");
  EXPECT_LT(units[0].stored.size(), MiB);  // only the stored bytes are held
  expect_units_rebuild(units, stream, 0, k.settings);
}

TEST(unit_builder_test, HeldBytesAreTheOpenUnitsStoredBytes) {
  keys k;
  unit_builder b(zst_age, k.settings, 16 * MiB, 1000ms);
  EXPECT_EQ(b.held_bytes(), 0u);
  const auto stream = test::random_bytes(2 * MiB, 17);  // does not compress
  for (std::size_t at = 0; at < stream.size(); at += 128 * 1024) {
    const auto piece = std::string_view(stream).substr(at, 128 * 1024);
    b.append(1, at, std::as_bytes(std::span(piece.data(), piece.size())), time_sample{1, at},
             clock::now());
  }
  // The codecs keep a block back; the rest is ciphertext held for the PUT.
  EXPECT_GT(b.held_bytes(), MiB);
  EXPECT_LE(b.held_bytes(), 2 * MiB + 64 * 1024);
  const auto unit = b.seal();
  ASSERT_TRUE(unit.has_value());
  EXPECT_GE(unit->stored.size(), 2 * MiB);
  EXPECT_EQ(b.held_bytes(), 0u);
}

TEST(unit_builder_test, AUnitIsSealedWhenItsFirstByteHasWaitedMaxWait) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 800ms);
  const auto t0 = clock::time_point(100s);  // injected: nothing sleeps
  const lsn at = 2 * MiB + 4096;
  const auto a = test::random_bytes(1000, 1);
  const auto c = test::random_bytes(2000, 2);
  EXPECT_FALSE(b.seal_if_due(t0).has_value());  // nothing open
  EXPECT_TRUE(b.append(1, at, bytes_of(a), time_sample{1, at + 1000}, t0).empty());
  ASSERT_TRUE(b.deadline().has_value());
  EXPECT_EQ(*b.deadline(), t0 + 800ms);
  // More bytes do not move the deadline: it is the first byte's.
  EXPECT_TRUE(b.append(1, at + 1000, bytes_of(c), time_sample{2, at + 3000}, t0 + 500ms).empty());
  EXPECT_EQ(*b.deadline(), t0 + 800ms);
  EXPECT_FALSE(b.seal_if_due(t0 + 799ms).has_value());
  auto due = b.seal_if_due(t0 + 800ms);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->first_received, t0);
  EXPECT_EQ(due->start, at);
  EXPECT_EQ(due->end, at + 3000);
  EXPECT_EQ(due->name.file_name(), "000000010000000000000002.00001000-00001BB8.zst.age");
  EXPECT_FALSE(b.deadline().has_value());
  EXPECT_FALSE(b.seal_if_due(t0 + 10s).has_value());

  // The next bytes open a unit of their own, with their own clock, where the last one ended.
  EXPECT_EQ(b.next(), at + 3000);
  const auto t1 = t0 + 2s;
  EXPECT_TRUE(b.append(1, b.next(), bytes_of(a), time_sample{3, at + 4000}, t1).empty());
  EXPECT_EQ(*b.deadline(), t1 + 800ms);
  auto next = b.seal();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->start, at + 3000);
  EXPECT_EQ(next->first_received, t1);
  expect_units_rebuild({*due, *next}, a + c + a, at, k.settings);
}

TEST(unit_builder_test, SealTakesTheOpenUnitAndTheNextContinuesAtNext) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 1000ms);
  EXPECT_FALSE(b.seal().has_value());  // nothing open
  const auto now = clock::now();
  const lsn at = 7 * MiB;
  const auto a = test::random_bytes(5000, 4);
  const auto c = test::random_bytes(7000, 5);
  b.append(1, at, bytes_of(a), time_sample{10, at + 5000}, now);
  // While a unit is open, bytes must continue it.
  EXPECT_THROW(b.append(1, at + 4999, bytes_of(c), time_sample{}, now), std::invalid_argument);
  EXPECT_THROW(b.append(2, at + 5000, bytes_of(c), time_sample{}, now), std::invalid_argument);
  auto first = b.seal();
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(b.seal().has_value());  // sealed once
  EXPECT_EQ(b.next(), at + 5000);
  b.append(1, b.next(), bytes_of(c), time_sample{20, at + 12000}, now);
  auto second = b.seal();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->name.start, first->name.end);
  EXPECT_EQ(second->name.file_name(), "000000010000000000000007.00001388-00002EE0.zst.age");
  expect_units_rebuild({*first, *second}, a + c, at, k.settings);

  // After a seal any position is taken (a reconnect, a new timeline).
  b.append(2, 9 * MiB, bytes_of(a), time_sample{30, 9 * MiB + 5000}, now);
  auto third = b.seal();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->name.file_name(), "000000020000000000000009.00000000-00001388.zst.age");
}

TEST(unit_builder_test, TheTimeMapKeepsTheFirstTheLastAndAboutOnePerMaxWait) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 1000ms);
  const auto now = clock::now();
  const lsn at = 3 * MiB;
  const std::string piece(100, 'x');
  std::vector<time_sample> seen;
  // 40 messages 300 ms apart (12 s of server time), and keepalives between them.
  for (int i = 0; i < 40; ++i) {
    const time_sample s{1'700'000'000'000 + i * 300, at + (i + 1) * 100};
    b.append(1, at + i * 100, bytes_of(piece), s, now);
    seen.push_back(s);
    if (i % 10 == 5) {
      const time_sample idle{s.unix_ms + 100, s.position};
      b.note_time(idle);
      seen.push_back(idle);
    }
  }
  const time_sample last{seen.back().unix_ms + 50, seen.back().position};
  b.note_time(last);
  auto unit = b.seal();
  ASSERT_TRUE(unit.has_value());
  const auto& map = unit->time_map;
  ASSERT_GE(map.size(), 2u);
  EXPECT_LE(map.size(), 8u);
  EXPECT_EQ(map.front(), seen.front());
  EXPECT_EQ(map.back(), last);
  for (std::size_t i = 1; i < map.size(); ++i) {
    EXPECT_LT(map[i - 1].unix_ms, map[i].unix_ms) << i;
    EXPECT_LE(map[i - 1].position, map[i].position) << i;
  }
  // Between the first and the last, samples are about max_wait apart.
  for (std::size_t i = 1; i + 1 < map.size(); ++i) {
    EXPECT_GE(map[i].unix_ms - map[i - 1].unix_ms, 1000) << i;
  }
  // The header's codec takes it as it is.
  EXPECT_EQ(wire::wal::decode_time_map(wire::wal::encode_time_map(map)), map);

  // A keepalive with nothing open goes nowhere.
  b.note_time(time_sample{1, 1});
  EXPECT_FALSE(b.seal().has_value());
}

TEST(unit_builder_test, AMessageCrossingASegmentGivesItsSampleToBothUnits) {
  keys k;
  unit_builder b(zst_age, k.settings, 1 * MiB, 1000ms);
  const lsn at = MiB - 10;
  const auto message = test::random_bytes(30, 9);
  const time_sample s{42, at + 30};
  auto sealed = b.append(1, at, bytes_of(message), s, clock::now());
  ASSERT_EQ(sealed.size(), 1u);
  auto rest = b.seal();
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(sealed[0].time_map, std::vector<time_sample>{s});
  EXPECT_EQ(rest->time_map, std::vector<time_sample>{s});
}

TEST(unit_builder_test, EveryFormatStoresWhatItsNameSays) {
  keys k;
  const auto stream = test::random_bytes(300'000, 13);
  for (const auto format : {io::stored_format{}, io::stored_format{io::compression::zstd, {}},
                            io::stored_format{{}, io::encryption::age}}) {
    unit_builder b(format, k.settings, 1 * MiB, 1000ms);
    auto units = feed(b, 1, 0, stream, 64 * 1024, clock::now());
    ASSERT_EQ(units.size(), 1u);
    const auto& u = units[0];
    EXPECT_EQ(u.name.format, format);
    EXPECT_EQ(u.name.file_name(),
              "000000010000000000000000.00000000-000493E0" + io::stored_extension("", format));
    EXPECT_EQ(read_back(u, k.settings), stream);
    if (format.as_produced()) {
      EXPECT_TRUE(u.stored == stream);
    }
  }
}

TEST(unit_builder_test, ASegmentSizePostgreSQLCannotHaveIsRefused) {
  keys k;
  EXPECT_THROW({ unit_builder b(zst_age, k.settings, 3 * MiB, 1000ms); }, std::invalid_argument);
}

}  // namespace
}  // namespace pgship::agent::wal
