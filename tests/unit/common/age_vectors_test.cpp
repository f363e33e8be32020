// Known answers for the age decryptor from outside pgship: the C2SP testkit (what each vector
// must decrypt to or fail as, and the hash of every plaintext byte released before a failure)
// and files the reference age 1.1.1 CLI wrote.

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <zlib.h>

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/sha256.hpp>

#include "temp_dir.hpp"

namespace pgship::io {
namespace {

namespace stdfs = std::filesystem;
const stdfs::path data_dir = PGSHIP_TEST_DATA_DIR;

std::string inflate_all(const std::string& in) {
  std::string out(in.size() * 4 + 1024, '\0');
  for (;;) {
    uLongf n = out.size();
    const int r = uncompress(reinterpret_cast<Bytef*>(out.data()), &n,
                             reinterpret_cast<const Bytef*>(in.data()), in.size());
    if (r == Z_BUF_ERROR) {
      out.resize(out.size() * 4);
      continue;
    }
    EXPECT_EQ(r, Z_OK);
    out.resize(n);
    return out;
  }
}

struct vector_file {
  std::multimap<std::string, std::string> keys;
  std::string body;
};

vector_file read_vector(const stdfs::path& path) {
  const auto text = test::read_file(path);
  vector_file v;
  std::size_t at = 0;
  for (;;) {
    const auto nl = text.find('\n', at);
    const auto line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) break;
    const auto colon = line.find(": ");
    v.keys.emplace(line.substr(0, colon), line.substr(colon + 2));
  }
  v.body = text.substr(at);
  if (v.keys.count("compressed") != 0) v.body = inflate_all(v.body);
  return v;
}

std::string value(const vector_file& v, const std::string& key) {
  const auto it = v.keys.find(key);
  return it == v.keys.end() ? "" : it->second;
}

// The testkit's outcomes, as our error codes group them.
std::string outcome_of(const std::error_code& ec) {
  if (!ec) return "success";
  EXPECT_TRUE(age::is_age_error(ec)) << ec.message();
  switch (static_cast<age::errc>(ec.value())) {
    case age::errc::no_match:
      return "no match";
    case age::errc::mac_mismatch:
      return "HMAC failure";
    case age::errc::chunk_corrupt:
    case age::errc::truncated:
    case age::errc::trailing_data:
      return "payload failure";
    default:
      return "header failure";
  }
}

TEST(AgeTestkit, EverySupportedVectorDecryptsOrFailsAsItShould) {
  int checked = 0;
  int skipped = 0;
  for (const auto& entry : stdfs::directory_iterator(data_dir / "age-testkit")) {
    if (entry.path().filename() == "README.md") continue;
    const auto v = read_vector(entry.path());
    const auto name = entry.path().filename().string();
    age_secrets secrets;
    bool supported = value(v, "armored") != "yes";
    for (auto [it, end] = v.keys.equal_range("identity"); it != end; ++it) {
      if (it->second.starts_with("AGE-SECRET-KEY-PQ-")) {
        supported = false;
        continue;
      }
      auto ids = age::parse_identities_file(it->second);
      secrets.identities.insert(secrets.identities.end(), ids.begin(), ids.end());
    }
    for (auto [it, end] = v.keys.equal_range("passphrase"); it != end; ++it) {
      secrets.passphrases.push_back(it->second);
    }
    if (!supported) {
      ++skipped;
      continue;
    }
    buffer_sink out;
    age_decryptor dec(out, secrets);
    auto ec = dec.write({v.body.data(), v.body.size()});
    if (!ec) ec = dec.finish();
    const auto expect = value(v, "expect");
    EXPECT_EQ(outcome_of(ec), expect) << name << ": " << dec.problem();
    if (expect == "success" || expect == "payload failure") {
      EXPECT_EQ(to_hex(sha256_of(out.text())), value(v, "payload")) << name;
    } else {
      EXPECT_TRUE(out.bytes().empty()) << name << " released plaintext before failing";
    }
    // The same vector fed a byte at a time finds the same outcome (no framing depends on how
    // the bytes arrive). The big stream vectors are skipped: a byte at a time is slow.
    if (v.body.size() < 200000 && value(v, "passphrase").empty()) {
      buffer_sink out1;
      age_decryptor dec1(out1, secrets);
      std::error_code ec1;
      for (std::size_t i = 0; i < v.body.size() && !ec1; ++i)
        ec1 = dec1.write({&v.body[i], 1});
      if (!ec1) ec1 = dec1.finish();
      EXPECT_EQ(outcome_of(ec1), expect) << name << " fed byte by byte: " << dec1.problem();
      EXPECT_EQ(out1.text(), out.text()) << name;
    }
    ++checked;
  }
  std::cout << "age testkit: " << checked << " vectors checked, " << skipped
            << " skipped (armored or post-quantum)\n";
  EXPECT_GE(checked, 90);
}

TEST(AgeReferenceCli, FilesAge111WroteDecryptToTheirPlaintext) {
  const auto dir = data_dir / "age-cli";
  std::istringstream lines(test::read_file(dir / "expected.txt"));
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::istringstream fields(line);
    std::string file;
    std::string secret;
    std::string sha;
    std::uint64_t size = 0;
    fields >> file >> secret >> sha >> size;
    age_secrets secrets;
    if (secret.starts_with("identity")) {
      secrets.identities = age::parse_identities_file(test::read_file(dir / secret));
    } else {
      secrets.passphrases.push_back(test::read_file(dir / secret));
    }
    const auto body = test::read_file(dir / file);
    buffer_sink out;
    age_decryptor dec(out, secrets);
    auto ec = dec.write({body.data(), body.size()});
    if (!ec) ec = dec.finish();
    ASSERT_FALSE(ec) << file << " with " << secret << ": " << dec.problem();
    EXPECT_EQ(out.bytes().size(), size) << file;
    EXPECT_EQ(to_hex(sha256_of(out.text())), sha) << file;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(AgeReferenceCli, KeysMatchWhatAgeKeygenDerives) {
  // age-keygen -y of the identity in the C2SP specification.
  const auto ids = age::parse_identities_file(
      "# a "
      "comment\n\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(age::encode_recipient(ids[0].public_key),
            "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj");
  EXPECT_EQ(age::encode_identity(ids[0]),
            "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX");
  const auto a = age::parse_identities_file(test::read_file(data_dir / "age-cli/identity-a.txt"));
  EXPECT_EQ(age::encode_recipient(a.at(0).public_key),
            "age1hwdjlj00n3sus87980rcdmw92ura46lfgek7tn4nx4z24ppmxdpqswru0d");
}

}  // namespace
}  // namespace pgship::io
