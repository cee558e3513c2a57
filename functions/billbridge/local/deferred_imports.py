"""Parts of moto the billing run never uses are imported only when something uses them.

moto's Step Functions interpreter imports every service integration it could
run, among them AWS Batch's; `moto.batch`'s package body imports its models,
which import moto's whole EC2 model (regions, availability zones, instance
types): about two thirds of the time it takes to load the interpreter, paid by
every process that runs a billing run (`bill`, `demo`, `replay`). The billing
definition has no Batch task. The interpreter needs only `moto.batch.utils`
(its job statuses), a module with no such imports.

`defer_batch_models()` registers `moto.batch` as a package whose body has not
run yet: its submodules import as usual (`moto.batch.utils`, and
`moto.batch.models` when moto's backend registry asks for Batch), and the first
read of any other name of the package (`moto.batch.batch_backends`) runs the
package's own body first. Nothing is changed when `moto.batch` is already
imported. `tests/integration/local/test_deferred_imports.py` checks that
Batch still works through moto afterwards.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

BATCH_PACKAGE = "moto.batch"
_LOCK = threading.Lock()


class DeferredPackage(types.ModuleType):
    """A package whose own body runs on the first read of a name it does not have yet."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        spec = self.__spec__
        with _LOCK:
            if not self.__dict__.get("_body_ran"):
                self.__dict__["_body_ran"] = True
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def defer_batch_models() -> bool:
    """Register `moto.batch` as a deferred package (once per process); True if it was."""
    with _LOCK:
        if BATCH_PACKAGE in sys.modules:
            return False
        spec = importlib.util.find_spec(BATCH_PACKAGE)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return False
        package = DeferredPackage(BATCH_PACKAGE)
        package.__spec__ = spec
        package.__file__ = spec.origin
        package.__path__ = list(spec.submodule_search_locations)
        package.__package__ = BATCH_PACKAGE
        package.__loader__ = spec.loader
        sys.modules[BATCH_PACKAGE] = package
        parent = sys.modules.get("moto")
        if parent is not None:
            parent.batch = package
        return True
