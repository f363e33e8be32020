"""Runs one Swift server (or builds the rings) from a config directory of our own.

Swift reads /etc/swift/swift.conf and logs to syslog; a test instance has neither, so this
points Swift at DIR/swift.conf, drops syslog for stderr, and maps tempauth's colon-free
`s3_access_key` onto the one user (tempauth knows S3 keys only as ACCOUNT:USER).

  swift_server.py rings DIR ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT
  swift_server.py NAME-server DIR RUN_AS_USER
"""
import logging
import os
import sys

from swift.common import utils

etc = sys.argv[2]
utils.SWIFT_CONF_FILE = os.path.join(etc, "swift.conf")


class _Discard(logging.Handler):
    def emit(self, record):
        pass


utils.ThreadSafeSysLogHandler = lambda *args, **kwargs: _Discard()

from swift.common import storage_policy  # noqa: E402

storage_policy.reload_storage_policies()

if sys.argv[1] == "rings":
    from swift.common.ring import RingBuilder

    for name, port in zip(("account", "container", "object"), sys.argv[3:6]):
        builder = RingBuilder(4, 1, 1)  # 16 partitions, one replica, one hour
        builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                         "port": int(port), "device": "d1", "weight": 1.0, "meta": ""})
        builder.rebalance()
        builder.get_ring().save(os.path.join(etc, name + ".ring.gz"))
    sys.exit(0)

from swift.common.middleware import tempauth  # noqa: E402

_init = tempauth.TempAuth.__init__


def _with_access_key(self, app, conf):
    _init(self, app, conf)
    key = conf.get("s3_access_key")
    if key:
        (only,) = [u for u in self.users if ":" in u]
        self.users[key] = self.users[only]


tempauth.TempAuth.__init__ = _with_access_key

from swift.common.wsgi import run_wsgi  # noqa: E402

server = sys.argv[1]
if os.geteuid() == 0:
    utils.drop_privileges(sys.argv[3])  # with workers = 0 Swift never drops root itself
sys.exit(run_wsgi(os.path.join(etc, server + ".conf"), server, verbose=True))
