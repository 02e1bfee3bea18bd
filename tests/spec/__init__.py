"""Spec conformance: the published OOS operations in one data file, and both sides held to it.

- ``oos_operations.json``: the published operations (method, path after the base path, styles that
  publish it, query and body parameters, required fields, result fields, both tag shapes, page
  limits, withLog), written from /work/shared/design/oos-api.md and the OpenAPI metadata.
- ``conformance.py``: checks a recorded request, or an answer, against the data file.
- ``spec_server.py`` / ``shapes.py``: a recording server answering in the seed, older or current
  published shape.
- ``test_hook_conformance.py``: every hook call, sync and async, under each base-path setting.
- ``test_emulator_conformance.py``: the emulator's routes in each published style and its answers.
- ``test_published_shapes.py``: seed/older/current answers drive the sensor, operator and trigger.
- ``test_conformance_checker.py``: the checker catches each kind of fault; the file is consistent.

README.md in this folder maps each published operation to the tests that cover it.
"""
