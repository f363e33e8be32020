#pragma once
// A throwaway PostgreSQL 15 cluster for integration tests: initdb in a temp dir, started on a
// free loopback port with its own socket directory, stopped and removed at the end. A
// watchdog process removes it even if the test binary crashes.
//
// TCP connections need the password (scram-sha-256), as a production server would; the
// socket directory trusts local connections, for fixture setup.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::test {

/// How a cluster differs from the default one (which is what `pg_cluster()` starts).
struct pg_cluster_options {
  /// The server's programs (initdb, pg_ctl, postgres); empty: the system's PostgreSQL 15.
  std::filesystem::path bin_dir;
  /// `name = value` lines added to postgresql.conf before the first start, e.g.
  /// `shared_preload_libraries = 'timescaledb'`.
  std::vector<std::string> settings;
  /// Added to initdb's arguments, e.g. `--wal-segsize=1` (1 MiB segments: WAL tests fill and
  /// switch segments cheaply).
  std::vector<std::string> initdb_args;
  /// Commits wait for their WAL to be flushed (synchronous_commit on, the server's default):
  /// what a commit's acknowledgement promises is then what a WAL stream can see. Off, the
  /// fixture trades that for speed.
  bool durable_commits = false;
  /// Instead of initdb: fills the (empty, existing) data directory, e.g. from a base backup.
  /// The cluster's roles are then the copy's: `password` must be its superuser's.
  std::function<void(const std::filesystem::path& data_dir)> populate;
  std::string password;
};

class pg_cluster;

/// Options for a streaming standby of `primary`: its data directory from `pg_basebackup -R`
/// (standby.signal, primary_conninfo with the primary's superuser and password), hot_standby
/// on, commits as `primary`'s. `settings` go on top.
pg_cluster_options standby_of(const pg_cluster& primary, std::vector<std::string> settings = {});

class pg_cluster {
 public:
  /// Starts a new cluster. Throws std::runtime_error with the tools' output on failure.
  pg_cluster();
  explicit pg_cluster(const pg_cluster_options& options);
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  /// One cluster per test binary, started on first use, stopped at exit.
  static pg_cluster& shared();

  const std::string& host() const { return host_; }
  unsigned short port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  const std::filesystem::path& bin_dir() const { return bin_dir_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  /// The server's log (what recovery says, restore_command's failures).
  std::string server_log() const;

  /// Stops the server at once (SIGKILL to the postmaster: a crash), or starts it again.
  void kill9();
  void start();
  /// Stops the server cleanly (pg_ctl stop -m fast: a shutdown checkpoint its standbys get).
  void stop();
  /// Ends recovery of a standby (pg_ctl promote, waiting until it accepts writes): it goes
  /// on on a new timeline.
  void promote();
  /// Whether the server answers (pg_isready).
  bool ready() const;
  /// A libpq connection string over TCP, password included (for the fixture's own use).
  std::string conninfo(std::string_view database = "postgres") const;

  void create_database(std::string_view name);
  void drop_database(std::string_view name);
  /// Runs SQL (any number of statements); throws with the server's message on error.
  void execute(std::string_view database, std::string_view sql);
  /// The first column of the first row, as text ("" for NULL or no rows).
  std::string query_value(std::string_view database, std::string_view sql);

  /// Trading-like data whose custom-format dump compresses about 3-4:1: accounts,
  /// instruments, `trades` rows of trades and trades/2 `order_events` with jsonb and bytea.
  void load_sample_data(std::string_view database, int trades = 200000);

 private:
  std::vector<std::string> as_owner(std::vector<std::string> args) const;

  std::filesystem::path dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path bin_dir_;
  bool durable_commits_ = false;
  std::string host_ = "127.0.0.1";
  unsigned short port_ = 0;
  std::string user_ = "postgres";
  std::string password_;
  bool as_postgres_user_ = false;
  int watchdog_pid_ = -1;
};

}  // namespace pgship::test
