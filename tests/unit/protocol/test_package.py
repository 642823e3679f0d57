"""handler/protocol/__init__.py: one name space for the whole protocol, and no I/O in any of it."""

import ast
import importlib
import pkgutil
from pathlib import Path

from handler import protocol

MODULES = [info.name for info in pkgutil.iter_modules(protocol.__path__)]
# What a protocol module may import: the standard library's pure parts, text rules, its siblings.
ALLOWED_IMPORTS = {"__future__", "dataclasses", "datetime", "enum", "hashlib", "json", "re", "unicodedata",
                   "handler", "handler.text"}


def defined_names(name: str) -> list[str]:
    """The public names a module defines at its top level (constants, functions, classes)."""
    tree = ast.parse(Path(protocol.__path__[0], f"{name}.py").read_text())
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.append(node.name)
        elif isinstance(node, ast.Assign):
            found += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [found_name for found_name in found if not found_name.startswith("_")]


def test_every_public_name_of_every_module_is_the_packages_own():
    for name in MODULES:
        module = importlib.import_module(f"handler.protocol.{name}")
        for attribute in defined_names(name):
            assert getattr(protocol, attribute, None) is getattr(module, attribute), \
                f"protocol.{attribute} is not {name}.{attribute}"


def test_protocol_modules_import_nothing_that_does_io():
    for name in MODULES:
        tree = ast.parse(Path(protocol.__path__[0], f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""]
            else:
                continue
            for module in imported:
                assert module in ALLOWED_IMPORTS or module.startswith("handler.protocol."), f"{name} imports {module}"
