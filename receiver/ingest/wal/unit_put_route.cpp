#include "ingest/wal/unit_put_route.hpp"
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire.hpp>
#include <pgship/common/wire/wal.hpp>

#include "ingest/body_stream.hpp"
#include "ingest/incoming_file.hpp"
#include "policy/admission.hpp"
#include "policy/wal_access.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;
namespace wal_wire = wire::wal;

// What the request's name and headers say, checked before a body byte is read.
struct unit_request {
  wal_key key;
  wal_file_name name;
  std::uint64_t segment_size = 0;
  sha256_digest stored_sha256{};
  wal_unit_meta meta;
};

// The reason a request is refused before its body, as the answer says it.
struct refusal {
  http::status status;
  wire::api_error error;
  std::string detail;
};

// Reads the route's parameters and headers into `out`; a refusal when they do not make a unit.
std::optional<refusal> parse_request(const exchange& ex, unit_request& out) {
  const auto bad = [](wire::api_error error, std::string detail) {
    return refusal{http::status::bad_request, error, std::move(detail)};
  };
  const auto& req = ex.request();
  const std::string file(ex.params().get("name"));
  const auto name = parse_wal_file_name(file);
  if (!name) {
    return bad(wire::api_error::invalid_wal_name,
               "a unit is named <segment>.<start>-<end>[.zst][.age] (8 hex digits each), a "
               "history file <timeline>.history[.zst][.age]");
  }
  out.name = *name;
  const auto stored = digest_from_hex(req[wire::content_sha256_header]);
  const auto plain = digest_from_hex(req[wal_wire::header::plaintext_sha256]);
  if (!stored || !plain) {
    return bad(wire::api_error::bad_checksum,
               "X-Content-SHA256 and X-Wal-Plaintext-SHA256 are required, 64 hex digits each");
  }
  out.stored_sha256 = *stored;
  out.meta.plaintext_sha256 = *plain;
  const auto segment_size = ex.header_u64(wal_wire::header::segment_size);
  if (!segment_size || !wal::valid_segment_size(*segment_size)) {
    return bad(wire::api_error::bad_request,
               "X-Wal-Segment-Size must be the cluster's wal_segment_size: a power of two from "
               "1 MiB to 1 GiB");
  }
  out.segment_size = *segment_size;
  const auto plain_size = ex.header_u64(wal_wire::header::plaintext_size);
  if (!plain_size) {
    return bad(wire::api_error::bad_request, "X-Wal-Plaintext-Size must be a number of bytes");
  }
  out.meta.plaintext_size = *plain_size;
  if (const auto unit = wal::parse_unit_name(file)) {
    if (!wal::parse_segment_name(unit->segment, *segment_size) || unit->end > *segment_size) {
      return bad(wire::api_error::invalid_wal_name,
                 "the unit does not fit a segment of X-Wal-Segment-Size bytes");
    }
    if (*plain_size != unit->end - unit->start) {
      return bad(wire::api_error::bad_request,
                 "X-Wal-Plaintext-Size must be the unit's end minus its start");
    }
  }
  const std::string_view time_map = req[wal_wire::header::time_map];
  if (!wal_wire::decode_time_map(time_map)) {
    return bad(wire::api_error::bad_request,
               "X-Wal-Time-Map is <unix ms>@<X/X>, comma-separated, oldest first");
  }
  out.meta.time_map = std::string(time_map);
  const std::string_view timeline_switch = req[wal_wire::header::timeline_switch];
  if (!timeline_switch.empty()) {
    const auto history = wal::parse_history_file(file);
    const auto point = wal_wire::decode_switch(timeline_switch);
    if (!history || !point || point->parent >= history->timeline) {
      return bad(wire::api_error::bad_request,
                 "X-Wal-Timeline-Switch belongs on a history file: <parent timeline>@<X/X>, the "
                 "parent older than the file's timeline");
    }
    out.meta.timeline_switch = std::string(timeline_switch);
  }
  return std::nullopt;
}

std::string answer_body(const wal_put_result& put) {
  boost::json::object o;
  o["stored"] = put.stored.name;
  o["plaintext_sha256"] = to_hex(put.stored.meta.plaintext_sha256);
  o["stored_sha256"] = to_hex(put.stored.meta.stored_sha256);
  return boost::json::serialize(o);
}

// The spooled, verified, fsynced file into the archive, on a storage thread.
struct store_step {
  result<wal_system_meta> system = std::error_code{};
  result<wal_put_result> put = std::error_code{};
};

void store_unit(receiver_context& ctx, wal_store& archive, const unit_request& unit,
                const std::filesystem::path& spooled, store_step& out) {
  out.system = archive.claim_system(unit.key, unit.segment_size);
  if (!out.system || out.system->segment_size != unit.segment_size) return;
  out.put = archive.put({unit.key, unit.name, spooled, unit.meta});
  if (out.put && out.put->outcome == wal_put_outcome::created) {
    ctx.wal_ranges.stored(unit.key, unit.segment_size, unit.name.file, unit.meta.time_map,
                          unit.meta.timeline_switch);
  }
}

net::awaitable<void> handle_put(exchange& ex, receiver_context& ctx) {
  unit_request unit;
  wal_store* archive = co_await open_wal_archive(ex, ctx, scope::upload, unit.key);
  if (!archive) co_return;
  if (const auto refused = parse_request(ex, unit)) {
    co_await ex.respond_error(refused->status, refused->error, refused->detail);
    co_return;
  }
  const log::context lg{{"client", unit.key.client},
                        {"system", unit.key.system},
                        {"unit", unit.name.file},
                        {"peer", ex.peer_address()}};
  const auto declared = ex.header_u64("Content-Length");
  const std::string too_large =
      "a unit has at most " + std::to_string(wal_wire::max_unit_bytes) + " bytes";
  if (declared && *declared > wal_wire::max_unit_bytes) {
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              too_large);
    co_return;
  }
  // A segment size other than the system's is refused before the body, and again at the store.
  result<std::optional<wal_system_meta>> known = std::nullopt;
  std::function<void()> look = [&] { known = archive->system_meta(unit.key); };
  co_await ctx.on_storage_thread(look);
  if (!known) {
    lg.error("WAL unit: cannot read the system's meta: {}", known.error().message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not look the system up");
    co_return;
  }
  const auto mismatch = [&](std::uint64_t stored_size) {
    return "system " + unit.key.system + " has segments of " + std::to_string(stored_size) +
           " bytes, not " + std::to_string(unit.segment_size);
  };
  if (*known && (*known)->segment_size != unit.segment_size) {
    const std::string detail = mismatch((*known)->segment_size);
    lg.warn("WAL unit refused: {}", detail);
    co_await ex.respond_error(http::status::conflict, wire::api_error::segment_size_mismatch,
                              detail);
    co_return;
  }

  upload_slot slot(ctx);
  if (!slot.acquired()) {
    auto res =
        http_server::make_error_response(http::status::service_unavailable, wire::api_error::busy,
                                         "too many concurrent uploads; retry later");
    res.set(http::field::retry_after, "5");
    co_await ex.respond(std::move(res));
    co_return;
  }
  const auto spooled = ctx.incoming.new_path("wal");
  quota_hold hold(ctx.quota, spooled.filename().string());
  if (co_await refuse_over_limits(ex, ctx, unit.key.client, declared, hold.key())) co_return;
  ex.set_body_limit(wal_wire::max_unit_bytes);

  incoming_file file;
  if (auto ec = file.create(spooled)) {
    lg.error("WAL unit: cannot create the spool file: {}", ec.message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not write the unit to disk");
    co_return;
  }
  std::error_code write_failed;
  body_consumer consume = [&](std::string_view data, hash_pieces& to_hash) {
    to_hash.push_back(data);
    write_failed = file.write(data);
    return !write_failed;
  };
  sha256 hasher;
  std::vector<sha256*> hashers{&hasher};
  auto rate = ctx.upload_rates.for_client(unit.key.client);  // CLIENT_MAX_RATE caps WAL too
  const auto body =
      co_await stream_body(ex, ctx.hash_pool, std::move(hashers), std::move(consume), rate);
  if (body.read_error == http::error::body_limit) {
    file.discard();
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              too_large);
    co_return;
  }
  if (body.read_error) {
    file.discard();
    const std::string why = body.read_error.message();
    lg.warn("WAL unit interrupted; nothing kept: {}", why);
    co_await ex.respond_error(http::status::bad_request, wire::api_error::upload_interrupted, why);
    co_return;
  }
  if (write_failed) {
    file.discard();
    lg.error("WAL unit failed: spool write: {}", write_failed.message());
    // A full disk is the 507 an upload gets; the agent retries once there is room.
    const bool full = write_failed == std::errc::no_space_on_device;
    co_await ex.respond_error(
        full ? http::status::insufficient_storage : http::status::internal_server_error,
        full ? wire::api_error::insufficient_storage : wire::api_error::storage_error,
        "could not write the unit to disk");
    co_return;
  }
  ctx.metrics.bytes_received(unit.key.client, file.size());
  const auto digest = hasher.finish();
  if (digest != unit.stored_sha256) {
    file.discard();
    const std::string detail = "sha256 of the received " + std::to_string(file.size()) +
                               " bytes is " + to_hex(digest) + ", expected " +
                               to_hex(unit.stored_sha256);
    lg.warn("WAL unit rejected: {}; nothing kept", detail);
    co_await ex.respond_error(http::status::unprocessable_entity, wire::api_error::hash_mismatch,
                              detail);
    co_return;
  }
  unit.meta.stored_sha256 = digest;
  unit.meta.stored_size = file.size();
  unit.meta.received_at = std::chrono::system_clock::now();
  // Durable before the answer: the spool file's bytes first, then the store's renames.
  if (auto ec = file.sync()) {
    file.discard();
    lg.error("WAL unit failed: fsync: {}", ec.message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not write the unit to disk");
    co_return;
  }
  file.close();

  store_step step;
  std::function<void()> work = [&] { store_unit(ctx, *archive, unit, spooled, step); };
  co_await ctx.on_storage_thread(work);
  slot.release();
  hold.release();
  if (step.system && step.system->segment_size != unit.segment_size) {
    file.discard();
    const std::string detail = mismatch(step.system->segment_size);
    lg.warn("WAL unit refused: {}", detail);
    co_await ex.respond_error(http::status::conflict, wire::api_error::segment_size_mismatch,
                              detail);
    co_return;
  }
  const auto failure = !step.system ? step.system.error()
                       : step.put   ? std::error_code{}
                                    : step.put.error();
  if (failure) {
    file.discard();
    lg.error("WAL unit failed: store: {}", failure.message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not store the unit");
    co_return;
  }
  file.keep();  // renamed into place, or removed by the store
  const auto& put = *step.put;
  switch (put.outcome) {
    case wal_put_outcome::created:
      lg.info("WAL unit stored: {} bytes, plaintext sha256 {}", unit.meta.stored_size,
              to_hex(unit.meta.plaintext_sha256));
      co_await ex.respond_json(http::status::created, answer_body(put));
      break;
    case wal_put_outcome::identical:
      lg.info("WAL unit matched the stored {}: kept that one", put.stored.name);
      co_await ex.respond_json(http::status::ok, answer_body(put));
      break;
    case wal_put_outcome::conflict: {
      const std::string detail =
          "the archive holds " + put.stored.name + " with plaintext sha256 " +
          to_hex(put.stored.meta.plaintext_sha256) + ", not " + to_hex(unit.meta.plaintext_sha256);
      lg.error("WAL unit conflict: {}", detail);
      co_await ex.respond_error(http::status::conflict, wire::api_error::conflict, detail);
      break;
    }
  }
}

}  // namespace

void add_wal_put_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  const std::string pattern =
      std::string(wal_wire::prefix) + "{system}" + std::string(wal_wire::units_part) + "{name}";
  routes.add(http::verb::put, pattern, [ctx](exchange& ex) { return handle_put(ex, *ctx); },
             {.body_limit = std::nullopt});
}

}  // namespace pgship::receiver
