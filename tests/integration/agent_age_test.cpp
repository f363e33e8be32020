// ENCRYPT_RECIPIENTS: every backup an age v1 file the database host cannot read. The judges
// are the reference `age` CLI (it decrypts what the agent wrote, to every recipient, and the
// agent restores what it wrote), pg_restore, tar and the restored rows themselves; each way a
// file can be wrong (no identity, another identity, cut short, a flipped byte, a changed
// header) fails the restore with its own message and leaves no database and no spool behind.

#include <fstream>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <pgship/common/sha256.hpp>

#include "agent_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;

constexpr std::size_t sealed_chunk = 64 * 1024 + 16;

class AgentAge : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("age_src");
    pg.load_sample_data("age_src", 30000);
  }

  void SetUp() override {
    agent_fixture::SetUp();
    drill_key_ = new_identity("drill.key");
    offline_key_ = new_identity("offline.key");
    stranger_key_ = new_identity("stranger.key");
    drill_recipient_ = recipient_of(drill_key_);
    offline_recipient_ = recipient_of(offline_key_);
    write_file(dir_ / "recipients.txt",
               "# the offline break-glass key\n" + offline_recipient_ + "\n");
  }

  stdfs::path new_identity(const std::string& name) {
    const auto path = dir_ / name;
    const auto r = run_process({"age-keygen", "-o", path.string()});
    EXPECT_TRUE(r.ok()) << r.err;
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::string recipient_of(const stdfs::path& identity) {
    const auto r = run_process({"age-keygen", "-y", identity.string()});
    EXPECT_TRUE(r.ok()) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  std::map<std::string, std::string> encrypted_config(
      std::map<std::string, std::string> more = {}) {
    more.emplace("ENCRYPT_RECIPIENTS", drill_recipient_);
    more.emplace("ENCRYPT_RECIPIENTS_FILE", (dir_ / "recipients.txt").string());
    return agent_config("age_src", more);
  }

  stdfs::path stored_dir() const { return receiver_->storage_dir() / "default" / "age_src"; }

  // Stores `bytes` on the receiver as `name` the way an operator would, with curl.
  void upload_with_curl(const std::string& name, const stdfs::path& file) {
    const auto r = run_process(
        {"curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer agent-token-5d1c", "-H",
         "X-Backup-Name: " + name, "-H", "X-Content-SHA256: " + sha256_hex(file), "--data-binary",
         "@" + file.string(), receiver_->url("/api/backup/upload")});
    ASSERT_TRUE(r.ok()) << r.out << r.err;
  }

  // A pg_dump archive of age_src, as an operator would make one.
  stdfs::path pg_dump_file(const std::string& name) {
    const auto path = dir_ / name;
    const auto r = run_process({(pg().bin_dir() / "pg_dump").string(), "--format=custom",
                                "--dbname=" + pg().conninfo("age_src"), "--file=" + path.string()});
    EXPECT_TRUE(r.ok()) << r.err;
    return path;
  }

  bool spool_is_empty() const {
    std::error_code ec;
    return !stdfs::exists(backup_dir() / ".restore", ec) ||
           stdfs::is_empty(backup_dir() / ".restore", ec);
  }

  // The secret lines of the test's identity files, which no output may ever show.
  std::vector<std::string> secrets() const {
    std::vector<std::string> out;
    for (const auto& key : {drill_key_, offline_key_, stranger_key_}) {
      const auto text = read_file(key);
      const auto at = text.find("AGE-SECRET-KEY-1");
      out.push_back(text.substr(at, text.find('\n', at) - at));
    }
    return out;
  }

  bool database_exists(const std::string& name) {
    return pg().query_value("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" +
                                            name + "'") == "1";
  }

  stdfs::path drill_key_, offline_key_, stranger_key_;
  std::string drill_recipient_, offline_recipient_;
};

TEST_F(AgentAge, BackupsAreAgeFilesEveryRecipientDecryptsAndTheyRestoreIdentically) {
  start();
  const auto source = table_fingerprint("age_src");
  for (const std::string compression : {"pg_dump", "zstd"}) {
    SCOPED_TRACE(compression);
    const std::string ext = compression == "zstd" ? ".dump.zst.age" : ".dump.age";
    const auto cfg = write_config(encrypted_config({{"COMPRESSION", compression}}),
                                  "agent-" + compression + ".env");
    const auto backup = run_agent({"backup", "--config", cfg.string()});
    ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
    const auto local = files_ending(backup_dir(), ext);
    ASSERT_EQ(local.size(), 1u);
    const auto& name = local[0];
    ASSERT_EQ(files_ending(stored_dir(), ext), local);

    // What the receiver holds is ciphertext: an age header, and no pg_dump archive inside.
    const auto stored = read_file(stored_dir() / name);
    EXPECT_TRUE(stored.starts_with("age-encryption.org/v1\n-> X25519 "));
    EXPECT_EQ(stored.find("PGDMP"), std::string::npos);
    EXPECT_EQ(stored.find("trades"), std::string::npos);
    const auto stored_sha = sha256_hex(stored_dir() / name);
    EXPECT_EQ(read_file(backup_dir() / (name + ".sha256")).substr(0, 64), stored_sha);

    const auto stem = name.substr(0, name.size() - ext.size());
    const auto m = json::parse(read_file(backup_dir() / (stem + ".json"))).as_object();
    EXPECT_EQ(m.at("sha256").as_string(), stored_sha);
    const auto& to = m.at("encryption").as_object().at("recipients").as_array();
    ASSERT_EQ(to.size(), 2u);
    EXPECT_EQ(to[0].as_string(), drill_recipient_);
    EXPECT_EQ(to[1].as_string(), offline_recipient_);

    // The reference tool decrypts it with either identity into the archive the manifest
    // describes, which pg_restore reads.
    for (const auto& key : {drill_key_, offline_key_}) {
      const auto out = dir_ / "decrypted";
      stdfs::remove(out);
      const auto d = run_process(
          {"age", "-d", "-i", key.string(), "-o", out.string(), (stored_dir() / name).string()});
      ASSERT_TRUE(d.ok()) << d.describe() << d.err;
      auto plain = out;
      if (compression == "zstd") {
        plain = dir_ / "decrypted.dump";
        stdfs::remove(plain);
        ASSERT_TRUE(run_process({"zstd", "-q", "-d", "-o", plain.string(), out.string()}).ok());
      }
      EXPECT_EQ(sha256_hex(plain), m.at("plaintext_sha256").as_string()) << key;
      EXPECT_EQ(stdfs::file_size(plain), m.at("plaintext_size").to_number<std::uint64_t>());
      EXPECT_TRUE(
          run_process({(pg().bin_dir() / "pg_restore").string(), "--list", plain.string()}).ok());
    }
    // Not to an identity that is not a recipient.
    EXPECT_FALSE(run_process({"age", "-d", "-i", stranger_key_.string(), "-o",
                              (dir_ / "nope").string(), (stored_dir() / name).string()})
                     .ok());

    // Its manifest travels with it, encrypted to the same recipients: `.manifest.json.age`,
    // which the reference tool decrypts into the backup's manifest.
    const auto sealed = stored_dir() / (name + ".manifest.json.age");
    ASSERT_TRUE(stdfs::exists(sealed));
    EXPECT_FALSE(stdfs::exists(stored_dir() / (name + ".manifest.json")));
    const auto sealed_bytes = read_file(sealed);
    EXPECT_TRUE(sealed_bytes.starts_with("age-encryption.org/v1\n"));
    EXPECT_EQ(sealed_bytes.find("trades"), std::string::npos) << "table names stay private";
    for (const auto& key : {drill_key_, offline_key_}) {
      const auto d = run_process({"age", "-d", "-i", key.string(), sealed.string()});
      ASSERT_TRUE(d.ok()) << d.describe();
      const auto shipped = json::parse(d.out).as_object();
      EXPECT_EQ(shipped.at("name").as_string(), name);
      EXPECT_EQ(shipped.at("sha256").as_string(), stored_sha);
      EXPECT_EQ(shipped.at("plaintext_sha256"), m.at("plaintext_sha256"));
      EXPECT_NE(d.out.find("\"trades\""), std::string::npos) << d.out;
    }
    EXPECT_FALSE(run_process({"age", "-d", "-i", stranger_key_.string(), sealed.string()}).ok());
    // Served as it is stored, named so a client knows to decrypt it.
    const auto served =
        run_process({"curl", "-sS", "--fail-with-body", "-D", (dir_ / "headers").string(), "-H",
                     "Authorization: Bearer agent-token-5d1c",
                     receiver_->url("/api/backup/download/" + name + ".manifest")});
    ASSERT_TRUE(served.ok()) << served.describe() << served.out;
    EXPECT_EQ(served.out, sealed_bytes);
    const auto headers = read_file(dir_ / "headers");
    EXPECT_NE(headers.find("X-Manifest-Name: " + name + ".manifest.json.age"), std::string::npos)
        << headers;
    EXPECT_NE(headers.find("Content-Type: application/octet-stream"), std::string::npos) << headers;

    // Restore and drill decrypt with AGE_IDENTITY_FILE; the database host needs none.
    auto with_key = encrypted_config({{"COMPRESSION", compression}});
    with_key["AGE_IDENTITY_FILE"] = offline_key_.string();
    const auto restore_cfg = write_config(with_key, "restore-" + compression + ".env");
    for (const std::string jobs : {"1", "2"}) {
      const auto target = "age_copy_" + jobs;
      const auto r = run_agent({"restore", "--config", restore_cfg.string(), "--id", name,
                                "--target-db", target, "--create", "--jobs", jobs});
      ASSERT_EQ(r.exit_code, 0) << jobs << r.out << r.err;
      EXPECT_EQ(table_fingerprint(target), source) << "--jobs " << jobs;
      pg().drop_database(target);
      EXPECT_TRUE(spool_is_empty()) << "a decrypted spool stayed";
    }
    const auto drill = run_agent({"drill", "--config", restore_cfg.string()});
    EXPECT_EQ(drill.exit_code, 0) << drill.out << drill.err;
    EXPECT_NE(drill.out.find("as the backup counted (exact)"), std::string::npos) << drill.out;
    for (const auto& secret : secrets()) {
      for (const auto* text : {&backup.out, &backup.err, &drill.out, &drill.err}) {
        EXPECT_EQ(text->find(secret), std::string::npos);
      }
    }
    // The next compression's backup gets its own second.
    for (const auto& f : files_ending(backup_dir(), ext))
      stdfs::remove(backup_dir() / f);
  }
}

TEST_F(AgentAge, AnEncryptedArchiveIsListedWhileWrittenAndDecryptsToTheTree) {
  start();
  const auto tree = dir_ / "etc-app";
  stdfs::create_directories(tree / "conf.d");
  write_file(tree / "app.conf", "listen = 5432\n");
  write_file(tree / "conf.d" / "trading.conf", "symbols = EURUSD,USDJPY\n");
  auto cfg_map = encrypted_config({{"ARCHIVE_DIRS", "etc=" + tree.string()}});
  const auto cfg = write_config(cfg_map);
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto archives = files_ending(receiver_->storage_dir() / "default" / "etc", ".tar.age");
  ASSERT_EQ(archives.size(), 1u);
  const auto file = receiver_->storage_dir() / "default" / "etc" / archives[0];
  const auto out = dir_ / "etc.tar";
  ASSERT_TRUE(
      run_process({"age", "-d", "-i", drill_key_.string(), "-o", out.string(), file.string()})
          .ok());
  const auto list = run_process({"tar", "--list", "--file=" + out.string()});
  ASSERT_TRUE(list.ok()) << list.err;
  EXPECT_NE(list.out.find("./conf.d/trading.conf"), std::string::npos) << list.out;
  EXPECT_EQ(read_file(file).find("EURUSD"), std::string::npos);
}

TEST_F(AgentAge, FilesTheAgeCliEncryptedAndCurlUploadedRestore) {
  start();
  const auto plain = pg_dump_file("by-hand.dump");
  const std::string name = "age_src-20260102-030405.dump.age";
  const auto enc = dir_ / name;
  ASSERT_TRUE(
      run_process({"age", "-r", drill_recipient_, "-o", enc.string(), plain.string()}).ok());
  upload_with_curl(name, enc);
  auto with_key = agent_config("age_src");
  with_key["AGE_IDENTITY_FILE"] = drill_key_.string();
  const auto cfg = write_config(with_key);
  const auto r = run_agent(
      {"restore", "--config", cfg.string(), "--id", name, "--target-db", "age_cli", "--create"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(table_fingerprint("age_cli"), table_fingerprint("age_src"));
  pg().drop_database("age_cli");
}

TEST_F(AgentAge, EachDamagedOrUnreadableFileFailsTheRestoreAndLeavesNothing) {
  start();
  const auto plain = pg_dump_file("src.dump");
  ASSERT_GT(stdfs::file_size(plain), 4 * sealed_chunk) << "too small to damage chunk by chunk";
  const auto good = dir_ / "good.age";
  ASSERT_TRUE(run_process({"age", "-r", drill_recipient_, "-r", offline_recipient_, "-o",
                           good.string(), plain.string()})
                  .ok());
  const auto bytes = read_file(good);
  const auto header_end = bytes.find('\n', bytes.find("\n--- ") + 1) + 1;
  const auto payload = header_end + 16;

  struct damage {
    std::string what;
    std::string bytes;
    std::string expect;  // in the error message
  };
  std::vector<damage> cases;
  cases.push_back(
      {"cut at a chunk boundary", bytes.substr(0, payload + 3 * sealed_chunk), "truncated"});
  auto flipped = bytes;
  flipped[payload + 2 * sealed_chunk + 100] ^= 0x40;
  cases.push_back({"a flipped byte in chunk 2", flipped, "chunk 2 of the payload"});
  auto last_flipped = bytes;
  last_flipped[bytes.size() - 20] ^= 0x01;
  cases.push_back({"a flipped byte in the last chunk", last_flipped, "failed authentication"});
  // The offline key's stanza dropped: the drill key still unwraps the file key, the MAC
  // catches the change.
  const auto second = bytes.find("\n-> ", bytes.find("\n-> ") + 1);
  cases.push_back({"a tampered header",
                   bytes.substr(0, second + 1) + bytes.substr(bytes.find("--- ")),
                   "header's MAC does not match"});

  auto with_key = agent_config("age_src");
  with_key["AGE_IDENTITY_FILE"] = drill_key_.string();
  const auto cfg = write_config(with_key);
  int seconds = 10;
  const auto restore = [&](const std::string& name, const stdfs::path& config,
                           const std::string& jobs) {
    return run_agent({"restore", "--config", config.string(), "--id", name, "--target-db",
                      "age_damaged", "--create", "--jobs", jobs});
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto name = "age_src-20260102-0300" + std::to_string(seconds++) + ".dump.age";
    write_file(dir_ / name, c.bytes);
    upload_with_curl(name, dir_ / name);  // the receiver's sha256 matches: age must catch it
    for (const std::string jobs : {"1", "2"}) {
      const auto r = restore(name, cfg, jobs);
      EXPECT_EQ(r.exit_code, 19) << jobs << r.out << r.err;
      EXPECT_NE(r.err.find(c.expect), std::string::npos) << jobs << r.err;
      EXPECT_FALSE(database_exists("age_damaged")) << jobs;
      EXPECT_TRUE(spool_is_empty()) << jobs;
    }
  }

  // The intact file, with another identity and with none.
  const std::string name = "age_src-20260102-040000.dump.age";
  write_file(dir_ / name, bytes);
  upload_with_curl(name, dir_ / name);
  auto stranger = agent_config("age_src");
  stranger["AGE_IDENTITY_FILE"] = stranger_key_.string();
  const auto wrong = restore(name, write_config(stranger, "stranger.env"), "1");
  EXPECT_EQ(wrong.exit_code, 19) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("no identity given matches"), std::string::npos) << wrong.err;
  EXPECT_FALSE(database_exists("age_damaged"));
  const auto none = restore(name, write_config(agent_config("age_src"), "none.env"), "1");
  EXPECT_EQ(none.exit_code, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("AGE_IDENTITY_FILE is not set"), std::string::npos) << none.err;
  EXPECT_FALSE(database_exists("age_damaged"));
  // And the intact file restores, so the cases above failed for their damage alone.
  const auto ok = restore(name, cfg, "1");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  pg().drop_database("age_damaged");
}

TEST_F(AgentAge, KeysThatCannotWorkStopStartUp) {
  start();
  const auto expect_refused = [&](std::map<std::string, std::string> over,
                                  const std::string& mention) {
    auto c = agent_config("age_src", over);
    const auto r = run_agent({"backup", "--config", write_config(c, "bad.env").string()});
    EXPECT_EQ(r.exit_code, 2) << mention << r.out << r.err;
    EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
    for (const auto& secret : secrets())
      EXPECT_EQ(r.err.find(secret), std::string::npos);
    EXPECT_TRUE(local_dumps().empty());
  };
  expect_refused({{"ENCRYPT_RECIPIENTS", drill_recipient_.substr(0, 40)}}, "ENCRYPT_RECIPIENTS");
  expect_refused({{"ENCRYPT_RECIPIENTS", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK"}}, "SSH key");
  expect_refused({{"ENCRYPT_RECIPIENTS_FILE", (dir_ / "missing.txt").string()}},
                 "ENCRYPT_RECIPIENTS_FILE");
  write_file(dir_ / "empty.txt", "# nothing yet\n");
  expect_refused({{"ENCRYPT_RECIPIENTS_FILE", (dir_ / "empty.txt").string()}}, "no recipient");
  expect_refused({{"AGE_IDENTITY_FILE", (dir_ / "recipients.txt").string()}}, "AGE_IDENTITY_FILE");
  expect_refused({{"ENCRYPT_RECIPIENTS", drill_recipient_}, {"DRILL_SCHEDULE", "0 4 * * 0"}},
                 "drills could not decrypt");

  // A readable identity file works, with a warning.
  ::chmod(offline_key_.c_str(), 0644);
  auto c = encrypted_config({{"AGE_IDENTITY_FILE", offline_key_.string()}});
  const auto r = run_agent({"backup", "--config", write_config(c, "loose.env").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("readable by other users"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace pgship::test
