#include "pipeline/ship.hpp"

#include "pipeline/backup_prep.hpp"
#include "pipeline/manifest_upload.hpp"
#include "pipeline/upload.hpp"
#include "repository/local_listing.hpp"
#include "repository/upload_marks.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;

// Uploads one local backup and records the outcome in its manifest.
net::awaitable<stage_error> ship(backup_context& ctx, manifest& m, upload_output& out) {
  auto ur = upload_request_for(ctx.cfg, m, ctx.cfg.backup_dir / m.name, ctx.log);
  // An upload left unfinished on this same receiver by an earlier run goes on from there.
  if (m.upload.receiver == ctx.receiver) ur.resume_at = m.upload.resume_at;
  // The upload that followed this backup's dump needs only its last piece; if that fails,
  // the regular upload (with its retries) sends the backup again.
  bool streamed = false;
  // Progress: what the receiver took while the dump ran, then the bytes sent, of its size.
  ctx.control.progress.total = m.size;
  ctx.control.progress.bytes = 0;
  if (ctx.follower && m.name == ctx.run.backup) {
    ctx.control.progress.bytes = ctx.follower->offset();
    streamed = co_await ctx.follower->finish(ur.file, m.size, m.sha256, out);
    ctx.follower.reset();
    if (streamed) ctx.log.info("uploaded while dumping; committed after verify");
    if (!streamed && !out.location.empty()) ur.resume_at = out.location;
  }
  stage_error error;
  if (!streamed) error = co_await run_upload(*ctx.client, ur, ctx.control, out);
  upload_attempt attempt;
  attempt.receiver = ctx.receiver;
  attempt.bytes_sent = out.bytes_sent;
  attempt.retries = out.retries;
  attempt.resumes = out.resumes;
  attempt.resume_at = out.location;
  const auto& dir = ctx.cfg.backup_dir;
  const auto ec =
      error ? mark_failed(dir, m, error.message, &attempt) : mark_shipped(dir, m, attempt);
  if (ec && !error) {
    // The backup is on the receiver; only the local record of that is missing. Rotation
    // will treat it as not uploaded, which errs on the safe side.
    ctx.log.warn("cannot record the upload of {} in its manifest: {}", m.name, ec.message());
  }
  // The manifest goes up beside the backup, for restores and drills on any host; the backup
  // stands without it.
  if (!error) {
    if (const auto manifest_error =
            co_await ship_manifest(*ctx.client, ctx.cfg.backup_api_token, m)) {
      ctx.log.warn("the manifest of {} is not on the receiver: {}", m.name, manifest_error.message);
    }
  }
  co_return error;
}

}  // namespace

net::awaitable<stage_error> upload_stage(backup_context& ctx, manifest& m) {
  auto clock = ctx.start_stage("upload");
  if (ctx.upload_blocked) {
    // The backup stands locally, unshipped and so never rotated away; the next run that
    // reaches the receiver ships it. The run still fails, so alerts fire.
    clock.done(0, false);
    if (const auto ec = mark_failed(ctx.cfg.backup_dir, m, ctx.upload_blocked.message, nullptr)) {
      ctx.log.warn("cannot record the failed upload of {} in its manifest: {}", m.name,
                   ec.message());
    }
    ctx.log.warn("{} is kept locally and not uploaded: {}; a later run ships it", m.name,
                 ctx.upload_blocked.message);
    co_return ctx.upload_blocked;
  }
  auto& run = ctx.run;
  auto error = co_await ship(ctx, m, run.upload);
  clock.done(run.upload.bytes_sent, !error);
  if (!error) {
    run.uploaded = true;
    ctx.log.info("uploaded to {}: {} bytes sent, {} retries, {} resumes{}",
                 ctx.client->endpoint().origin(), run.upload.bytes_sent, run.upload.retries,
                 run.upload.resumes, run.upload.already_stored ? " (already stored)" : "");
  }
  co_return error;
}

// Backups of this database whose upload failed in earlier runs (receiver down, token
// rejected) go now that the receiver takes uploads again, oldest first; the first failure
// ends the catch-up until the next run.
net::awaitable<void> ship_earlier(backup_context& ctx, const std::string& current) {
  auto waiting = pending_uploads(ctx.cfg.backup_dir, ctx.run.database, ctx.kind());
  for (auto& m : waiting) {
    if (m.name == current || ctx.control.stopping()) continue;
    upload_output out;
    const auto error = co_await ship(ctx, m, out);
    if (error) {
      ctx.log.warn("earlier backup {} is still not uploaded: {}", m.name, error.message);
      co_return;
    }
    ctx.run.shipped_late.push_back(m.name);
    ctx.log.info("uploaded earlier backup {} ({} bytes sent)", m.name, out.bytes_sent);
  }
}

}  // namespace pgship::agent
