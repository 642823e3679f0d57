"""scripts/system-deps.sh (what `make deps` runs first) on a simulated fresh machine: a PATH holding only
stand-ins for java, node, npm, apt-get and id, so nothing is installed for real."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"
ALL = ["python", "node", "java", "chromium"]

JAVA = "#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n"
NODE = "#!/bin/sh\necho v{version}\n"
# Records its arguments; with APT_WORKS=1, `install` puts stand-ins for what it was asked for in place.
APT_GET = """#!/bin/sh
echo "$*" >> "$APT_LOG"
[ "$1" = install ] && [ "$APT_WORKS" = 1 ] || exit 0
for p in "$@"; do
  case "$p" in
    default-jre-headless) printf '%s\\n' '#!/bin/sh' 'echo "openjdk version \\"17.0.9\\"" >&2' > "$FAKE_BIN/java"; chmod +x "$FAKE_BIN/java" ;;
    nodejs) printf '%s\\n' '#!/bin/sh' 'echo v20.19.2' > "$FAKE_BIN/node"; chmod +x "$FAKE_BIN/node" ;;
    npm) printf '%s\\n' '#!/bin/sh' > "$FAKE_BIN/npm"; chmod +x "$FAKE_BIN/npm" ;;
    chromium) printf '%s\\n' '#!/bin/sh' > "$WSCHAT_CHROMIUM"; chmod +x "$WSCHAT_CHROMIUM" ;;
  esac
done
"""


class Machine:
    def __init__(self, tmp_path: Path):
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.chromium = tmp_path / "chromium"
        self.apt_log = tmp_path / "apt.log"
        for tool in ("bash", "sed", "head", "chmod"):
            os.symlink(shutil.which(tool), self.bin / tool)
        self.uid = 0
        self.write("id", "#!/bin/sh\necho \"$FAKE_UID\"\n")
        self.write("apt-get", APT_GET)
        self.install_everything()
        self.apt_works = True
        self.tmp = tmp_path

    def write(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def remove(self, name: str) -> None:
        (self.bin / name).unlink()

    def install_everything(self) -> None:
        self.write("java", JAVA.format(version="17.0.15"))
        self.write("node", NODE.format(version="20.20.2"))
        self.write("npm", "#!/bin/sh\n")
        self.chromium.write_text("#!/bin/sh\n")
        self.chromium.chmod(0o755)

    def run(self, *needs: str) -> subprocess.CompletedProcess:
        env = {
            "PATH": str(self.bin), "HOME": str(self.tmp), "FAKE_BIN": str(self.bin), "FAKE_UID": str(self.uid),
            "APT_LOG": str(self.apt_log), "APT_WORKS": "1" if self.apt_works else "0",
            "WSCHAT_CHROMIUM": str(self.chromium), "PYTHON": sys.executable, "VENV": str(self.tmp / "no-venv"),
        }
        return subprocess.run([shutil.which("bash"), str(SCRIPT), *needs], env=env, capture_output=True,
                              text=True, timeout=60, cwd=self.tmp)

    @property
    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def test_everything_present_means_no_apt_and_no_output(machine):
    result = machine.run(*ALL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    assert machine.apt_calls == []


def test_as_root_the_missing_packages_are_installed_with_one_apt_get_update(machine):
    machine.remove("java")
    machine.chromium.unlink()
    result = machine.run(*ALL)
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls == ["update -qq", "install -y -qq default-jre-headless chromium"]
    assert "installing what this machine lacks: default-jre-headless chromium" in result.stdout
    assert machine.run(*ALL).returncode == 0 and len(machine.apt_calls) == 2  # idempotent: nothing more to do


def test_node_and_npm_come_together(machine):
    machine.remove("node")
    assert machine.run("node").returncode == 0
    assert machine.apt_calls[-1] == "install -y -qq nodejs npm"


def test_only_what_was_asked_for_is_checked(machine):
    machine.chromium.unlink()
    assert machine.run("python", "node", "java").returncode == 0  # make dev: no browser needed
    assert machine.apt_calls == []


def test_without_root_it_stops_at_once_with_the_command_to_run(machine):
    machine.uid = 1000
    machine.remove("java")
    machine.chromium.unlink()
    result = machine.run(*ALL)
    assert result.returncode == 1
    assert "sudo apt-get update && sudo apt-get install -y default-jre-headless chromium" in result.stderr
    assert "Java 17+" in result.stderr and "Chromium" in result.stderr
    assert machine.apt_calls == []


def test_without_apt_get_it_names_the_packages(machine):
    machine.remove("apt-get")
    machine.remove("java")
    result = machine.run(*ALL)
    assert result.returncode == 1
    assert "your package manager" in result.stderr and "default-jre-headless" in result.stderr


def test_a_failed_install_is_reported_not_looped(machine):
    machine.apt_works = False
    machine.remove("java")
    result = machine.run(*ALL)
    assert result.returncode == 1 and "still missing" in result.stderr
    assert machine.apt_calls == ["update -qq", "install -y -qq default-jre-headless"]


@pytest.mark.parametrize("version", ["11.0.20", "1.8.0_392"])
def test_a_java_older_than_17_is_refused(machine, version):
    machine.write("java", JAVA.format(version=version))
    result = machine.run("java")
    assert result.returncode == 1 and "needs Java 17+" in result.stderr
    assert machine.apt_calls == []


def test_a_node_older_than_20_19_is_refused(machine):
    machine.write("node", NODE.format(version="20.11.1"))
    result = machine.run("node")
    assert result.returncode == 1 and "needs Node 20.19+" in result.stderr
    machine.write("node", NODE.format(version="22.1.0"))
    assert machine.run("node").returncode == 0


def test_an_unknown_requirement_is_an_error(machine):
    assert machine.run("docker").returncode == 2


def test_make_deps_runs_it_first_and_only_make_test_asks_for_chromium():
    def dry_run(target):
        result = subprocess.run(["make", "-n", target, "VENV=/nonexistent-venv"], cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    for target, needs in (("test", "python node java chromium"), ("deps", "python node java chromium"),
                          ("dev", "python node java"), ("unit", "python node java")):
        lines = dry_run(target)
        assert lines[0].endswith(f"scripts/system-deps.sh {needs}"), (target, lines)
        assert any("-m venv /nonexistent-venv" in line for line in lines[1:])  # the venv comes after


def test_ci_runs_the_readme_command():
    text = (ROOT / ".ci" / "run").read_text()
    assert "make test" in text and "apt-get install -y -qq make" in text
