"""DynamoDB Local's command line: on 127.0.0.1 only, answering no web page, sending no telemetry.

DynamoDB Local 3.3.0 has no option to choose the address it listens on, and listens on every
interface: anyone who can reach the machine could read and write the local tables with any
credentials. devstack/LoopbackDynamoDB.java starts it bound to 127.0.0.1 instead. It is compiled
here once per DynamoDB Local version, with the compiler module of the Java runtime itself
(`java -m jdk.compiler/...`: Debian's JRE has it, no JDK needed), into .wschat/java/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LAUNCHER = Path(__file__).resolve().with_name("LoopbackDynamoDB.java")
LAUNCHER_CLASS = "LoopbackDynamoDB"

# `-cors` takes the origins whose pages may call DynamoDB Local from a browser. No page needs to,
# so it gets one that no page can have (.invalid never resolves, RFC 6761). Checked here with
# 3.3.0: without -cors, or with `-cors '*'`, a preflight gets no Access-Control-Allow-Origin
# whatever its -help says ("default is '*'"); being explicit keeps it so if a version changes that.
NO_PAGE_ORIGIN = "http://wschat.invalid"


class LauncherError(Exception):
    """Raised when the launcher cannot be compiled; the message says why in one line."""


def classpath(jar_dir: Path) -> str:
    return os.pathsep.join([str(jar_dir / "DynamoDBLocal.jar"), str(jar_dir / "DynamoDBLocal_lib" / "*")])


def compiled_launcher(jar_dir: Path, cache: Path) -> Path:
    """The folder holding the compiled launcher for this DynamoDB Local, compiled on first use."""
    key = hashlib.sha256(LAUNCHER.read_bytes() + str(jar_dir.resolve()).encode()).hexdigest()[:16]
    target = cache / key
    if (target / f"{LAUNCHER_CLASS}.class").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=cache, prefix="building-"))
    try:
        result = subprocess.run(
            ["java", "-m", "jdk.compiler/com.sun.tools.javac.Main", "-nowarn", "-d", str(building),
             "-cp", classpath(jar_dir), str(LAUNCHER)],
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise LauncherError(
                f"could not compile {LAUNCHER.name}, which binds DynamoDB Local to 127.0.0.1: "
                f"{detail[0] if detail else 'java exited with ' + str(result.returncode)}"
            )
        try:
            building.rename(target)
        except OSError:
            pass  # another stack compiled it meanwhile: theirs is the same
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def command(jar_dir: Path, port: int, storage: list[str], cache: Path) -> list[str]:
    """The command that runs DynamoDB Local on 127.0.0.1:`port` (storage: -inMemory or -dbPath DIR)."""
    launcher = compiled_launcher(jar_dir, cache)
    return [
        "java", f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-cp", os.pathsep.join([str(launcher), classpath(jar_dir)]), LAUNCHER_CLASS,
        "-port", str(port), "-sharedDb", *storage, "-cors", NO_PAGE_ORIGIN, "-disableTelemetry",
    ]
