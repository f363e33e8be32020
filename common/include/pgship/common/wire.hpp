#pragma once
// The receiver's HTTP API as both programs spell it (DESIGN.md "Receiver HTTP API"): one
// spelling for the agent and the receiver, so a rename fails to compile instead of silently
// changing what the other side sees. The parts: paths and limits, header names, the error
// catalogue, tus, the backup record, whoami.

#include <pgship/common/wire/errors.hpp>
#include <pgship/common/wire/headers.hpp>
#include <pgship/common/wire/paths.hpp>
