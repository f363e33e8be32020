#include <string>

#include <pgship/common/errors.hpp>

namespace pgship {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pgship"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::internal:
        return "internal error";
      case errc::config_invalid:
        return "invalid configuration";
      case errc::database_unreachable:
        return "database server unreachable";
      case errc::database_auth_failed:
        return "database authentication failed";
      case errc::database_missing:
        return "database does not exist";
      case errc::pg_dump_not_found:
        return "pg_dump not found";
      case errc::pg_dump_version_mismatch:
        return "pg_dump older than the server";
      case errc::dump_failed:
        return "pg_dump failed";
      case errc::dump_too_small:
        return "dump too small to be a valid archive";
      case errc::verify_failed:
        return "backup verification failed";
      case errc::restore_list_failed:
        return "pg_restore --list failed";
      case errc::restore_failed:
        return "restore failed";
      case errc::receiver_unreachable:
        return "receiver unreachable";
      case errc::receiver_unhealthy:
        return "receiver unhealthy";
      case errc::receiver_auth_failed:
        return "receiver rejected the token";
      case errc::upload_rejected:
        return "upload rejected by the receiver";
      case errc::upload_failed:
        return "upload failed after retries";
      case errc::hash_mismatch:
        return "sha256 mismatch";
      case errc::tls_failed:
        return "tls handshake or verification failed";
      case errc::local_io_failed:
        return "local file system error";
      case errc::disk_full:
        return "no space left on device";
      case errc::rotate_failed:
        return "local rotation failed";
      case errc::cancelled:
        return "cancelled";
      case errc::interrupted:
        return "interrupted";
      case errc::run_in_progress:
        return "a run is already in progress";
      case errc::check_failed:
        return "one or more checks failed";
      case errc::drill_mismatch:
        return "restored rows differ from the backup's";
      case errc::drill_refused:
        return "drill scratch database refused";
      case errc::restore_refused:
        return "the restore target cannot take this backup";
      case errc::replication_unavailable:
        return "the WAL stream is not available";
      case errc::wal_conflict:
        return "the receiver holds other WAL under the same name";
      case errc::wal_gap:
        return "the WAL archive has a gap";
      case errc::basebackup_incomplete:
        return "the base backup's WAL is not durable on the receiver";
    }
    return "unknown pgship error " + std::to_string(value);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

std::string_view error_name(errc e) noexcept {
  switch (e) {
    case errc::ok:
      return "ok";
    case errc::internal:
      return "internal";
    case errc::config_invalid:
      return "config_invalid";
    case errc::database_unreachable:
      return "database_unreachable";
    case errc::database_auth_failed:
      return "database_auth_failed";
    case errc::database_missing:
      return "database_missing";
    case errc::pg_dump_not_found:
      return "pg_dump_not_found";
    case errc::pg_dump_version_mismatch:
      return "pg_dump_version_mismatch";
    case errc::dump_failed:
      return "dump_failed";
    case errc::dump_too_small:
      return "dump_too_small";
    case errc::verify_failed:
      return "verify_failed";
    case errc::restore_list_failed:
      return "restore_list_failed";
    case errc::restore_failed:
      return "restore_failed";
    case errc::receiver_unreachable:
      return "receiver_unreachable";
    case errc::receiver_unhealthy:
      return "receiver_unhealthy";
    case errc::receiver_auth_failed:
      return "receiver_auth_failed";
    case errc::upload_rejected:
      return "upload_rejected";
    case errc::upload_failed:
      return "upload_failed";
    case errc::hash_mismatch:
      return "hash_mismatch";
    case errc::tls_failed:
      return "tls_failed";
    case errc::local_io_failed:
      return "local_io_failed";
    case errc::disk_full:
      return "disk_full";
    case errc::rotate_failed:
      return "rotate_failed";
    case errc::cancelled:
      return "cancelled";
    case errc::interrupted:
      return "interrupted";
    case errc::run_in_progress:
      return "run_in_progress";
    case errc::check_failed:
      return "check_failed";
    case errc::drill_mismatch:
      return "drill_mismatch";
    case errc::drill_refused:
      return "drill_refused";
    case errc::restore_refused:
      return "restore_refused";
    case errc::replication_unavailable:
      return "replication_unavailable";
    case errc::wal_conflict:
      return "wal_conflict";
    case errc::wal_gap:
      return "wal_gap";
    case errc::basebackup_incomplete:
      return "basebackup_incomplete";
  }
  return "unknown";
}

int exit_code_for(const boost::system::error_code& ec) noexcept {
  if (!ec) return 0;
  if (ec.category() == error_category()) return ec.value();
  return static_cast<int>(errc::internal);
}

}  // namespace pgship
