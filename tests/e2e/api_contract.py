"""Checks a real answer of meterd against web/openapi.json: the status must be documented for
the operation and a JSON body must match the documented schema. The harness calls check() on
every answer it reads, so each end-to-end test also tests the document.

Needs Debian's python3-jsonschema (scripts/install-deps); CTest runs these tests with /usr/bin/python3.
"""
import json
import os
import re
import urllib.parse

import jsonschema

DOCUMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../web/openapi.json")
# Answers the document lists once for every route (its info.description) rather than per operation.
ANY_ROUTE = {405, 408, 431, 503}


class ContractError(AssertionError):
    pass


class Contract:
    def __init__(self, path=DOCUMENT):
        with open(path) as f:
            self.doc = json.load(f)
        self.resolver = jsonschema.RefResolver("", self.doc)
        self.routes = []
        for template, ops in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(pattern), ops))
        self.validators = {}

    def _deref(self, node):
        while "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def operation(self, method, path):
        raw_path = urllib.parse.urlsplit(path).path
        for pattern, ops in self.routes:
            if pattern.match(raw_path):
                return ops.get(method.lower()), True
        return None, False

    def check(self, method, path, status, content_type, body):
        """Raises ContractError when the answer is not what the document says."""
        op, known_path = self.operation(method, path)
        if op is None:
            if not known_path and status == 404 or status == 405:
                return
            raise ContractError("%s %s is not in openapi.json" % (method, path))
        response = op["responses"].get(str(status))
        if response is None:
            if status in ANY_ROUTE:
                return
            raise ContractError("%s %s answered %d, which openapi.json does not list for %s" %
                                (method, path, status, op["operationId"]))
        response = self._deref(response)
        media = (content_type or "").split(";")[0].strip()
        content = response.get("content", {})
        if not content:
            return
        entry = content.get(media) or content.get("*/*")
        if entry is None:
            raise ContractError("%s %s answered %d as %r; openapi.json says %s" %
                                (method, path, status, media, sorted(content)))
        if "json" not in media or not isinstance(body, (dict, list)):
            return
        validator = self.validators.get(id(entry))
        if validator is None:  # one per documented answer, built on first use
            validator = self.validators[id(entry)] = jsonschema.Draft202012Validator(entry["schema"],
                                                                                     resolver=self.resolver)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise ContractError("%s %s answered %d with a body openapi.json does not allow, at /%s: %s\n%s" %
                                (method, path, status, where, errors[0].message, json.dumps(body)[:2000]))


CONTRACT = Contract()
