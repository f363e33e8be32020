// A WAL bundle's body written into a file as it arrives (pipeline/wal_bundle_writer): units at
// their offsets, both hashes held to the head's record, and a body that is short, long, not a
// bundle, or partial where only complete segments are wanted, refused with the reason.
#include <string>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <pgship/common/sha256.hpp>

#include "pipeline/wal_bundle_writer.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

using agent::wal_bundle_writer;
using pgship::errc;
namespace wal_wire = wire::wal;

const std::string seg = "000000010000000000000003";

struct bundle {
  wal_wire::bundle_head head{1 << 20, wal_wire::list_state::complete, {}};
  std::string bytes;  // the units' stored bytes, in order
  void add(std::uint32_t start, const std::string& plain) {
    char range[32];
    std::snprintf(range, sizeof range, ".%08X-%08X", start,
                  static_cast<unsigned>(start + plain.size()));
    head.units.push_back({seg + range, start, plain.size(), sha256_of(plain), sha256_of(plain)});
    bytes += plain;
  }
  std::string body() const { return wal_wire::encode_bundle_head(head) + bytes; }
};

class WalBundleWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::open((dir_.path() / "out").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { ::close(fd_); }
  // Feeds `body` in pieces of `piece` bytes; the first write error stops it.
  agent::stage_error feed(wal_bundle_writer& w, const std::string& body, std::size_t piece) {
    for (std::size_t at = 0; at < body.size(); at += piece) {
      if (w.write(std::span<const char>(body).subspan(at, std::min(piece, body.size() - at))))
        return w.error();
    }
    return w.finish();
  }
  std::string written() { return read_file(dir_.path() / "out"); }

  temp_dir dir_;
  int fd_ = -1;
};

TEST_F(WalBundleWriter, WritesEachUnitAtItsOffsetWhateverThePieces) {
  bundle b;
  b.add(0, std::string(5000, 'a'));
  b.add(4000, std::string(2000, 'a') + std::string(3000, 'b'));  // overlaps: same bytes
  for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1} << 20}) {
    ASSERT_EQ(::ftruncate(fd_, 0), 0);
    wal_bundle_writer w(fd_, {}, "WAL " + seg, false);
    const auto e = feed(w, b.body(), piece);
    EXPECT_FALSE(e) << e.message;
    EXPECT_EQ(written(), std::string(6000, 'a') + std::string(3000, 'b')) << piece;
  }
}

TEST_F(WalBundleWriter, BytesThatAreNotTheRecordsAreAHashMismatchNamingTheUnit) {
  bundle b;
  b.add(0, "first");
  b.add(5, "second");
  auto body = b.body();
  body[body.size() - 2] ^= 1;
  wal_bundle_writer w(fd_, {}, "WAL " + seg, false);
  const auto e = feed(w, body, 64);
  EXPECT_EQ(e.code, make_error_code(errc::hash_mismatch)) << e.message;
  EXPECT_NE(e.message.find(b.head.units[1].unit), std::string::npos) << e.message;
}

TEST_F(WalBundleWriter, AShortALongOrAForeignBodyIsRefused) {
  bundle b;
  b.add(0, "first");
  b.add(5, "second");
  {
    wal_bundle_writer w(fd_, {}, "WAL " + seg, false);
    const auto e = feed(w, b.body().substr(0, b.body().size() - 3), 64);
    EXPECT_EQ(e.code, make_error_code(errc::receiver_unhealthy));
    EXPECT_NE(e.message.find("ended inside its units"), std::string::npos) << e.message;
  }
  {
    wal_bundle_writer w(fd_, {}, "WAL " + seg, false);
    const auto e = feed(w, b.body() + "x", 64);
    EXPECT_NE(e.message.find("more bytes than its units hold"), std::string::npos) << e.message;
  }
  {
    wal_bundle_writer w(fd_, {}, "WAL " + seg, false);
    const auto e = feed(w, "<html>busy</html>\n\n", 64);
    EXPECT_NE(e.message.find("not a pgship WAL bundle"), std::string::npos) << e.message;
  }
}

TEST_F(WalBundleWriter, APartialSegmentIsNotWrittenWhereOnlyCompleteOnesAreWanted) {
  bundle b;
  b.head.state = wal_wire::list_state::partial;
  b.add(0, "newest");
  wal_bundle_writer w(fd_, {}, "WAL " + seg, true);
  EXPECT_TRUE(w.write(b.body()));
  EXPECT_TRUE(w.stopped_as_partial());
  EXPECT_FALSE(w.error());
  EXPECT_EQ(written(), "");
}

}  // namespace
}  // namespace pgship::test
