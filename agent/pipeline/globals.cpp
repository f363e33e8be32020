#include "pipeline/globals.hpp"

#include <pgship/common/io/filters.hpp>

#include "pipeline/globals_script.hpp"
#include "pipeline/tool_stderr.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// Passes the script on and reads it as it goes: the roles it creates, and its last bytes
// (for the trailer). Lines are short; a longer one is no CREATE ROLE and is not kept whole.
class script_reader final : public io::filter {
 public:
  using io::filter::filter;
  std::error_code write(std::span<const char> data) override {
    for (const char c : data) {
      if (c == '\n') {
        if (auto role = created_role(line_); !role.empty()) roles_.push_back(std::move(role));
        line_.clear();
      } else if (line_.size() < max_line) {
        line_ += c;
      }
    }
    tail_.append(data.data(), data.size());
    if (tail_.size() > 2 * tail_size) tail_.erase(0, tail_.size() - tail_size);
    return next_.write(data);
  }
  const std::vector<std::string>& roles() const { return roles_; }
  std::string_view tail() const { return tail_; }

 private:
  static constexpr std::size_t max_line = 4096;
  static constexpr std::size_t tail_size = 512;
  std::string line_;
  std::string tail_;
  std::vector<std::string> roles_;
};

// Whether the role may read pg_authid, where the password hashes are (a superuser may; since
// PostgreSQL 10 nobody else by default).
stage_error may_read_passwords(const pg_login& login, bool& may) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) return error;
  const auto v =
      conn.query_value("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')", error);
  if (error) return error;
  may = *v == "t";
  return {};
}

}  // namespace

net::awaitable<stage_error> find_pg_dumpall(const pg_tool& pg_dump, pg_tool& out) {
  co_return co_await find_tool_beside(pg_dump, "pg_dumpall", "GLOBALS=on", out);
}

net::awaitable<stage_error> run_globals(const globals_request& request, globals_output& out) {
  bool passwords = false;
  if (auto error = may_read_passwords(request.login, passwords)) co_return error;
  if (!passwords) {
    request.log.warn(
        "role passwords are not in the globals backup: role {} cannot read pg_authid (not a "
        "superuser), so pg_dumpall runs with --no-role-passwords and restored roles get none",
        request.login.user);
  }

  stage_error create_error;
  output_file output(request.output, request.format, request.codec, create_error);
  if (create_error) co_return create_error;
  // pg_dumpall's script → read (roles, tail) → hash (plain) → [zstd] → [age] → hash → file.
  io::filter_group& chain = output.chain();
  const auto& reader = chain.push_front<script_reader>();
  stdout_sink sink = [&chain](std::span<const char> data) { return chain.write(data); };

  const auto& login = request.login;
  child_spec spec;
  spec.program = request.pg_dumpall.path;
  spec.args = {"--globals-only",           "--no-password",
               "--host=" + login.host,     "--port=" + std::to_string(login.port),
               "--username=" + login.user, "--database=" + login.database};
  if (!passwords) spec.args.push_back("--no-role-passwords");
  spec.env = {{"PGAPPNAME", "pgship-agent"}};
  if (!login.password.empty()) spec.env["PGPASSWORD"] = login.password;
  const auto result = co_await run_child(spec, std::move(sink), request.handle);
  log_tool_stderr(result.err, "pg_dumpall", request.log);

  auto error = producer_failure(result, "pg_dumpall", request.output);
  if (!error && !globals_script_complete(reader.tail())) {
    error = fail(errc::verify_failed, "pg_dumpall exited 0 but its script does not end with \"" +
                                          std::string(globals_trailer) + "\"");
  }
  if (auto closed = output.close(std::move(error), out)) co_return closed;
  out.role_passwords = passwords;
  out.roles = reader.roles();
  co_return stage_error{};
}

}  // namespace pgship::agent
