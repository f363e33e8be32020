// The filter chain's stages, each on its own and composed: what comes out is the bytes that
// went in (or their zstd form, which decodes back to them), hashes and counts agree with the
// one-shot helpers, and a damaged or cut-short stream is an error, never a short success.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <pgship/common/io/async_pump.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>

#include "temp_dir.hpp"

namespace pgship::io {
namespace {

using test::random_bytes;
using test::read_file;
using test::temp_dir;
using test::write_file;

// Text-like data that compresses, unlike random bytes: numbers and words of a trade log.
std::string trade_log(std::size_t size) {
  std::string out;
  for (std::uint64_t i = 0; out.size() < size; ++i) {
    out += std::to_string(1000000 + i * 7919 % 104729) + ",EURUSD," +
           std::to_string(1.08 + static_cast<double>(i % 97) / 10000.0) + "," +
           (i % 3 == 0 ? "B" : "S") + ",client\n";
  }
  out.resize(size);
  return out;
}

// Feeds `data` to `first` in pieces of `piece` bytes, then finishes it.
std::error_code feed(sink& first, const std::string& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const std::span<const char> part(data.data() + at, std::min(piece, data.size() - at));
    if (auto ec = first.write(part)) return ec;
  }
  return first.finish();
}

std::string zstd_of(const std::string& data, int level = 3, int workers = 0) {
  buffer_sink out;
  zstd_compressor z(out, level, workers);
  EXPECT_FALSE(feed(z, data, 100000));
  return out.text();
}

// Writes `data` to `path` and opens it for reading.
int open_written(const std::filesystem::path& path, const std::string& data) {
  write_file(path, data);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

TEST(io_chain_test, HashFilterAgreesWithOneShotSha256WhateverThePieces) {
  const auto data = random_bytes(1000003, 7);
  for (const std::size_t piece : {1ul, 4096ul, 65537ul, 2000000ul}) {
    buffer_sink out;
    hash_filter hash(out);
    ASSERT_FALSE(feed(hash, data, piece));
    EXPECT_EQ(hash.digest(), sha256_of(data)) << piece;
    EXPECT_EQ(hash.bytes(), data.size());
    EXPECT_EQ(out.text(), data);
    EXPECT_TRUE(out.finished());
  }
}

TEST(io_chain_test, CountAndHeadPassBytesOnAndReportWhatPassed) {
  buffer_sink out;
  head_filter head(out, 5);
  std::vector<std::uint64_t> seen;
  count_filter count(head, [&](std::uint64_t n) { seen.push_back(n); });
  ASSERT_FALSE(feed(count, "PGDMP and the rest of an archive", 3));
  EXPECT_EQ(head.head(), "PGDMP");
  EXPECT_EQ(count.bytes(), 32u);
  EXPECT_EQ(seen.back(), 32u);
  EXPECT_EQ(seen.front(), 3u);
  EXPECT_EQ(out.text(), "PGDMP and the rest of an archive");
}

TEST(io_chain_test, FileWriterWritesExactlyTheBytesAndTheChainMatchesTheOldPath) {
  temp_dir dir;
  const auto data = random_bytes(3 * 1024 * 1024 + 17, 11);
  const auto path = dir / "out.dump";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  file_writer file(fd);
  hash_filter hash(file);
  ASSERT_FALSE(feed(hash, data, 256 * 1024));
  ::close(fd);
  EXPECT_EQ(read_file(path), data);
  EXPECT_EQ(file.bytes(), data.size());
  std::error_code ec;
  EXPECT_EQ(sha256_of_file(path, ec), hash.digest());  // the helper verify used before
}

TEST(io_chain_test, FileWriterReportsTheSystemsError) {
  file_writer file(-1);
  EXPECT_EQ(file.write(std::string_view("x")), std::errc::bad_file_descriptor);
}

TEST(io_chain_test, PumpFileSendsARangeAndRefusesOneTheFileDoesNotHave) {
  temp_dir dir;
  const auto data = random_bytes(700000, 3);
  const int fd = open_written(dir / "f", data);
  ASSERT_GE(fd, 0);
  buffer_sink part;
  ASSERT_FALSE(pump_file(fd, part, 1000, 300000, 4096));
  EXPECT_EQ(part.text(), data.substr(1000, 300000));
  buffer_sink beyond;
  EXPECT_EQ(pump_file(fd, beyond, 600000, 200000), std::errc::io_error);
  ::close(fd);
  buffer_sink whole;
  ASSERT_FALSE(pump_file(dir / "f", whole));
  EXPECT_EQ(whole.text(), data);
  EXPECT_EQ(pump_file(dir / "missing", whole), std::errc::no_such_file_or_directory);
}

TEST(io_chain_test, ARangeReaderReadsToTheEndOrRefusesARangeTheFileDoesNotHold) {
  temp_dir dir;
  const auto data = random_bytes(10000, 8);
  const int fd = open_written(dir / "f", data);
  ASSERT_GE(fd, 0);
  std::vector<char> block(3000);
  std::string got;
  range_reader to_end(fd, 500, std::nullopt);
  for (std::size_t n = 1; n > 0;) {
    ASSERT_FALSE(to_end.read(block, n));
    got.append(block.data(), n);
  }
  EXPECT_EQ(got, data.substr(500));
  EXPECT_EQ(to_end.offset(), data.size());
  range_reader exact(fd, 9000, 1000);
  std::size_t n = 0;
  ASSERT_FALSE(exact.read(block, n));
  EXPECT_EQ(n, 1000u);
  ASSERT_FALSE(exact.read(block, n));
  EXPECT_EQ(n, 0u) << "the range is read";
  range_reader beyond(fd, 9000, 2000);
  ASSERT_FALSE(beyond.read(block, n));
  EXPECT_EQ(beyond.read(block, n), std::errc::io_error);
  ::close(fd);
  range_reader closed(fd, 0, std::nullopt);
  EXPECT_EQ(closed.read(block, n), std::errc::bad_file_descriptor);
}

// Runs pump_file_async to its end on an io_context of its own.
std::error_code pump_async(int fd, std::uint64_t offset, std::uint64_t length,
                           const async_block_sink& out) {
  boost::asio::io_context io;
  std::error_code result = std::make_error_code(std::errc::interrupted);
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        result = co_await pump_file_async(fd, offset, length, out, 4096);
      },
      boost::asio::detached);
  io.run();
  return result;
}

TEST(io_chain_test, TheAsyncPumpAwaitsEachBlockAndStopsWhenTheConsumerFails) {
  temp_dir dir;
  const auto data = random_bytes(100000, 5);
  const int fd = open_written(dir / "f", data);
  ASSERT_GE(fd, 0);
  std::string got;
  int blocks = 0;
  async_block_sink collect =
      [&](std::span<const char> b) -> boost::asio::awaitable<std::error_code> {
    got.append(b.data(), b.size());
    ++blocks;
    co_return std::error_code{};
  };
  EXPECT_FALSE(pump_async(fd, 10, 50000, collect));
  EXPECT_EQ(got, data.substr(10, 50000));
  EXPECT_EQ(blocks, 13);  // 4096-byte blocks
  async_block_sink refuse = [](std::span<const char>) -> boost::asio::awaitable<std::error_code> {
    co_return std::make_error_code(std::errc::connection_aborted);
  };
  EXPECT_EQ(pump_async(fd, 0, 50000, refuse), std::errc::connection_aborted);
  EXPECT_EQ(pump_async(fd, 90000, 20000, collect), std::errc::io_error) << "beyond the end";
  ::close(fd);
}

TEST(io_chain_test, ZstdRoundTripsWithAndWithoutWorkers) {
  const auto data = trade_log(6 * 1024 * 1024);
  for (const int workers : {0, 2}) {
    const auto packed = zstd_of(data, 3, workers);
    EXPECT_TRUE(starts_like_zstd(packed));
    EXPECT_FALSE(starts_like_zstd(std::string_view("PGDMP")));
    EXPECT_LT(packed.size(), data.size() / 3) << workers;  // text compresses
    buffer_sink out;
    zstd_decompressor unz(out);
    ASSERT_FALSE(feed(unz, packed, 8191));
    EXPECT_EQ(out.text(), data) << workers;
  }
}

TEST(io_chain_test, ACutShortZstdStreamFailsAtTheEndNotSilently) {
  const auto packed = zstd_of(trade_log(2 * 1024 * 1024));
  buffer_sink out;
  zstd_decompressor unz(out);
  ASSERT_FALSE(unz.write(std::string_view(packed).substr(0, packed.size() - 10)));
  EXPECT_EQ(unz.finish(), std::errc::message_size);
  EXPECT_FALSE(out.finished());
}

TEST(io_chain_test, AFlippedByteInAZstdStreamIsAnError) {
  auto packed = zstd_of(trade_log(2 * 1024 * 1024));
  packed[packed.size() / 2] ^= 0x40;
  buffer_sink out;
  zstd_decompressor unz(out);
  std::error_code ec = feed(unz, packed, 65536);
  EXPECT_EQ(ec, std::errc::illegal_byte_sequence);
}

}  // namespace
}  // namespace pgship::io
