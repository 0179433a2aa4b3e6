"""A name -> implementation table filled where each implementation is written, by a decorator; the modules of a
package that end in a given suffix (edge/*_runner.py, convert/*_export.py) are imported on the first lookup of a
name not yet registered, so a new one needs no list edited anywhere."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Iterable


class Registry(dict):
    def __init__(self, package: str, suffix: str, names: Iterable[str] | None = None):
        super().__init__()
        self.package, self.suffix = package, suffix
        self.names = set(names) if names is not None else None  # the names allowed, when there is a fixed list

    def register(self, name: str) -> Callable:
        """Decorator: the implementation of NAME."""
        if self.names is not None and name not in self.names:
            raise KeyError(f"{name} is not one of {', '.join(sorted(self.names))}; add it there first")

        def register(implementation):
            self[name] = implementation
            return implementation
        return register

    def find(self, name: str):
        """The implementation registered for NAME, importing PACKAGE/*SUFFIX.py first when it is missing."""
        if name not in self:
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                if module.name.endswith(self.suffix):
                    importlib.import_module(f"{self.package}.{module.name}")
        return self[name]
