"""The shape of the code, checked: no import cycles, thin entry points, one reader of the
environment, boto3 only where it is used, one module that talks to DynamoDB per store."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("handler", "authorizer")
ENTRY_MODULES = ["handler/connect.py", "handler/disconnect.py", "handler/messages.py", "handler/http_auth.py",
                 "handler/fanout.py", "handler/sweep.py", "authorizer/handler.py", "handler/room_routes.py"]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def top_level_imports(path: Path, known: set[str]) -> set[str]:
    """Our modules imported at module level (not inside a function)."""
    imported = set()
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        imported.update(name for name in names if name in known)
    return imported


def test_there_are_no_import_cycles():
    found = modules()
    graph = {name: top_level_imports(path, set(found)) - {name} for name, path in found.items()}
    state: dict[str, str] = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for dependency in sorted(graph[name]):
            visit(dependency, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


def test_entry_modules_are_wiring_only():
    for relative in ENTRY_MODULES:
        tree = ast.parse((ROOT / relative).read_text())
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        for function in functions:
            statements = len(function.body) - (1 if ast.get_docstring(function) else 0)
            assert statements <= 4, f"{relative}:{function.name} does work; move it to a service"
        assert not [node for node in tree.body if isinstance(node, ast.ClassDef)], f"{relative} defines a class"


def test_only_settings_reads_the_environment():
    for name, path in modules().items():
        if name == "handler.settings":
            continue
        assert "os.environ" not in path.read_text() and "getenv" not in path.read_text(), f"{name} reads the environment"


def test_boto3_is_imported_only_inside_the_functions_that_use_it():
    # A module-level `import boto3` costs about 40 ms of every cold start, also where it is never
    # used; botocore's exception classes alone are cheap and are what the data layer catches.
    for name, path in modules().items():
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
    for name, path in modules().items():
        calls = {node.func.attr for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                 and _names_a_client(node.func.value)}
        assert "scan" not in calls, f"{name} scans a table"
        if calls & operations and name not in ("handler.store.dynamo", "handler.dynamodb"):
            raise AssertionError(f"{name} calls DynamoDB ({sorted(calls & operations)}); go through a store")


def test_handler_code_reads_no_stack_file_itself():
    # The functions get their IAM policy as JSON (devstack/iam.py writes it); nothing deployed may
    # need devstack/, PyYAML or the stack files.
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                assert not module.startswith(("devstack", "yaml", "tests")), f"{name} imports {module}"
