#pragma once
// Telling a mistaken pgship key from the rest of a process environment. A program's
// environment also carries the shell's, Docker's, Kubernetes' and systemd's variables and, from
// an `.env` shared with the database container and the other pgship program, their keys: those
// are ignored; a name that looks like a pgship key but is none stops start-up (config::load).

#include <cstddef>
#include <span>
#include <string_view>

namespace pgship::config {

/// Every name a pgship program reads: the agent's and the receiver's keys and the K_FILE forms
/// of their secrets. A unit test holds it equal to the two programs' schemas.
std::span<const std::string_view> pgship_key_names();

/// Leading words of pgship's own key families ("ENCRYPT_", "S3_", ...): a name carrying one is a
/// pgship key or a mistake.
std::span<const std::string_view> pgship_key_prefixes();

/// Levenshtein distance: insertions, deletions and substitutions, one edit each. (Not a swap
/// of adjacent characters as one: that would bring SSL_CERT_FILE within 2 of TLS_CERT_FILE.)
std::size_t edit_distance(std::string_view a, std::string_view b);

/// Whether `name` is close enough to the key `key` to be taken for a misspelling of it: both of
/// 6 characters or more, and at most 1 edit apart below 8 characters, 2 from 8 on.
bool is_near_miss(std::string_view name, std::string_view key);

/// The candidate with the smallest edit distance to `name` (the first of equals); "" when there
/// is no candidate.
std::string_view nearest_key(std::string_view name, std::span<const std::string_view> candidates);

/// A variable Kubernetes' service links put in every pod (`<SVC>_SERVICE_HOST`,
/// `<SVC>_PORT=tcp://...`, `<SVC>_PORT_<n>_TCP...`): never a pgship key, whatever <SVC> is.
bool is_service_link(std::string_view name, std::string_view value);

/// Whether `name`, found in the environment and not a pgship key, is a mistaken pgship key: it
/// carries one of pgship_key_prefixes(), or is_near_miss() of one of pgship_key_names().
bool looks_like_pgship_key(std::string_view name);

}  // namespace pgship::config
