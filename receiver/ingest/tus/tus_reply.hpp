#pragma once
// What every tus route answers with and checks first: the Tus-Resumable header on each answer,
// the caller's token and protocol version, tus headers given once, and the upload in the path.
// Shared by the routes (tus_routes.cpp) and the PATCH's two jobs (tus_patch_admission.hpp,
// tus_patch_body.hpp).

#include <optional>
#include <string_view>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/wire/errors.hpp>
#include <pgship/common/wire/tus.hpp>

#include "ingest/tus/tus_store.hpp"
#include "state/context.hpp"
#include "state/tokens.hpp"

namespace pgship::receiver {

// The tus spellings (common/wire), as the tus routes name them.
namespace tus = wire::tus;
namespace tus_header = wire::tus::header;

/// What the tus routes work with: the uploads' state and the context every route shares.
struct tus_service : tus_uploads {
  explicit tus_service(std::shared_ptr<receiver_context> shared)
      : tus_uploads(shared->incoming.dir(), shared->cfg.upload_expiry, shared->quota,
                    *shared->store),
        ctx(std::move(shared)) {}
  std::shared_ptr<receiver_context> ctx;
};

/// An answer with Tus-Resumable set.
http_server::string_response tus_response(http::status status);

/// A JSON error answer with Tus-Resumable set.
http_server::string_response tus_error(http::status status, wire::api_error error,
                                       std::string_view detail);

/// A token with the upload scope, and the protocol version (every tus request but OPTIONS);
/// nothing when the refusal has been answered.
net::awaitable<std::optional<principal>> authorize_tus(http_server::exchange& ex, tus_service& st);

/// Answers 400 when Upload-Length, Upload-Defer-Length or Upload-Offset is given twice.
net::awaitable<bool> refuse_repeated_fields(http_server::exchange& ex);

/// The upload named in the path, if it exists and belongs to the caller; else answered 404.
net::awaitable<std::optional<upload_info>> find_upload(http_server::exchange& ex, tus_service& st,
                                                       const principal& who);

}  // namespace pgship::receiver
