#pragma once
// Credentials inside URLs (scheme://user:password@host) never reach a printout, a log line, an
// error message or a file the agent writes: every place that shows a configured URL passes it,
// or the text around it, through redact_url() first.

#include <string>
#include <string_view>

namespace pgship {

/// `text` with the password of every URL in it replaced by <redacted>
/// (`http://user:secret@host:9101` -> `http://user:<redacted>@host:9101`); a userinfo without a
/// password is redacted whole (`https://TOKEN@host`, a token in the user's place). Idempotent;
/// text without a URL comes back unchanged.
std::string redact_url(std::string_view text);

}  // namespace pgship
