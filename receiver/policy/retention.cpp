#include "policy/retention.hpp"
#include <set>

#include <spdlog/spdlog.h>

#include <pgship/common/backup_name.hpp>

namespace pgship::receiver {
namespace {

std::optional<int> narrow(std::optional<std::int64_t> v) {
  if (!v) return std::nullopt;
  return static_cast<int>(*v);  // settings bound these to 0..100000
}

}  // namespace

retention_settings retention_rules(const settings& s) {
  return {{narrow(s.keep_days), narrow(s.keep_weeks), narrow(s.keep_months)},
          narrow(s.pitr_keep_days)};
}

bool retention_enabled(const retention_settings& rules) {
  return rules.gfs.enabled() || rules.pitr_keep_days.has_value();
}

result<client_holdings> gather_holdings(storage& store, const std::string& client) {
  client_holdings held{client, {}, {}};
  if (const auto* archive = store.wal()) {
    auto systems = archive->list_systems(client);
    if (!systems) return systems.error();
    for (const auto& system : *systems) {
      const wal_key key{client, system};
      retained_system rs{system, 0, {}, {}, {}};
      const auto meta = archive->system_meta(key);
      if (!meta) return meta.error();
      if (*meta) rs.segment_size = (*meta)->segment_size;
      auto marks = archive->list_basebackup_marks(key);
      if (!marks) return marks.error();
      rs.marks = std::move(*marks);
      auto segments = archive->list_segments(key);
      if (!segments) return segments.error();
      rs.segments = std::move(*segments);
      auto gaps = archive->list_gaps(key);
      if (!gaps && gaps.error() != std::errc::operation_not_supported) return gaps.error();
      if (gaps) rs.gaps = std::move(*gaps);
      held.systems.push_back(std::move(rs));
    }
  }
  const auto records = store.list(client, std::nullopt);
  if (!records) return records.error();
  std::set<std::string> listed;
  for (const auto& r : *records) {
    held.backups.push_back({r.id, r.database, kind_of(r), r.taken});
    listed.insert(r.id);
  }
  // A marked base backup missing from the listing must really be gone: a listing that skipped
  // one (an unreadable record) would move the window's anchor and take WAL it still needs.
  for (const auto& system : held.systems) {
    for (const auto& m : system.marks) {
      if (listed.contains(m.id)) continue;
      const auto found = store.find(client, m.id);
      if (!found) return found.error();
      if (*found) return std::make_error_code(std::errc::resource_unavailable_try_again);
    }
  }
  return held;
}

retention_outcome apply_plan(storage& store, wal_index& index, const client_retention_plan& plan) {
  retention_outcome done;
  const auto& client = plan.client;
  const auto failed = [&](const std::string& what, const std::error_code& ec) {
    spdlog::warn("retention: could not remove {}/{}: {}", client, what, ec.message());
    done.failures.push_back(what + ": " + ec.message());
  };
  auto* archive = store.wal();
  std::set<std::string> changed;
  // Marks first: the window never names a base backup that is already gone.
  for (const auto& sp : plan.systems) {
    for (const auto& id : sp.marks_deleted) {
      if (auto ec = archive->remove_basebackup_mark({client, sp.system}, id)) {
        failed(sp.system + " mark " + id, ec);
      } else {
        ++done.marks;
        changed.insert(sp.system);
      }
    }
  }
  for (const auto& b : plan.backups) {
    if (!b.deleted()) continue;
    if (auto ec = store.remove(client, b.name); ec && ec != std::errc::no_such_file_or_directory) {
      failed(b.name, ec);
    } else {
      spdlog::info("retention: removed {}/{}", client, b.name);
      ++done.backups;
    }
  }
  for (const auto& sp : plan.systems) {
    const wal_key key{client, sp.system};
    std::uint64_t segments = 0;
    for (const auto& s : sp.segments) {
      if (!s.deleted()) continue;
      if (auto ec = archive->remove_segment(key, s.name)) {
        failed(sp.system + " WAL " + s.name, ec);
      } else {
        ++segments;
      }
    }
    for (const auto& gap : sp.gaps_deleted) {
      if (auto ec = archive->remove_gap(key, gap)) {
        failed(sp.system + " gap " + wal_gap_file_name(gap), ec);
      } else {
        ++done.gaps;
      }
    }
    if (segments > 0) {
      spdlog::info("retention: removed {} WAL segments of {}/{} before {}", segments, client,
                   sp.system, sp.kept_from ? wal::format_lsn(*sp.kept_from) : "-");
    }
    done.segments += segments;
    if (segments > 0 || !sp.gaps_deleted.empty()) changed.insert(sp.system);
  }
  for (const auto& system : changed) {
    if (auto ec = index.reload(*archive, {client, system})) failed(system + " index", ec);
  }
  return done;
}

void apply_retention_now(receiver_context& ctx, const std::string& client,
                         std::chrono::system_clock::time_point now) {
  const auto rules = retention_rules(ctx.cfg);
  if (ctx.cfg.append_only || !retention_enabled(rules)) return;
  // Nothing is removed on a listing that failed: it may be missing the newest backups.
  const auto held = gather_holdings(*ctx.store, client);
  if (!held) {
    spdlog::warn("retention: cannot list {}: {}", client, held.error().message());
    return;
  }
  apply_plan(*ctx.store, ctx.wal_ranges, plan_retention(*held, rules, now));
}

net::awaitable<void> apply_retention(receiver_context& ctx, const std::string& client) {
  std::function<void()> work = [&] {
    apply_retention_now(ctx, client, std::chrono::system_clock::now());
  };
  co_await ctx.on_storage_thread(work);
}

void reread_wal_index(receiver_context& ctx) {
  if (auto* archive = ctx.store->wal()) {
    archive->recount();
    if (auto ec = ctx.wal_ranges.reload_all(*archive)) {
      spdlog::warn("cannot re-read the WAL archive: {}", ec.message());
    }
  }
}

std::vector<std::string> stored_clients(storage& store) {
  std::set<std::string> clients;
  for (const auto& [client, usage] : store.usage())
    clients.insert(client);
  if (const auto* archive = store.wal()) {
    for (const auto& [client, bytes] : archive->usage())
      clients.insert(client);
  }
  return {clients.begin(), clients.end()};
}

}  // namespace pgship::receiver
