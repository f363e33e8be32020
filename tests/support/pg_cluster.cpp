#include "pg_cluster.hpp"
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include "free_port.hpp"
#include "process.hpp"
#include "sample_data.sql.hpp"

namespace pgship::test {
namespace {

std::filesystem::path find_bin_dir() {
  for (const char* dir : {"/usr/lib/postgresql/15/bin"}) {
    if (std::filesystem::exists(std::filesystem::path(dir) / "initdb")) return dir;
  }
  throw std::runtime_error(
      "PostgreSQL 15 server tools not found in /usr/lib/postgresql/15/bin "
      "(run deploy/install-deps.sh)");
}

struct connection_deleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using connection = std::unique_ptr<PGconn, connection_deleter>;
struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result = std::unique_ptr<PGresult, result_deleter>;

connection connect(const std::string& conninfo) {
  connection c(PQconnectdb(conninfo.c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect to the test cluster: ") +
                             PQerrorMessage(c.get()));
  }
  return c;
}

std::string random_password() {
  std::random_device rd;
  std::string out = "pgship-";
  for (int i = 0; i < 16; ++i)
    out.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[rd() % 36]);
  return out;
}

}  // namespace

pg_cluster::pg_cluster() : pg_cluster(pg_cluster_options{}) {}

pg_cluster::pg_cluster(const pg_cluster_options& options)
    : bin_dir_(options.bin_dir.empty() ? find_bin_dir() : options.bin_dir),
      password_(random_password()) {
  // initdb refuses to run as root: then the cluster belongs to the postgres user, in a
  // directory outside /root that it can reach.
  as_postgres_user_ = ::geteuid() == 0;
  std::string pattern = "/tmp/pgship-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::filesystem::create_directories(dir_ / "socket");
  const auto pwfile = dir_ / "pwfile";
  std::ofstream(pwfile) << password_ << "\n";

  std::vector<std::string> prefix;
  if (as_postgres_user_) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no postgres user");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      if (::chown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("chown failed");
    }
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("chown failed");
    prefix = {"runuser", "-u", "postgres", "--"};
  }
  const auto as_owner = [&](std::vector<std::string> args) {
    args.insert(args.begin(), prefix.begin(), prefix.end());
    return args;
  };

  auto init = run_process(
      as_owner({(bin_dir_ / "initdb").string(), "-D", (dir_ / "data").string(), "-U", user_,
                "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + pwfile.string(),
                "--no-sync", "-E", "UTF8", "--locale=C"}),
      {.timeout = std::chrono::seconds(120)});
  if (!init.ok()) throw std::runtime_error("initdb failed: " + init.describe() + init.out);
  if (!options.settings.empty()) {
    // Appending keeps the file's owner (the postgres user when running as root).
    std::ofstream conf(dir_ / "data" / "postgresql.conf", std::ios::app);
    conf << "\n# pg_cluster_options\n";
    for (const auto& line : options.settings)
      conf << line << "\n";
    if (!conf) throw std::runtime_error("cannot write postgresql.conf");
  }

  // A port can be taken between free_port() and the bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    const std::string opts = "-p " + std::to_string(port_) + " -k " + (dir_ / "socket").string() +
                             " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                             " -c full_page_writes=off -c max_connections=50";
    auto start = run_process(
        as_owner({(bin_dir_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-l",
                  (dir_ / "server.log").string(), "-w", "-t", "60", "-o", opts, "start"}),
        {.timeout = std::chrono::seconds(90)});
    if (start.ok()) break;
    if (attempt == 4) {
      std::ifstream log(dir_ / "server.log");
      std::string text((std::istreambuf_iterator<char>(log)), {});
      throw std::runtime_error("pg_ctl start failed: " + start.describe() + "\n" + text);
    }
  }

  // The watchdog stops and removes the cluster if this process dies without the destructor.
  const std::string script = "while [ -d /proc/" + std::to_string(::getpid()) +
                             " ]; do sleep 1; done; " + (bin_dir_ / "pg_ctl").string() + " -D " +
                             (dir_ / "data").string() +
                             " stop -m immediate >/dev/null 2>&1; rm -rf " + dir_.string();
  const pid_t child = ::fork();
  if (child == 0) {
    ::setsid();
    if (as_postgres_user_) {
      ::execlp("runuser", "runuser", "-u", "postgres", "--", "sh", "-c", script.c_str(), nullptr);
    } else {
      ::execlp("sh", "sh", "-c", script.c_str(), nullptr);
    }
    ::_exit(127);
  }
  watchdog_pid_ = child;
}

pg_cluster::~pg_cluster() {
  std::vector<std::string> args = {(bin_dir_ / "pg_ctl").string(),
                                   "-D",
                                   (dir_ / "data").string(),
                                   "stop",
                                   "-m",
                                   "immediate",
                                   "-w"};
  if (as_postgres_user_) args.insert(args.begin(), {"runuser", "-u", "postgres", "--"});
  run_process(args, {.timeout = std::chrono::seconds(30)});
  if (watchdog_pid_ > 0) ::kill(-watchdog_pid_, SIGKILL);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

pg_cluster& pg_cluster::shared() {
  static pg_cluster instance;
  return instance;
}

std::string pg_cluster::conninfo(std::string_view database) const {
  return "host=" + host_ + " port=" + std::to_string(port_) + " user=" + user_ +
         " password=" + password_ + " dbname=" + std::string(database) + " connect_timeout=10";
}

void pg_cluster::execute(std::string_view database, std::string_view sql) {
  auto c = connect(conninfo(database));
  result r(PQexec(c.get(), std::string(sql).c_str()));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("SQL failed: " + std::string(PQresultErrorMessage(r.get())));
  }
}

std::string pg_cluster::query_value(std::string_view database, std::string_view sql) {
  auto c = connect(conninfo(database));
  result r(PQexec(c.get(), std::string(sql).c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error("query failed: " + std::string(PQresultErrorMessage(r.get())));
  }
  if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return "";
  return PQgetvalue(r.get(), 0, 0);
}

void pg_cluster::create_database(std::string_view name) {
  execute("postgres", "CREATE DATABASE \"" + std::string(name) + "\"");
}

void pg_cluster::drop_database(std::string_view name) {
  execute("postgres", "DROP DATABASE IF EXISTS \"" + std::string(name) + "\" WITH (FORCE)");
}

void pg_cluster::load_sample_data(std::string_view database, int trades) {
  execute(database, sample_data_sql(trades));
}

}  // namespace pgship::test
