#include "api/wal/wal_read_routes.hpp"
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <pgship/common/log.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "api/send_stored.hpp"
#include "api/wal/segment_chain.hpp"
#include "policy/wal_access.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;
namespace wal_wire = wire::wal;

net::awaitable<void> storage_failed(exchange& ex, const wal_key& key, const std::error_code& ec) {
  log::write(spdlog::level::err, "WAL read failed: " + ec.message(),
             {{"client", key.client}, {"system", key.system}});
  co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                            "could not read the physical archive");
}

net::awaitable<void> handle_unit(exchange& ex, receiver_context& ctx) {
  wal_key key;
  wal_store* archive = co_await open_wal_archive(ex, ctx, scope::read, key);
  if (!archive) co_return;
  const auto name = parse_wal_file_name(ex.params().get("name"));
  if (!name) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_wal_name,
                              "not a unit's or history file's name");
    co_return;
  }
  result<std::optional<wal_stored_file>> found = std::nullopt;
  std::function<void()> look = [&] { found = archive->find(key, *name); };
  co_await ctx.on_storage_thread(look);
  if (!found) {
    co_await storage_failed(ex, key, found.error());
    co_return;
  }
  if (!*found) {
    const std::string detail = "no WAL file " + name->file + " of system " + key.system;
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, detail);
    co_return;
  }
  const auto& file = **found;
  stored_object object;
  object.what = "WAL file";
  object.file_name = file.name;
  object.sha256 = to_hex(file.meta.stored_sha256);
  object.size = file.meta.stored_size;
  object.open = [archive, &key, &name](std::uint64_t first, std::uint64_t length) {
    return archive->open_range(key, *name, first, length);
  };
  object.extra_headers.emplace_back(wal_wire::header::plaintext_sha256,
                                    to_hex(file.meta.plaintext_sha256));
  object.log_client = key.client;
  co_await send_stored(ex, ctx, object);
}

// The body of a segment's list, or the refusal (status, error, detail).
struct list_answer {
  std::optional<wal_wire::segment_list> list;
  std::vector<wal_unit_meta> metas;  // of list->units, in their order
  http::status status = http::status::ok;
  wire::api_error error = wire::api_error::not_found;
  std::string detail;
  std::error_code failed;  // the store failed
};

void list_segment(receiver_context& ctx, const wal_store& archive, const wal_key& key,
                  const std::string& file, list_answer& out) {
  const auto not_found = [&] {
    out.status = http::status::not_found;
    out.detail = "no WAL of " + file + " is stored for system " + key.system;
  };
  const auto meta = archive.system_meta(key);
  if (!meta) {
    out.failed = meta.error();
    return;
  }
  if (!*meta) return not_found();
  const auto segment_size = (*meta)->segment_size;
  if (const auto timeline = wal::parse_history_name(file)) {
    const auto stored = archive.list_dir(key, wal_history_dir);
    if (!stored) {
      out.failed = stored.error();
      return;
    }
    for (const auto& f : *stored) {
      const auto parsed = wal::parse_history_file(f.name);
      if (parsed && parsed->timeline == *timeline) {
        out.list = {segment_size, wal_wire::list_state::history, {{f.name, 0}}};
        out.metas = {f.meta};
        return;
      }
    }
    return not_found();
  }
  const auto segment = wal::parse_segment_name(file, segment_size);
  if (!segment) return not_found();
  const auto stored = archive.list_dir(key, file);
  if (!stored) {
    out.failed = stored.error();
    return;
  }
  std::vector<chain_unit> units;
  for (const auto& f : *stored) {
    if (const auto unit = wal::parse_unit_name(f.name)) {
      units.push_back({f.name, unit->start, unit->end});
    }
  }
  const auto segment_end = segment->start(segment_size) + segment_size;
  if (units.empty()) {
    // A segment the server lost before it was streamed: recovery must stop here loudly (409),
    // not end as at the archive's end (404) and go on without the WAL after the gap.
    const auto gaps = archive.list_gaps(key);
    if (!gaps) {
      out.failed = gaps.error();
      return;
    }
    for (const auto& gap : *gaps) {
      if (gap.timeline >= segment->timeline && gap.from < segment_end &&
          gap.to > segment->start(segment_size)) {
        out.status = http::status::conflict;
        out.error = wire::api_error::wal_gap;
        out.detail = file + " lies in a recorded gap [" + wal::format_lsn(gap.from) + ", " +
                     wal::format_lsn(gap.to) + ") (" + gap.reason + ")";
        return;
      }
    }
    return not_found();
  }
  const auto beyond = ctx.wal_ranges.holds_from(archive, key, segment->timeline, segment_end);
  if (!beyond) {
    out.failed = beyond.error();
    return;
  }
  const auto chain = choose_chain(std::move(units), segment_size, *beyond);
  if (chain.verdict == chain_verdict::gap) {
    out.status = http::status::conflict;
    out.error = wire::api_error::wal_gap;
    out.detail = chain.units.empty()
                     ? "the units of " + file + " do not start at its offset 0"
                     : "the units of " + file + " stop at offset " + std::to_string(chain.end) +
                           " while later WAL of timeline " + std::to_string(segment->timeline) +
                           " is stored";
    return;
  }
  wal_wire::segment_list list;
  list.segment_size = segment_size;
  list.state = chain.verdict == chain_verdict::complete ? wal_wire::list_state::complete
                                                        : wal_wire::list_state::partial;
  std::map<std::string, const wal_unit_meta*> meta_of;
  for (const auto& f : *stored)
    meta_of[f.name] = &f.meta;
  for (const auto& u : chain.units) {
    list.units.push_back({u.file, u.start});
    out.metas.push_back(*meta_of.at(u.file));
  }
  out.list = std::move(list);
}

// A request's segment (or history file) of the token's system, listed.
struct listed_file {
  wal_key key;
  wal_store* archive = nullptr;
  list_answer answer;
};

// The list of the route's {file}; nullopt once a refusal (or a failure) was sent.
net::awaitable<std::optional<listed_file>> answer_list(exchange& ex, receiver_context& ctx) {
  listed_file out;
  out.archive = co_await open_wal_archive(ex, ctx, scope::read, out.key);
  if (!out.archive) co_return std::nullopt;
  const auto& key = out.key;
  const std::string file(ex.params().get("file"));
  if (!wal::is_segment_name(file) && !wal::parse_history_name(file)) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_wal_name,
                              "a segment's name is 24 hex digits; a history file's "
                              "<timeline>.history");
    co_return std::nullopt;
  }
  auto& answer = out.answer;
  std::function<void()> work = [&] { list_segment(ctx, *out.archive, key, file, answer); };
  co_await ctx.on_storage_thread(work);
  if (answer.failed) {
    co_await storage_failed(ex, key, answer.failed);
    co_return std::nullopt;
  }
  if (!answer.list) {
    if (answer.error == wire::api_error::wal_gap) {
      log::write(spdlog::level::warn, "WAL segment asked for has a gap: " + answer.detail,
                 {{"client", key.client}, {"system", key.system}});
    }
    co_await ex.respond_error(answer.status, answer.error, answer.detail);
    co_return std::nullopt;
  }
  co_return out;
}

net::awaitable<void> handle_segment(exchange& ex, receiver_context& ctx) {
  const auto listed = co_await answer_list(ex, ctx);
  if (!listed) co_return;
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = wal_wire::encode_list(*listed->answer.list);
  co_await ex.respond(std::move(res));
}

constexpr std::size_t bundle_chunk = 256 * 1024;

net::awaitable<void> handle_bundle(exchange& ex, receiver_context& ctx) {
  const auto listed = co_await answer_list(ex, ctx);
  if (!listed) co_return;
  const auto* answer = &listed->answer;
  const auto& key = listed->key;
  auto* archive = listed->archive;
  wal_wire::bundle_head head{answer->list->segment_size, answer->list->state, {}};
  std::uint64_t length = 0;
  for (std::size_t i = 0; i < answer->metas.size(); ++i) {
    const auto& meta = answer->metas[i];
    head.units.push_back({answer->list->units[i].unit, answer->list->units[i].start,
                          meta.stored_size, meta.stored_sha256, meta.plaintext_sha256});
    length += meta.stored_size;
  }
  const auto text = wal_wire::encode_bundle_head(head);
  http_server::header_response res{http::status::ok, 11};
  res.set(http::field::content_type, "application/octet-stream");
  res.set(http::field::cache_control, "no-store");
  res.content_length(text.size() + length);
  if (co_await ex.respond_header(std::move(res))) co_return;
  if (co_await ex.write_body(net::buffer(text))) co_return;
  std::vector<char> block(bundle_chunk);
  for (const auto& unit : head.units) {
    const auto name = parse_wal_file_name(unit.unit);
    std::unique_ptr<object_reader> reader;
    std::error_code ec;
    std::function<void()> open = [&] {
      auto opened = archive->open_range(key, *name, 0, unit.stored_size);
      if (opened) {
        reader = std::move(*opened);
      } else {
        ec = opened.error();
      }
    };
    co_await ctx.on_storage_thread(open);
    std::size_t got = 0;
    std::function<void()> read_block = [&] { ec = reader->read(block, got); };
    for (std::uint64_t left = unit.stored_size; left > 0 && !ec; left -= got) {
      co_await ctx.on_storage_thread(read_block);
      if (!ec && (got == 0 || got > left)) ec = std::make_error_code(std::errc::io_error);
      if (!ec && co_await ex.write_body(net::buffer(block.data(), got))) co_return;
    }
    if (ec) {
      // The header promised these bytes: the connection closes short of them.
      throw std::runtime_error("WAL unit " + unit.unit +
                               " could not be read for its bundle: " + ec.message());
    }
  }
}

net::awaitable<void> handle_state(exchange& ex, receiver_context& ctx) {
  wal_key key;
  wal_store* archive = co_await open_wal_archive(ex, ctx, scope::read, key);
  if (!archive) co_return;
  result<std::optional<wal_wire::archive_state>> state = std::nullopt;
  std::function<void()> work = [&] { state = ctx.wal_ranges.state(*archive, key); };
  co_await ctx.on_storage_thread(work);
  if (!state) {
    co_await storage_failed(ex, key, state.error());
    co_return;
  }
  if (!*state) {
    const std::string detail = "no physical archive of system " + key.system;
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, detail);
    co_return;
  }
  co_await ex.respond_json(http::status::ok, wal_wire::encode_state(**state));
}

}  // namespace

void add_wal_read_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  const std::string system = std::string(wal_wire::prefix) + "{system}";
  const std::string unit = system + std::string(wal_wire::units_part) + "{name}";
  const std::string segment = system + std::string(wal_wire::segments_part) + "{file}";
  routes.add(http::verb::get, unit, [ctx](exchange& ex) { return handle_unit(ex, *ctx); });
  routes.add(http::verb::head, unit, [ctx](exchange& ex) { return handle_unit(ex, *ctx); });
  const std::string bundle = system + std::string(wal_wire::bundles_part) + "{file}";
  routes.add(http::verb::get, segment, [ctx](exchange& ex) { return handle_segment(ex, *ctx); });
  routes.add(http::verb::get, bundle, [ctx](exchange& ex) { return handle_bundle(ex, *ctx); });
  routes.add(http::verb::get, system, [ctx](exchange& ex) { return handle_state(ex, *ctx); });
}

}  // namespace pgship::receiver
