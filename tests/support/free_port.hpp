#pragma once
// A TCP port on 127.0.0.1 that was free a moment ago, for servers (PostgreSQL) that cannot
// bind port 0 and report back. Our own servers bind :0 and report the port instead.

namespace pgship::test {

unsigned short free_port();

}  // namespace pgship::test
