#pragma once
// Stage 3: the upload (net/tus_upload.hpp) under the run's control: it stops when the run is
// stopped, and its bytes show in the run's live progress.

#include <chrono>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "net/tus_upload.hpp"
#include "pipeline/run_control.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// Waits `delay` unless the run is stopped meanwhile; false when it was.
boost::asio::awaitable<bool> sleep_unless_stopped(std::chrono::milliseconds delay,
                                                  run_control& control);

boost::asio::awaitable<stage_error> run_upload(http_client& client, const upload_request& request,
                                               run_control& control, upload_output& out);

}  // namespace pgship::agent
