#include "policy/retention.hpp"
#include <chrono>
#include <functional>
#include <map>
#include <vector>

#include <spdlog/spdlog.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/retention.hpp>

namespace pgship::receiver {

net::awaitable<void> apply_retention(receiver_context& ctx, const std::string& client,
                                     const std::string& database) {
  std::function<void()> work = [&] { apply_retention_now(ctx, client, database); };
  co_await ctx.on_storage_thread(work);
}

void apply_retention_now(receiver_context& ctx, const std::string& client,
                         const std::string& database) {
  const auto narrow = [](std::optional<std::int64_t> v) -> std::optional<int> {
    if (!v) return std::nullopt;
    return static_cast<int>(*v);  // settings bound these to 0..100000
  };
  const retention_policy policy{narrow(ctx.cfg.keep_days), narrow(ctx.cfg.keep_weeks),
                                narrow(ctx.cfg.keep_months)};
  if (ctx.cfg.append_only || !policy.enabled()) return;
  auto& store = *ctx.store;
  // Nothing is removed on a list that failed: it may be missing the newest backups.
  const auto records = store.list(client, database);
  if (!records) {
    spdlog::warn("retention: cannot list {}/{}: {}", client, database, records.error().message());
    return;
  }
  // Per kind: the globals never count against a database called globals (nor an archive
  // against a database of its name).
  std::map<backup_kind, std::vector<retention_item>> by_kind;
  for (const auto& r : *records)
    by_kind[kind_of(r)].push_back({r.id, r.taken});
  const auto now = std::chrono::system_clock::now();
  for (const auto& [kind, items] : by_kind) {
    for (const auto& id : select_expired(items, policy, now)) {
      if (auto ec = store.remove(client, id)) {
        spdlog::warn("retention: could not remove {}/{}: {}", client, id, ec.message());
      } else {
        spdlog::info("retention: removed {}/{}", client, id);
      }
    }
  }
}

}  // namespace pgship::receiver
