// Security regressions of the HTTP core, tried as an attacker would: raw sockets against a
// real pgship-receiver process. Each test checks what was stored as well as what was
// answered: no 0-byte backup, no deleted victim, no forged log line, a flat RSS.

#include <atomic>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

const std::string token = "hardening-token-5d1e";
const std::string victim = "victim-20261101-030000.dump";
const std::string smuggled_name = "app-20261130-030000.dump";

std::size_t count_of(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Resident set of a process, in KiB.
long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

class HttpHardening : public receiver_fixture {
 protected:
  HttpHardening() : receiver_fixture(token) {}

  stdfs::path stored(const std::string& name) const {
    return receiver_->storage_dir() / "default" / name.substr(0, name.find('-')) / name;
  }

  void store_victim() {
    const auto res = http_send(receiver_->port(),
                               {.method = verb::post,
                                .target = "/api/backup/upload",
                                .headers = {{"Authorization", bearer()}, {"X-Backup-Name", victim}},
                                .body = random_bytes(4096, 3)});
    ASSERT_EQ(res.result_int(), 201) << res.body();
    ASSERT_TRUE(stdfs::exists(stored(victim)));
  }

  std::string bearer() const { return "Bearer " + token; }

  // The smuggling attempt: an upload whose framing is `framing` (header lines, CRLF each),
  // followed by bytes that would be a DELETE of the victim if read as the next request.
  std::string smuggle(const std::string& framing, std::string_view version = "HTTP/1.1") {
    const std::string hidden = "DELETE /api/backup/" + victim + " HTTP/1.1\r\nHost: x\r\n" +
                               "Authorization: " + bearer() + "\r\nContent-Length: 0\r\n\r\n";
    http_connection c(receiver_->port(), 10s);
    c.write_raw("POST /api/backup/upload " + std::string(version) + "\r\nHost: x\r\n" +
                "Authorization: " + bearer() + "\r\nX-Backup-Name: " + smuggled_name + "\r\n" +
                framing + "\r\n" + hidden);
    return c.read_until_close();
  }
};

TEST_F(HttpHardening, AmbiguousFramingIs400ClosedAndNothingAfterItRuns) {
  auto& r = start();
  store_victim();
  const std::vector<std::string> framings = {
      "Transfer-Encoding: gzip\r\n",
      "Transfer-Encoding: identity\r\n",
      "Transfer-Encoding: chunked, gzip\r\n",
      "Transfer-Encoding: gzip, chunked\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: gzip\r\nContent-Length: 0\r\n",
      "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
      "Content-Length: 0\r\nContent-Length: 0\r\n",
      "Content-Length: 0, 0\r\n",
      "Content-Length: 0\r\nContent-Length: 7\r\n",
  };
  for (const auto& framing : framings) {
    SCOPED_TRACE(framing);
    const std::string reply = smuggle(framing);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 200);
    EXPECT_EQ(count_of(reply, "HTTP/1.1 "), 1u) << "a second request was answered:\n" << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply.substr(0, 300);
    EXPECT_TRUE(stdfs::exists(stored(victim))) << "the smuggled DELETE ran";
    EXPECT_FALSE(stdfs::exists(stored(smuggled_name))) << "an empty backup was committed";
  }
  // HTTP/1.0 knows no chunked coding: a Transfer-Encoding there is faulty framing too.
  const std::string old = smuggle("Transfer-Encoding: chunked\r\n", "HTTP/1.0");
  EXPECT_TRUE(old.starts_with("HTTP/1.0 400") || old.starts_with("HTTP/1.1 400")) << old;
  EXPECT_TRUE(stdfs::exists(stored(victim)));
  EXPECT_FALSE(stdfs::exists(stored(smuggled_name)));
  EXPECT_NE(r.log().find("Transfer-Encoding"), std::string::npos) << "the refusal is logged";

  // A well-framed chunked upload still works.
  http_connection c(r.port());
  c.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() +
              "\r\nX-Backup-Name: " + smuggled_name +
              "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n"
              "0\r\nX-Trailer: yes\r\n\r\n");
  const std::string ok = c.read_until_close();
  EXPECT_TRUE(ok.starts_with("HTTP/1.1 201")) << ok;
  EXPECT_EQ(stdfs::file_size(stored(smuggled_name)), 5u);
}

TEST_F(HttpHardening, EndlessChunkLineOrTrailerIs400WithFlatMemory) {
  auto& r = start();
  const auto baseline = rss_kib(r.pid());
  ASSERT_GT(baseline, 0);
  const std::string head =
      "POST /api/backup/upload HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() +
      "\r\nX-Backup-Name: " + smuggled_name + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  // 48 MiB of one chunk extension, then of one trailer field, never ended.
  const std::string endless(48u << 20, 'a');
  for (const std::string start_of_line : {"5;x=", "5\r\nhello\r\n0\r\nX-Trailer: "}) {
    SCOPED_TRACE(start_of_line);
    http_connection c(r.port(), 20s);
    c.write_raw(head + start_of_line);
    const std::string reply = c.write_then_read_until_close(endless);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 200);
    EXPECT_NE(reply.find("longer than 8192 bytes"), std::string::npos) << reply.substr(0, 400);
    const auto now = rss_kib(r.pid());
    EXPECT_LT(now - baseline, 8 * 1024) << "RSS grew from " << baseline << " to " << now << " KiB";
    EXPECT_FALSE(stdfs::exists(stored(smuggled_name)));
  }
  // A long but bounded extension is still fine.
  http_connection c(r.port());
  c.write_raw(head.substr(0, head.size() - 2) +
              "Connection: close\r\n\r\n5;x=" + std::string(4000, 'b') + "\r\nhello\r\n0\r\n\r\n");
  const std::string ok = c.read_until_close();
  EXPECT_TRUE(ok.starts_with("HTTP/1.1 201")) << ok.substr(0, 300);
}

TEST_F(HttpHardening, Http11RequestNeedsExactlyOneValidHost) {
  auto& r = start();
  const auto ask = [&](const std::string& request) {
    http_connection c(r.port());
    c.write_raw(request);
    return c.read_until_close();
  };
  const auto missing = ask("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(missing.starts_with("HTTP/1.1 400")) << missing.substr(0, 200);
  EXPECT_NE(missing.find("Host"), std::string::npos) << missing;
  const auto twice = ask("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_TRUE(twice.starts_with("HTTP/1.1 400")) << twice.substr(0, 200);
  const auto invalid = ask("GET /health HTTP/1.1\r\nHost: user@evil\r\n\r\n");
  EXPECT_TRUE(invalid.starts_with("HTTP/1.1 400")) << invalid.substr(0, 200);
  // An authenticated route is refused before the token is looked at.
  const auto upload =
      ask("POST /api/backup/upload HTTP/1.1\r\nAuthorization: " + bearer() +
          "\r\nX-Backup-Name: " + smuggled_name + "\r\nContent-Length: 5\r\n\r\n" + "hello");
  EXPECT_TRUE(upload.starts_with("HTTP/1.1 400")) << upload.substr(0, 200);
  EXPECT_FALSE(stdfs::exists(stored(smuggled_name)));

  const auto good =
      ask("GET /health HTTP/1.1\r\nHost: 127.0.0.1:9101\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(good.starts_with("HTTP/1.1 200")) << good.substr(0, 200);
  const auto ipv6 = ask("GET /health HTTP/1.1\r\nHost: [::1]:9101\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(ipv6.starts_with("HTTP/1.1 200")) << ipv6.substr(0, 200);
  const auto http10 = ask("GET /health HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(http10.starts_with("HTTP/1.0 200") || http10.starts_with("HTTP/1.1 200"))
      << http10.substr(0, 200);
}

// A multipart file name with LF, CR, NUL and the log's own field separators, in both formats.
class HttpHardeningLog : public HttpHardening, public ::testing::WithParamInterface<const char*> {};

TEST_P(HttpHardeningLog, ClientBytesCannotForgeLogLines) {
  const std::string format = GetParam();
  auto& r = start({{"LOG_FORMAT", format}});
  const std::string forged = "2026-12-01T00:00:00.000Z error FORGED";
  const std::string name =
      "app\n" + forged + "\r" + std::string(1, '\0') + "\x1e" + "level\x1f" + "critical\x1f-";
  const std::string boundary = "b0undary";
  const std::string body =
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
      "\"\r\nContent-Type: application/octet-stream\r\n\r\nPGDMP\r\n--" + boundary + "--\r\n";
  const auto res = http_send(
      r.port(), {.method = verb::post,
                 .target = "/api/backup/upload",
                 .headers = {{"Authorization", bearer()},
                             {"Content-Type", "multipart/form-data; boundary=" + boundary}},
                 .body = body});
  EXPECT_EQ(res.result_int(), 400) << res.body();

  const std::string log = r.log();
  ASSERT_NE(log.find("FORGED"), std::string::npos) << "the name never reached the log:\n" << log;
  std::istringstream lines(log);
  std::string line;
  int refused = 0;
  while (std::getline(lines, line)) {
    EXPECT_FALSE(line.starts_with(forged)) << "forged line:\n" << log;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(line.find('\0'), std::string::npos) << line;
    EXPECT_EQ(line.find('\x1e'), std::string::npos) << line;
    if (line.find("FORGED") != std::string::npos) ++refused;
    if (format == "json") {
      boost::system::error_code ec;
      const auto v = boost::json::parse(line, ec);
      ASSERT_FALSE(ec) << "not one JSON object: " << line;
      if (line.find("FORGED") != std::string::npos) {
        EXPECT_EQ(v.as_object().at("level").as_string(), "warn") << line;
      }
    }
  }
  EXPECT_EQ(refused, 1) << log;
}

INSTANTIATE_TEST_SUITE_P(Formats, HttpHardeningLog, ::testing::Values("text", "json"));

// The one fake here: a receiver that frames its answers badly, which a real one cannot be
// made to do. Answers every request on 127.0.0.1 with `response`, then closes.
class canned_server {
 public:
  explicit canned_server(std::string response)
      : response_(std::move(response)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
        thread_([this] { serve(); }) {}
  ~canned_server() {
    stop_ = true;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket wake(io);
    boost::system::error_code ignored;
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int served() const { return served_; }

 private:
  void serve() {
    while (!stop_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      boost::asio::streambuf request;
      boost::asio::read_until(socket, request, "\r\n\r\n", ec);
      if (ec) continue;
      ++served_;
      boost::asio::write(socket, boost::asio::buffer(response_), ec);
    }
  }

  std::string response_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

process_result agent_list(unsigned short port) {
  return run_process({PGSHIP_AGENT_BIN, "list"},
                     {.env = {{"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(port)},
                              {"BACKUP_API_TOKEN", "t"},
                              {"POSTGRES_DB", "app"},
                              {"POSTGRES_USER", "app"},
                              {"MAX_RETRIES", "0"}},
                      .timeout = 30s});
}

TEST(AgentHttpClient, RefusesAResponseWhoseFramingIsAmbiguous) {
  const std::string body = "[]";
  {
    // The control: the same answer framed right is read.
    canned_server good(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n" +
        body);
    const auto r = agent_list(good.port());
    EXPECT_EQ(r.exit_code, 0) << r.describe();
  }
  for (const std::string framing :
       {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n",
        "Content-Length: 2\r\nContent-Length: 2\r\n", "Content-Length: 2, 2\r\n"}) {
    SCOPED_TRACE(framing);
    canned_server bad("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing +
                      "Connection: close\r\n\r\n" + body);
    const auto r = agent_list(bad.port());
    EXPECT_NE(r.exit_code, 0) << r.describe() << r.out;
    EXPECT_GE(bad.served(), 1);
    EXPECT_NE(r.err.find("malformed response"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace pgship::test
