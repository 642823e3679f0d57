"""The shape of the code, checked: one-way packages with no import cycles (lazy imports count), the
local IAM stand-in reached only from the composition root, thin entry points, one reader of the
environment, boto3 only where it is used, one module that talks to DynamoDB per store, and no
module or stack file over 400 lines."""

import ast
from pathlib import Path

from stackfiles.config import load_config

ROOT = Path(__file__).resolve().parents[2]
# The product: the code the Lambda functions run (serverless.yml packages these and nothing else).
PRODUCT = ("handler", "authorizer")
# Every top-level package or module of the repository, by layer: a package may import its own layer
# and those below, never one above. The tests may import anything.
LAYERS = {
    "handler": 0, "authorizer": 0,  # the product
    "local_iam": 1, "stackfiles": 1, "ops": 1,  # the IAM stand-in, stack-file readers, tools for deployed stages
    "devstack": 2, "build_site": 2,  # the local stack, the site build
    "bench": 3,
    "tests": 4,
}
# The IAM stand-in wraps the composition root's clients where AWS is emulated: the one import that
# goes up a layer, made only inside the code that builds the check, so a deployed function never
# runs it (and the package is not in the zip).
LOCAL_IAM = "local_iam"
LOCAL_IAM_IMPORTER = "handler.app"
MAX_LINES = 400
# Besides the Python modules: the page's scripts and the stack files.
OTHER_SOURCES = ("templates/static/js/**/*.js", "infra/*.yml")


def top_level_names() -> list[str]:
    """Every top-level Python package (a folder with __init__.py) or module of the repository."""
    names = []
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith((".", "node_modules")):
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.append(entry.name)
        elif entry.suffix == ".py" and entry.is_file():
            names.append(entry.stem)
    return names


def modules(packages=None) -> dict[str, Path]:
    """{dotted name: path} of every module of `packages` (all the repository's by default)."""
    found = {}
    for package in packages or top_level_names():
        single = ROOT / f"{package}.py"
        for path in [single] if single.exists() else (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def product_modules() -> dict[str, Path]:
    return modules(PRODUCT)


def _imports(name: str, path: Path, tree: ast.Module | None = None) -> list[tuple[str, ast.stmt]]:
    """(imported name, import node) of every import in the module, at any depth (lazy ones too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree or ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found += [(base, node)] + [(f"{base}.{alias.name}", node) for alias in node.names]
    return found


def _known(imported: str, known) -> str | None:
    """The module of ours that an imported name is or lives in, or None."""
    while imported and imported not in known:
        imported = imported.rpartition(".")[0]
    return imported or None


def import_graph() -> dict[str, set[str]]:
    """{module: the modules of ours it imports, at module level or inside a function}."""
    found = modules()
    graph = {}
    for name, path in found.items():
        targets = {_known(imported, found) for imported, _ in _imports(name, path)}
        graph[name] = targets - {None, name}
    return graph


def _lazy_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside a function (run when it is called, not when the module loads)."""
    lazy = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lazy |= {id(inner) for inner in ast.walk(node) if isinstance(inner, (ast.Import, ast.ImportFrom))}
    return lazy


def _package(module: str) -> str:
    return module.split(".")[0]


def _sanctioned(module: str, target: str) -> bool:
    return module == LOCAL_IAM_IMPORTER and _package(target) == LOCAL_IAM


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return None
        if state.get(name) == "open":
            return trail[trail.index(name):] + [name]
        state[name] = "open"
        for dependency in sorted(graph.get(name, ())):
            cycle = visit(dependency, trail + [name])
            if cycle:
                return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


# -- packages: one way, no cycles ------------------------------------------------------------------


def test_every_package_has_a_layer():
    assert set(top_level_names()) == set(LAYERS), "give each new top-level package a layer in LAYERS"


def test_there_are_no_import_cycles_between_modules():
    cycle = _find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_there_are_no_import_cycles_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        graph.setdefault(_package(module), set()).update(
            _package(target) for target in targets if not _sanctioned(module, target))
    graph = {package: targets - {package} for package, targets in graph.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "package cycle: " + " -> ".join(cycle or [])


def test_no_package_imports_one_above_it():
    wrong = sorted(
        f"{module} imports {target}" for module, targets in import_graph().items() for target in targets
        if LAYERS[_package(target)] > LAYERS[_package(module)] and not _sanctioned(module, target)
        and _package(module) != "tests"
    )
    assert wrong == []


def test_the_site_build_does_not_need_the_local_stack():
    # build_site.py runs in the deploy workflow with Jinja2, PyYAML and boto3 only; the local stack
    # builds the site through it (devstack/site.py), never the other way.
    imported = {_package(target) for target in import_graph()["build_site"]}
    assert "devstack" not in imported


def test_only_the_composition_root_imports_the_iam_stand_in_and_only_lazily():
    found = modules()
    for name, path in found.items():
        if _package(name) in (LOCAL_IAM, "tests"):
            continue
        tree = ast.parse(path.read_text())
        lazy = _lazy_nodes(tree)
        for imported, node in _imports(name, path, tree):
            if _package(imported) != LOCAL_IAM:
                continue
            assert name == LOCAL_IAM_IMPORTER, f"{name} imports {imported}: only {LOCAL_IAM_IMPORTER} may"
            assert id(node) in lazy, f"{name} imports {imported} at module level: only where the check is built"


def test_the_product_reads_no_stack_file_and_imports_no_local_only_code():
    # The functions get their IAM policy as JSON (stackfiles/grants.py writes it); nothing deployed
    # may need PyYAML, the stack files or a package that is not in the zip.
    local_only = tuple(package for package in LAYERS if package not in PRODUCT)
    for name, path in product_modules().items():
        for imported, _ in _imports(name, path):
            if _sanctioned(name, imported):
                continue
            assert _package(imported) not in ("yaml",) + local_only, f"{name} imports {imported}"


# -- the product's own rules ------------------------------------------------------------------------


def entry_modules() -> list[str]:
    """The module of every function's handler in infra/functions.yml (`handler/connect.handler`)."""
    handlers = {spec["handler"] for spec in load_config()["functions"].values()}
    return sorted({handler.rsplit(".", 1)[0] + ".py" for handler in handlers})


def test_entry_modules_come_from_the_functions_of_the_stack():
    assert "authorizer/handler.py" in entry_modules() and "handler/connect.py" in entry_modules()
    for relative in entry_modules():
        assert (ROOT / relative).is_file(), relative


def test_entry_modules_are_wiring_only():
    for relative in entry_modules():
        tree = ast.parse((ROOT / relative).read_text())
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        for function in functions:
            statements = len(function.body) - (1 if ast.get_docstring(function) else 0)
            assert statements <= 4, f"{relative}:{function.name} does work; move it to a service"
        assert not [node for node in tree.body if isinstance(node, ast.ClassDef)], f"{relative} defines a class"


def test_only_settings_reads_the_environment():
    for name, path in product_modules().items():
        if name == "handler.settings":
            continue
        assert "os.environ" not in path.read_text() and "getenv" not in path.read_text(), f"{name} reads the environment"


def test_boto3_is_imported_only_inside_the_functions_that_use_it():
    # A module-level `import boto3` costs about 40 ms of every cold start, also where it is never
    # used; botocore's exception classes alone are cheap and are what the data layer catches.
    for name, path in product_modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                if module == "botocore.exceptions":
                    continue
                assert not module.startswith(("boto3", "botocore")), f"{name} imports {module} at module level"


def _names_a_client(node) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name == "client" or name.endswith(("_client", "dynamodb"))


def test_only_the_data_layer_calls_dynamodb_and_nothing_scans():
    operations = {"get_item", "put_item", "update_item", "delete_item", "query", "batch_write_item", "scan"}
    for name, path in product_modules().items():
        calls = {node.func.attr for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                 and _names_a_client(node.func.value)}
        assert "scan" not in calls, f"{name} scans a table"
        if calls & operations and name not in ("handler.store.dynamo", "handler.lean_dynamodb"):
            raise AssertionError(f"{name} calls DynamoDB ({sorted(calls & operations)}); go through a store")


# -- size -------------------------------------------------------------------------------------------


def test_no_module_or_stack_file_is_over_400_lines():
    paths = list(modules().values())
    for pattern in OTHER_SOURCES:
        paths += ROOT.glob(pattern)
    too_long = sorted(f"{path.relative_to(ROOT)} ({count})" for path in paths
                      if (count := len(path.read_text().splitlines())) > MAX_LINES)
    assert too_long == [], f"over {MAX_LINES} lines; split by job: " + ", ".join(too_long)
