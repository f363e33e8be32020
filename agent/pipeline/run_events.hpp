#pragma once
// A finished run as the events webhooks carry (schema pgship.event.v1): one per database,
// backup/drill/basebackup .succeeded or .failed; a run refused before any database is one
// event without a database. Cancelled and skipped runs say nothing about the backups, and
// send nothing.

#include <vector>

#include <pgship/common/events/event.hpp>

#include "pipeline/run_record.hpp"

namespace pgship::agent {

std::vector<events::event> events_of(const run_record& run);

}  // namespace pgship::agent
