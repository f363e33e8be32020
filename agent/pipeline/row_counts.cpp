#include "pipeline/row_counts.hpp"
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

// The counting thread tells the coroutine waiting in finish() that it is done.
struct snapshot_counter::done_signal {
  explicit done_signal(const boost::asio::any_io_executor& ex) : channel(ex, 1) {}
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> channel;
};

snapshot_counter::snapshot_counter(pg_connection conn) : conn_(std::move(conn)) {}

namespace {

std::uint64_t to_count(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  (void)end;
  return ec == std::errc{} && value > 0 ? static_cast<std::uint64_t>(value) : 0;
}

// Tables pg_dump dumps the rows of, less what belongs to an extension (its config tables'
// rows are the extension's business) and what TimescaleDB keeps its data in.
constexpr std::string_view plain_tables_sql =
    "SELECT n.nspname, c.relname, 'table', c.reltuples::text FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype = 'e')";

std::string countables_sql(pg_connection& conn, const std::optional<std::string>& ts_schema,
                           bool with_estimates) {
  if (!ts_schema) return std::string(plain_tables_sql) + " ORDER BY 1, 2";
  const auto approximate = [&](std::string_view schema, std::string_view name) {
    if (!with_estimates) return std::string("''");
    return conn.quote_identifier(*ts_schema) + ".approximate_row_count(format('%I.%I', " +
           std::string(schema) + ", " + std::string(name) + ")::regclass)::text";
  };
  return std::string(plain_tables_sql) +
         " AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname NOT LIKE 'timescaledb\\_%' "
         "AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.chunk k "
         "WHERE k.schema_name = n.nspname AND k.table_name = c.relname) "
         "AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable h "
         "WHERE h.schema_name = n.nspname AND h.table_name = c.relname) "
         "UNION ALL SELECT hypertable_schema, hypertable_name, 'hypertable', " +
         approximate("hypertable_schema", "hypertable_name") +
         " FROM timescaledb_information.hypertables "
         "WHERE hypertable_schema NOT LIKE '\\_timescaledb%' "
         "UNION ALL SELECT view_schema, view_name, 'continuous_aggregate', " +
         approximate("materialization_hypertable_schema", "materialization_hypertable_name") +
         " FROM timescaledb_information.continuous_aggregates ORDER BY 1, 2";
}

}  // namespace

std::optional<std::vector<countable>> list_countables(pg_connection& conn, bool with_estimates,
                                                      stage_error& error) {
  const auto ts = conn.query_rows(
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
      "WHERE e.extname = 'timescaledb'",
      error);
  if (!ts) return std::nullopt;
  std::optional<std::string> ts_schema;
  if (!ts->empty()) ts_schema = ts->front().front();
  const auto rows = conn.query_rows(countables_sql(conn, ts_schema, with_estimates), error);
  if (!rows) return std::nullopt;
  std::vector<countable> out;
  out.reserve(rows->size());
  for (const auto& r : *rows)
    out.push_back({r[0], r[1], r[2], r[3]});
  return out;
}

std::unique_ptr<snapshot_counter> snapshot_counter::begin(const pg_login& login,
                                                          stage_error& error) {
  auto conn = pg_connection::open(login, error);
  if (error) return nullptr;
  std::unique_ptr<snapshot_counter> counter(new snapshot_counter(std::move(conn)));
  // A role's timeouts must not end the transaction pg_dump imports its snapshot from (pg_dump
  // clears them for its own session).
  error = counter->conn_.execute(
      "SET statement_timeout = 0; SET lock_timeout = 0; "
      "SET idle_in_transaction_session_timeout = 0");
  if (!error) error = counter->conn_.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (error) return nullptr;
  const auto id = counter->conn_.query_value("SELECT pg_export_snapshot()", error);
  if (error || !id || id->empty()) {
    error = fail(errc::dump_failed, "cannot export a snapshot for pg_dump: " + error.message);
    return nullptr;
  }
  counter->snapshot_ = *id;
  counter->cancel_ = counter->conn_.canceller();
  return counter;
}

snapshot_counter::~snapshot_counter() {
  if (thread_.joinable()) {
    stop_ = true;
    cancel_();
    thread_.join();
  }
}

void snapshot_counter::start(const boost::asio::any_io_executor& ex) {
  done_ = std::make_unique<done_signal>(ex);
  thread_ = std::thread([this] {
    count_all();
    done_->channel.try_send(boost::system::error_code{});
  });
}

void snapshot_counter::cancel() {
  stop_ = true;
  if (thread_.joinable()) cancel_();
}

void snapshot_counter::count_all() {
  error_ = read_database_facts(conn_, facts_);
  if (!error_) error_ = count_user_tables(conn_, stop_, true, rows_);
}

stage_error count_user_tables(pg_connection& conn, const std::atomic<bool>& stop,
                              bool in_savepoints, std::vector<table_rows>& out) {
  stage_error error;
  const auto tables = list_countables(conn, false, error);
  if (!tables) return error;
  for (const auto& t : *tables) {
    if (stop) return fail(errc::cancelled, "counting stopped");
    if (in_savepoints && (error = conn.execute("SAVEPOINT count_one"))) return error;
    const auto sql = "SELECT count(*) FROM " + conn.quote_identifier(t.schema) + "." +
                     conn.quote_identifier(t.name);
    table_rows row{t.schema, t.name, 0, t.kind, {}};
    if (const auto n = conn.query_value(sql, error)) {
      row.rows = to_count(*n);
      if (in_savepoints) conn.execute("RELEASE SAVEPOINT count_one");
    } else {
      // One table that cannot be counted costs only its own count.
      if (stop) return fail(errc::cancelled, "counting stopped");
      row.error = error.message.empty() ? "count failed" : error.message;
      if (in_savepoints) conn.execute("ROLLBACK TO SAVEPOINT count_one");
    }
    out.push_back(std::move(row));
  }
  return {};
}

boost::asio::awaitable<stage_error> snapshot_counter::finish(std::vector<table_rows>& out,
                                                             database_facts& facts) {
  if (done_) {
    co_await done_->channel.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  if (thread_.joinable()) thread_.join();
  conn_.execute("COMMIT");
  if (error_) co_return error_;
  out = std::move(rows_);
  facts = std::move(facts_);
  co_return stage_error{};
}

stage_error estimate_rows(pg_connection& conn, std::vector<table_rows>& out) {
  stage_error error;
  const auto rows = list_countables(conn, true, error);
  if (!rows) return error;
  out.clear();
  for (const auto& r : *rows)
    out.push_back({r.schema, r.name, to_count(r.estimate), r.kind, {}});
  return {};
}

}  // namespace pgship::agent
