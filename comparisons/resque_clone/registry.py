"""Class resolution: the payload's "class" string -> the job class the worker runs.

Ruby finds a class by constantizing its name. Python has no global constant table, so the worker
keeps a registry filled by the modules it is told to import (`--require myapp.jobs`): every class
defined there with a callable `perform` is registered under its Resque name. The name is the
class's qualified name written the Ruby way (Outer.Inner -> "Outer::Inner"), or the class's own
`resque_class` attribute when it must match a Ruby producer's name exactly.

A class the worker has not loaded is a failure, not a crash: the job goes to the failed list with
a message saying the worker must be restarted after new job code is added.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_classes: dict[str, type] = {}


class JobClassNotFound(NameError):
    """The payload names a class this worker has not loaded."""

    resque_name = "NameError"  # what Ruby's constantize raises (filter failures by it alike)

    def __init__(self, name: Any) -> None:
        super().__init__(
            f"uninitialized constant {name}: this worker has not loaded job class {name!r} "
            f"(known: {', '.join(sorted(_classes)) or 'none'}). Add the module that defines it "
            f"with --require, and restart the worker after new job code is added."
        )
        self.class_name = name


def class_name(cls: type) -> str:
    """The name Resque writes in payloads for `cls`."""
    own = cls.__dict__.get("resque_class")
    return str(own) if own else cls.__qualname__.replace(".", "::")


def register(cls: type) -> type:
    """Register a job class (usable as a decorator)."""
    if not callable(getattr(cls, "perform", None)):
        raise TypeError(f"{cls.__qualname__} has no perform(*args) method: it cannot be a job")
    _classes[class_name(cls)] = cls
    return cls


def _import(target: str) -> ModuleType:
    """A module name (myapp.jobs) or a file path (jobs/archive.py)."""
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise ImportError(f"--require {target}: no such file")
        name = f"resque_required_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"--require {target}: cannot load")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


def require(target: str) -> list[str]:
    """Import a module and register every job class defined in it, nested ones included (Ruby's
    `Outer::Inner`); return their names."""
    module = _import(target)
    found = []
    for cls in _defined_classes(module):
        if callable(getattr(cls, "perform", None)):
            register(cls)
            found.append(class_name(cls))
    return sorted(found)


def _defined_classes(module: ModuleType) -> list[type]:
    """Classes defined in `module`: its top-level ones and, depth first, the classes defined
    inside them (an imported or aliased class is not walked twice)."""
    out: list[type] = []
    seen: set[int] = set()

    def walk(cls: type, prefix: str) -> None:
        if id(cls) in seen or cls.__module__ != module.__name__ or not cls.__qualname__.startswith(prefix):
            return
        seen.add(id(cls))
        out.append(cls)
        for inner in vars(cls).values():
            if inspect.isclass(inner):
                walk(inner, cls.__qualname__ + ".")

    for _, obj in inspect.getmembers(module, inspect.isclass):
        walk(obj, "")
    return out


def resolve(name: Any) -> type:
    if not isinstance(name, str) or name not in _classes:
        raise JobClassNotFound(name)
    return _classes[name]


def known() -> list[str]:
    return sorted(_classes)
