#!/usr/bin/env python3
"""check_layering.py over small scratch trees: each rule fails on a breach, with its message."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check_layering.py")
sys.path.insert(0, HERE)
import check_layering  # noqa: E402


def tree(files):
    """A scratch source root holding `files` ({path: text}); the caller removes it."""
    root = tempfile.mkdtemp(prefix="layering-")
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)
    return root


def run(root):
    r = subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True)
    return r.returncode, r.stderr


# A tree that keeps every rule: pipeline on net on the base; s3 on the storage interface, the
# context on storage, a route on the context.
CLEAN = {
    "agent/settings.hpp": "#pragma once\n",
    "agent/net/http_client.hpp": '#pragma once\n#include "settings.hpp"\n',
    "agent/pipeline/upload.hpp": '#pragma once\n#include "net/http_client.hpp"\n',
    "agent/pipeline/upload.cpp": '#include "upload.hpp"\n#include <pgship/common/log.hpp>\n',
    "receiver/storage/storage.hpp": "#pragma once\n",
    "receiver/storage/s3/s3_storage.hpp": '#pragma once\n#include "storage/storage.hpp"\n',
    "receiver/state/context.hpp": '#pragma once\n#include "storage/storage.hpp"\n',
    "receiver/api/read_routes.cpp": '#include "state/context.hpp"\n',
    "common/include/pgship/common/log.hpp": "#pragma once\n#include <string>\n",
}


class CheckLayering(unittest.TestCase):
    def check(self, extra):
        files = dict(CLEAN)
        files.update(extra)
        root = tree(files)
        try:
            return run(root)
        finally:
            subprocess.run(["rm", "-rf", root], check=True)

    def test_a_tree_that_keeps_the_rules_passes(self):
        self.assertEqual(self.check({}), (0, ""))

    def test_an_upward_include_in_the_agent_fails_with_file_line_and_rooms(self):
        upward = '#include "http_client.hpp"\n#include "pipeline/upload.hpp"\n'
        code, err = self.check({"agent/net/http_client.cpp": upward})
        self.assertEqual(code, 1)
        self.assertIn('agent/net/http_client.cpp:2: agent net -> pipeline: "pipeline/upload.hpp" '
                      "(pipeline is a higher layer;", err)

    def test_a_storage_backend_including_the_context_fails(self):
        code, err = self.check({"receiver/storage/s3/bucket.cpp": '#include "state/context.hpp"\n'})
        self.assertEqual(code, 1)
        self.assertIn('receiver/storage/s3/bucket.cpp:1: receiver storage -> state: '
                      '"state/context.hpp"', err)

    def test_the_context_including_a_policy_fails(self):
        code, err = self.check({"receiver/state/context.cpp": '#include "policy/access.hpp"\n',
                                "receiver/policy/access.hpp": '#pragma once\n'})
        self.assertEqual(code, 1)
        self.assertIn('receiver/state/context.cpp:1: receiver state -> policy', err)

    def test_an_upload_route_including_a_read_route_fails(self):
        code, err = self.check({"receiver/ingest/u.cpp": '#include "api/read_routes.hpp"\n',
                                "receiver/api/read_routes.hpp": '#pragma once\n'})
        self.assertEqual(code, 1)
        self.assertIn('receiver/ingest/u.cpp:1: receiver ingest -> api', err)

    def test_the_programs_never_include_each_other(self):
        code, err = self.check({
            "agent/net/x.cpp": '#include "../../receiver/storage/storage.hpp"\n',
            "receiver/app/y.cpp": '#include "agent/settings.hpp"\n',
        })
        self.assertEqual(code, 1)
        self.assertIn('agent/net/x.cpp:1: agent -> receiver: "../../receiver/storage/storage.hpp" '
                      "(agent/ and receiver/ never include each other)", err)
        self.assertIn('receiver/app/y.cpp:1: receiver -> agent: "agent/settings.hpp"', err)

    def test_common_includes_neither_program(self):
        code, err = self.check({
            "common/src/log.cpp": '#include "../../agent/settings.hpp"\n',
            "common/src/other.cpp": "#include <pgship/receiver/storage.hpp>\n",
        })
        self.assertEqual(code, 1)
        self.assertIn('common/src/log.cpp:1: common -> agent: "../../agent/settings.hpp" '
                      "(common/ includes nothing of agent/ or receiver/)", err)
        self.assertIn("common/src/other.cpp:1: common -> receiver: <pgship/receiver/storage.hpp>",
                      err)

    def test_a_folder_in_no_room_is_refused(self):
        code, err = self.check({"agent/newroom/thing.cpp": "\n"})
        self.assertEqual(code, 2)
        self.assertIn("agent/newroom/thing.cpp: in no room", err)

    def test_peers_in_one_layer_may_not_include_each_other(self):
        saved = (dict(check_layering.ROOMS["receiver"]), list(check_layering.LAYERS["receiver"]))
        check_layering.ROOMS["receiver"] = {"storage": ["storage.hpp"], "api": ["api/"],
                                            "ingest": ["ingest/"], "app": ["*"]}
        check_layering.LAYERS["receiver"] = [["storage"], ["api", "ingest"], ["app"]]
        root = tree({"receiver/storage.hpp": "\n", "receiver/serve.cpp": '#include "api/a.hpp"\n',
                     "receiver/api/a.hpp": '#include "ingest/b.hpp"\n',
                     "receiver/ingest/b.hpp": '#include "storage.hpp"\n'})
        try:
            problems, unroomed = check_layering.check(root)
        finally:
            check_layering.ROOMS["receiver"], check_layering.LAYERS["receiver"] = saved
            subprocess.run(["rm", "-rf", root], check=True)
        self.assertEqual(unroomed, [])
        self.assertEqual(len(problems), 1, problems)
        self.assertIn('receiver/api/a.hpp:1: receiver api -> ingest: "ingest/b.hpp" '
                      "(ingest is a peer;", problems[0])


if __name__ == "__main__":
    unittest.main()
