#!/usr/bin/env python3
"""Checks that #includes in agent/, receiver/ and common/ go only downward.

  check_layering.py SOURCE_ROOT

Rules:
  - common/ includes nothing of agent/ or receiver/;
  - agent/ and receiver/ never include each other;
  - inside each program, the rooms in LAYERS form layers, lowest first: a file may include its
    own room and rooms of lower layers, not a room of its own layer (peers stay independent)
    and not a higher one.

An include is `#include "..."`, found beside the including file first, then from the program's
source root (its include directory), or `#include <pgship/common/...>`. Exit status 0 when
every include keeps to the rules, 1 with one line per violation (file:line: from-room ->
to-room) otherwise, 2 on a usage error or a file that is in no room.
"""

import os
import re
import sys

# Rooms of each program, by path relative to the program's folder: "dir/" is everything under
# that folder, "*" the files directly in the program's folder, anything else one file. The most
# specific pattern wins (a file name over a folder, a longer folder over a shorter one, over "*").
# A new room is one line here and its name in LAYERS.
ROOMS = {
    "agent": {
        "schedule": ["schedule/"],
        "base": ["*"],  # settings, child processes, the PostgreSQL connection and tools
        "repository": ["repository/"],  # BACKUP_DIR: manifests, commit, upload marks, rotation
        "net": ["net/"],
        "wal": ["wal/"],  # the WAL stream: replication client, sealed units, the ship queue
        "pipeline": ["pipeline/"],
        "drill": ["drill/"],
        "daemon": ["daemon/"],
        "commands": ["commands/"],
        "main": ["main.cpp"],
    },
    "receiver": {
        # The storage interface, the usage ledger, the spool and the backends: posix/, s3/,
        # memory/ (for tests) and fault/ (a wrapper that fails on demand, for tests).
        "storage": ["storage/", "storage/posix/", "storage/s3/", "storage/memory/",
                    "storage/fault/"],
        "state": ["state/"],  # what every route shares: settings, tokens, ledgers, metrics
        "policy": ["policy/"],  # access, admission, retention, scrub, storage state
        "ingest": ["ingest/"],  # uploads: raw/multipart, tus, manifests, the commit
        "api": ["api/"],  # reads, status, whoami, scrub trigger
        "app": ["app/"],  # wiring, background loops, SIGHUP reload, healthcheck
        "main": ["main.cpp"],
    },
}

# Lowest layer first. A layer is a list of peer rooms: peers may not include each other.
LAYERS = {
    "agent": [["schedule"], ["base"], ["repository"], ["net"], ["wal"], ["pipeline"], ["drill"], ["daemon"],
              ["commands"], ["main"]],
    "receiver": [["storage"], ["state"], ["policy"], ["ingest", "api"], ["app"], ["main"]],
}

PROGRAMS = ("agent", "receiver")
SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".ipp")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def room_of(program, rel):
    best, best_score = None, -1
    for room, patterns in ROOMS[program].items():
        for pattern in patterns:
            if pattern == "*":
                score = 0 if "/" not in rel else -1
            elif pattern.endswith("/"):
                score = len(pattern) if rel.startswith(pattern) else -1
            else:
                score = 10000 if rel == pattern else -1
            if score > best_score:
                best, best_score = room, score
    return best


def level_of(program):
    return {room: i for i, layer in enumerate(LAYERS[program]) for room in layer}


def source_files(folder):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                yield os.path.join(dirpath, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1), m.group(2)


def top_folder(root, path):
    """'agent', 'receiver', 'common' or None for a path under `root`."""
    rel = os.path.relpath(path, root)
    first = rel.split(os.sep)[0]
    return first if first in PROGRAMS + ("common",) and not rel.startswith("..") else None


def resolve(root, program_dir, including, target):
    """The file a quoted include names, or None when it is not in the tree."""
    for base in (os.path.dirname(including), program_dir):
        candidate = os.path.normpath(os.path.join(base, target))
        if os.path.isfile(candidate):
            return candidate
    return None


def check(root):
    root = os.path.abspath(root)
    problems, unroomed = [], []
    for folder in PROGRAMS + ("common",):
        folder_dir = os.path.join(root, folder)
        if not os.path.isdir(folder_dir):
            continue
        others = [p for p in PROGRAMS if p != folder]
        for path in source_files(folder_dir):
            shown = os.path.relpath(path, root)
            rel = os.path.relpath(path, folder_dir)
            room = room_of(folder, rel) if folder in PROGRAMS else "common"
            if room is None:
                unroomed.append(shown)
                continue
            for number, kind, target in includes(path):
                where = f"{shown}:{number}"
                if kind == "<":
                    # Only the installed-header spelling of another program counts here.
                    first = target.split("/")[0]
                    second = target.split("/")[1] if "/" in target else ""
                    if first == "pgship" and second in PROGRAMS and second != folder:
                        problems.append(f"{where}: {folder} -> {second}: <{target}>")
                    continue
                resolved = resolve(root, folder_dir, path, target)
                goes_to = top_folder(root, resolved) if resolved else target.split("/")[0]
                if goes_to in PROGRAMS and goes_to != folder:
                    rule = ("common/ includes nothing of agent/ or receiver/" if folder == "common"
                            else "agent/ and receiver/ never include each other")
                    problems.append(f'{where}: {folder} -> {goes_to}: "{target}" ({rule})')
                    continue
                if folder == "common" or resolved is None or goes_to != folder:
                    continue
                to_room = room_of(folder, os.path.relpath(resolved, folder_dir))
                if to_room is None or to_room == room:
                    continue
                levels = level_of(folder)
                if levels[to_room] >= levels[room]:
                    why = "a peer" if levels[to_room] == levels[room] else "a higher layer"
                    problems.append(f'{where}: {folder} {room} -> {to_room}: "{target}" '
                                    f'({to_room} is {why}; {folder} layers, lowest first: '
                                    f'{layer_text(folder)})')
    return problems, unroomed


def layer_text(program):
    return " < ".join("|".join(layer) for layer in LAYERS[program])


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for program in PROGRAMS:
        missing = set(ROOMS[program]) ^ {r for layer in LAYERS[program] for r in layer}
        if missing:
            print(f"check_layering: {program}: rooms not in both ROOMS and LAYERS: "
                  f"{sorted(missing)}", file=sys.stderr)
            return 2
    problems, unroomed = check(argv[1])
    for shown in unroomed:
        print(f"{shown}: in no room: add its folder to ROOMS and LAYERS in {__file__}",
              file=sys.stderr)
    for p in problems:
        print(p, file=sys.stderr)
    if unroomed:
        return 2
    if problems:
        print(f"check_layering: {len(problems)} upward or cross include(s)", file=sys.stderr)
        return 1
    print("check_layering: every include goes downward")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
