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
      durable_commits_(options.durable_commits),
      password_(options.password.empty() ? random_password() : options.password) {
  // initdb refuses to run as root: then the cluster belongs to the postgres user, in a
  // directory outside /root that it can reach.
  as_postgres_user_ = ::geteuid() == 0;
  std::string pattern = "/tmp/pgship-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  data_dir_ = dir_ / "data";
  std::filesystem::create_directories(dir_ / "socket");
  const auto pwfile = dir_ / "pwfile";
  std::ofstream(pwfile) << password_ << "\n";

  if (options.populate) {
    std::filesystem::create_directory(data_dir_);
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
    options.populate(data_dir_);
  }
  if (as_postgres_user_) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no postgres user");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      if (::lchown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("chown failed");
    }
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("chown failed");
  }

  if (!options.populate) {
    std::vector<std::string> initdb = {(bin_dir_ / "initdb").string(),
                                       "-D",
                                       data_dir_.string(),
                                       "-U",
                                       user_,
                                       "--auth-local=trust",
                                       "--auth-host=scram-sha-256",
                                       "--pwfile=" + pwfile.string(),
                                       "--no-sync",
                                       "-E",
                                       "UTF8",
                                       "--locale=C"};
    initdb.insert(initdb.end(), options.initdb_args.begin(), options.initdb_args.end());
    auto init = run_process(as_owner(initdb), {.timeout = std::chrono::seconds(120)});
    if (!init.ok()) throw std::runtime_error("initdb failed: " + init.describe() + init.out);
  }
  if (!options.settings.empty()) {
    // Appending keeps the file's owner (the postgres user when running as root).
    std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
    conf << "\n# pg_cluster_options\n";
    for (const auto& line : options.settings)
      conf << line << "\n";
    if (!conf) throw std::runtime_error("cannot write postgresql.conf");
  }

  start();

  // The watchdog stops and removes the cluster if this process dies without the destructor.
  const std::string script = "while [ -d /proc/" + std::to_string(::getpid()) +
                             " ]; do sleep 1; done; " + (bin_dir_ / "pg_ctl").string() + " -D " +
                             data_dir_.string() + " stop -m immediate >/dev/null 2>&1; rm -rf " +
                             dir_.string();
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

std::vector<std::string> pg_cluster::as_owner(std::vector<std::string> args) const {
  if (as_postgres_user_) args.insert(args.begin(), {"runuser", "-u", "postgres", "--"});
  return args;
}

void pg_cluster::start() {
  // A port can be taken between free_port() and the bind: try a few. The first start picks
  // the port; a restart keeps it (clients and the agent under test know it).
  const bool first = port_ == 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (first) port_ = free_port();
    std::string opts = "-p " + std::to_string(port_) + " -k " + (dir_ / "socket").string() +
                       " -c listen_addresses=127.0.0.1 -c full_page_writes=off"
                       " -c max_connections=50";
    if (!durable_commits_) opts += " -c fsync=off -c synchronous_commit=off";
    auto started = run_process(
        as_owner({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(), "-l",
                  (dir_ / "server.log").string(), "-w", "-t", "120", "-o", opts, "start"}),
        {.timeout = std::chrono::seconds(150)});
    if (started.ok()) return;
    if (attempt == 4 || !first)
      throw std::runtime_error("pg_ctl start failed: " + started.describe() + "\n" + server_log());
  }
}

std::string pg_cluster::server_log() const {
  std::ifstream log(dir_ / "server.log");
  return std::string((std::istreambuf_iterator<char>(log)), {});
}

void pg_cluster::kill9() {
  std::ifstream pidfile(data_dir_ / "postmaster.pid");
  pid_t pid = 0;
  if (!(pidfile >> pid) || pid <= 0) throw std::runtime_error("no postmaster.pid");
  ::kill(pid, SIGKILL);
  // The postmaster is gone; its children notice and exit. Wait for the pid to go.
  for (int i = 0; i < 600 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void pg_cluster::stop() {
  auto stopped = run_process(as_owner({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(),
                                       "stop", "-m", "fast", "-w", "-t", "120"}),
                             {.timeout = std::chrono::seconds(150)});
  if (!stopped.ok()) throw std::runtime_error("pg_ctl stop failed: " + stopped.describe());
}

void pg_cluster::promote() {
  auto promoted = run_process(as_owner({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(),
                                        "promote", "-w", "-t", "120"}),
                              {.timeout = std::chrono::seconds(150)});
  if (!promoted.ok()) throw std::runtime_error("pg_ctl promote failed: " + promoted.describe());
}

pg_cluster_options standby_of(const pg_cluster& primary, std::vector<std::string> settings) {
  pg_cluster_options o;
  o.settings = {"hot_standby = on"};
  o.settings.insert(o.settings.end(), settings.begin(), settings.end());
  o.durable_commits = true;
  o.password = primary.password();
  const std::filesystem::path bin = primary.bin_dir();
  const std::string host = primary.host();
  const std::string port = std::to_string(primary.port());
  const std::string user = primary.user();
  const std::string password = primary.password();
  o.populate = [bin, host, port, user, password](const std::filesystem::path& data) {
    auto copied =
        run_process({(bin / "pg_basebackup").string(), "-h", host, "-p", port, "-U", user, "-D",
                     data.string(), "-X", "stream", "-c", "fast", "-R", "--no-sync"},
                    {.env = {{"PGPASSWORD", password}}, .timeout = std::chrono::seconds(300)});
    if (!copied.ok()) throw std::runtime_error("pg_basebackup -R failed: " + copied.out);
    // -R wrote standby.signal; the conninfo is spelled out so it holds the password whatever
    // pg_basebackup chose to copy.
    std::ofstream(data / "postgresql.auto.conf", std::ios::app)
        << "primary_conninfo = 'host=" << host << " port=" << port << " user=" << user
        << " password=" << password << " application_name=pgship-test-standby'\n";
  };
  return o;
}

bool pg_cluster::ready() const {
  auto r = run_process(
      {(bin_dir_ / "pg_isready").string(), "-h", host_, "-p", std::to_string(port_), "-t", "5"},
      {.timeout = std::chrono::seconds(10)});
  return r.ok();
}

pg_cluster::~pg_cluster() {
  run_process(as_owner({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(), "stop", "-m",
                        "immediate", "-w"}),
              {.timeout = std::chrono::seconds(30)});
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
