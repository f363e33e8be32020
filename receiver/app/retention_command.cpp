#include "app/retention_command.hpp"
#include <ostream>

#include <pgship/common/errors.hpp>
#include <pgship/common/time_text.hpp>

#include "app/open_storage.hpp"
#include "policy/retention.hpp"

namespace pgship::receiver {
namespace {

std::string joined(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons)
    out += (out.empty() ? "" : ", ") + r;
  return out;
}

void print_verdict(std::ostream& out, const std::string& what, const std::vector<std::string>& by) {
  if (by.empty()) {
    out << "  delete  " << what << "\n";
  } else {
    out << "  keep    " << what << "  (" << joined(by) << ")\n";
  }
}

// Segments in runs: neighbours in the listing of one timeline with the same verdict.
void print_segments(std::ostream& out, const system_retention_plan& sp) {
  std::size_t i = 0;
  while (i < sp.segments.size()) {
    std::size_t j = i + 1;
    while (j < sp.segments.size() && sp.segments[j].kept_by == sp.segments[i].kept_by &&
           sp.segments[j].name.substr(0, 8) == sp.segments[i].name.substr(0, 8)) {
      ++j;
    }
    std::string what = "WAL " + sp.segments[i].name;
    if (j - i > 1) what += ".." + sp.segments[j - 1].name;
    what += " (" + std::to_string(j - i) + (j - i == 1 ? " segment)" : " segments)");
    print_verdict(out, what, sp.segments[i].kept_by);
    i = j;
  }
}

void print_plan(std::ostream& out, const client_retention_plan& plan) {
  out << "client " << plan.client << "\n";
  for (const auto& b : plan.backups)
    print_verdict(out, b.name, b.kept_by);
  for (const auto& sp : plan.systems) {
    out << "  system " << sp.system << ": ";
    if (sp.anchor) {
      out << "WAL kept from " << wal::format_lsn(*sp.kept_from) << ", the start of " << *sp.anchor
          << "\n";
    } else {
      out << "all WAL kept: " << sp.why_all_wal_kept << "\n";
    }
    print_segments(out, sp);
    for (const auto& id : sp.marks_deleted)
      out << "  delete  mark " << id << "\n";
    for (const auto& gap : sp.gaps_deleted)
      out << "  delete  gap " << wal_gap_file_name(gap) << "\n";
  }
}

std::string rules_text(const settings& s) {
  std::string out;
  const auto add = [&](const char* key, const std::optional<std::int64_t>& v) {
    if (v) out += std::string(out.empty() ? "" : " ") + key + "=" + std::to_string(*v);
  };
  add("KEEP_DAYS", s.keep_days);
  add("KEEP_WEEKS", s.keep_weeks);
  add("KEEP_MONTHS", s.keep_months);
  add("PITR_KEEP_DAYS", s.pitr_keep_days);
  return out;
}

}  // namespace

int run_retention_command(const settings& s, const retention_request& request, std::ostream& out,
                          std::ostream& err) {
  const auto rules = retention_rules(s);
  if (!retention_enabled(rules)) {
    throw config::config_error(
        "no retention rule is set (KEEP_DAYS, KEEP_WEEKS, KEEP_MONTHS, PITR_KEEP_DAYS)");
  }
  // Planning next month is what --now is for; deleting by it would take WAL and base backups
  // that are still inside today's window.
  if (!request.dry_run && !request.force &&
      request.now > std::chrono::system_clock::now() + std::chrono::minutes(1)) {
    throw config::config_error(
        "--now in the future would delete what today's window still needs: add --dry-run to "
        "see the plan, or --force to carry it out");
  }
  const bool deleting = !request.dry_run && !s.append_only;
  if (!request.dry_run && s.append_only) {
    err << "APPEND_ONLY is on: retention deletes nothing; the plan follows\n";
  }
  auto store = open_storage(s, false);
  wal_index index;
  out << (deleting ? "retention" : "retention (dry run)") << " at " << format_utc(request.now, true)
      << ": " << rules_text(s) << "\n";
  const auto clients =
      request.client ? std::vector<std::string>{*request.client} : stored_clients(*store);
  int status = 0;
  retention_outcome total;
  for (const auto& client : clients) {
    const auto held = gather_holdings(*store, client);
    if (!held) {
      err << "cannot list " << client << ": " << held.error().message() << "\n";
      status = 1;
      continue;
    }
    const auto plan = plan_retention(*held, rules, request.now);
    print_plan(out, plan);
    if (!deleting) continue;
    const auto done = apply_plan(*store, index, plan);
    total.backups += done.backups;
    total.segments += done.segments;
    total.marks += done.marks;
    total.gaps += done.gaps;
    for (const auto& f : done.failures) {
      err << "could not remove " << client << "/" << f << "\n";
      status = 1;
    }
  }
  if (deleting) {
    out << "deleted " << total.backups << " backups, " << total.segments << " WAL segments, "
        << total.marks << " marks, " << total.gaps << " gap records\n";
  }
  return status;
}

}  // namespace pgship::receiver
