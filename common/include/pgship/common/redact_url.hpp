#pragma once
// Credentials inside URLs (scheme://user:password@host) never reach a printout, a log line, an
// error message or a file the agent writes: every place that shows a configured URL passes it
// through redact_url() first.

#include <string>
#include <string_view>

namespace pgship {

/// `value`, one URL, with its password replaced by <redacted>
/// (`http://user:secret@host:9101` -> `http://user:<redacted>@host:9101`); a userinfo without a
/// password is redacted whole (`https://TOKEN@host`, a token in the user's place). The
/// userinfo is everything between `://` and the last '@' before any '?' or '#', so a password
/// holding characters a URL may not (a space, '"', '/', '<': an invalid URL, which is exactly
/// when it ends up in an error message) is hidden whole; a '@' in the path makes it redact
/// more than the userinfo, never less. Idempotent; a value without a userinfo comes back as it
/// is.
std::string redact_url(std::string_view value);
}  // namespace pgship
