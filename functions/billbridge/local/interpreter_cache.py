"""The billing state machine, parsed once and kept, instead of parsed again in every process.

moto's Step Functions interpreter parses a definition (an ANTLR grammar in pure
Python, then a pass that builds the program's components) when the state
machine is created, to validate it, and again when each execution starts. The
local stack's definition changes only when the infrastructure code does, and
most processes that bill run one execution, so they paid two parses for one
run.

While a local stack's billing workflow exists, `ParsedDefinitions` answers both
from a cache: the program moto's parser built for a definition is pickled under
`.build/` (beside the definition's own cache), keyed by a hash of the
definition and moto's version; each request for it gets a fresh copy
(unpickled), as a fresh parse would give. A definition not in the cache is
parsed by moto as before (an invalid one raises moto's `InvalidDefinition` as
before, and is not cached). The static analyser and anything else that calls
the parser directly are unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

LOGGER = logging.getLogger(__name__)
PICKLE_RECURSION_LIMIT = 20_000
"""A program is a deep tree of components; pickling it walks the tree recursively."""


class ParsedDefinitions:
    """Installed while a local stack's billing workflow exists; restores moto on exit."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._originals: list[tuple[Any, str, Any]] = []
        self.parsed = 0
        """Definitions moto's parser parsed while installed (cache misses)."""

    def key(self, definition: str) -> str:
        digest = hashlib.sha256(definition.encode("utf-8"))
        digest.update(metadata.version("moto").encode())
        return digest.hexdigest()[:32]

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"state-machine-{key}.pickle"

    def program(self, definition: str) -> Any:
        """A fresh copy of the program of `definition` (parsed by moto when not cached)."""
        key = self.key(definition)
        with self._lock:
            stored = self._memory.get(key) or self._read(key)
            if stored is not None:
                try:
                    return pickle.loads(stored)
                except Exception:  # a cache written by another build: parse again
                    LOGGER.warning("ignoring an unreadable state machine cache %s", self._path(key))
            from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

            program = AmazonStateLanguageParser.parse(definition)[0]
            self.parsed += 1
            stored = self._dump(program)
            if stored is not None:
                self._memory[key] = stored
                self._write(key, stored)
                return pickle.loads(stored)
            return program

    @staticmethod
    def _dump(program: Any) -> bytes | None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, PICKLE_RECURSION_LIMIT))
        try:
            return pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            LOGGER.debug("the state machine's program cannot be pickled; it is parsed per execution", exc_info=True)
            return None
        finally:
            sys.setrecursionlimit(limit)

    def _read(self, key: str) -> bytes | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        self._memory[key] = data
        return data

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".state-machine-", delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, path)
        except OSError:
            LOGGER.debug("could not write the state machine cache %s", path, exc_info=True)

    def __enter__(self) -> ParsedDefinitions:
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        cache = self
        original_validate = StepFunctionsParserBackend.__dict__["_validate_definition"]
        validate_function = original_validate.__func__

        def validate_definition(definition: str) -> None:
            try:
                cache.program(definition)
            except Exception:
                validate_function(definition=definition)  # raises moto's own InvalidDefinition
                raise

        def evaluation_entrypoint(worker: Any) -> Any:
            return cache.program(worker._evaluation_details.state_machine_details.definition)

        self._originals = [
            (StepFunctionsParserBackend, "_validate_definition", original_validate),
            (ExecutionWorker, "_get_evaluation_entrypoint", ExecutionWorker.__dict__["_get_evaluation_entrypoint"]),
        ]
        StepFunctionsParserBackend._validate_definition = staticmethod(validate_definition)  # type: ignore[method-assign,assignment]
        ExecutionWorker._get_evaluation_entrypoint = evaluation_entrypoint  # type: ignore[method-assign]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals = []
