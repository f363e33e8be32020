#pragma once
// What pgship tells the outside world happened: one event, schema `pgship.event.v1`, the same
// for both programs (agent: backup, drill, basebackup and WAL outcomes; receiver: scrub
// findings, low storage, WAL gaps). Webhooks carry it as JSON, or rendered for Slack, ntfy or
// Alertmanager (webhook_format.hpp); the README documents every field with an example.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace pgship::events {

inline constexpr std::string_view schema_v1 = "pgship.event.v1";

struct event {
  std::string id;      // unique (time and random), so a consumer can drop a redelivery
  std::string name;    // backup.failed, scrub.finding, ...
  std::string source;  // agent or receiver
  std::chrono::system_clock::time_point time;
  std::string host;
  std::string version;
  std::string client;    // the receiver's client the event is about (receiver events)
  std::string database;  // empty when the event is about no one database
  std::string run_id;
  std::string result;      // ok, failed, or the condition (low, gap, finding, lagging, clear)
  std::string error_code;  // stable name (errors.hpp catalogue) when failed
  int exit_code = 0;
  std::string message;  // the error, the finding, what is low
  std::string backup;   // the backup it is about
  std::optional<std::uint64_t> size_bytes;
  std::optional<double> duration_seconds;
  std::string recovered_to;     // a PITR drill's recovered-to time
  boost::json::object details;  // per event: rows, mismatches, free_bytes, lag_seconds, ...
};

/// Every event either program emits; WEBHOOK_EVENTS may name these, `*`, `<kind>.*` or
/// `*.<outcome>`.
std::span<const std::string_view> known_event_names();

/// An event with a fresh id, `time` now, this host and version; the caller fills the rest.
event make_event(std::string name, std::string source);

/// Whether `name` matches one of `patterns` (exact, `*`, `backup.*`, `*.failed`).
bool listed(std::span<const std::string> patterns, std::string_view name);

/// The patterns of WEBHOOK_EVENTS that match no known event (typos), for a start-up refusal.
std::vector<std::string> unknown_patterns(std::span<const std::string> patterns);

/// The event as JSON (schema pgship.event.v1); fields without a value are left out.
boost::json::object to_json(const event& e);
std::string to_json_text(const event& e);
/// Read back (the undelivered spool); nullopt when it is not a v1 event.
std::optional<event> from_json(std::string_view text);

}  // namespace pgship::events
