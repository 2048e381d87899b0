"""The systemd units of deploy/systemd read as systemd reads them: sections, Environment=
defaults, specifiers (%i, %%) and ${VARIABLES} in ExecStart, so that deploy/topology.py and
the tests run exactly the command lines the units run."""

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
# Where the units expect the checkout (docs/deploy.md); replaced by ROOT here.
INSTALL_ROOT = "/srv/firstcome"
# systemd's default PATH for services.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tool(name: str) -> str | None:
    """A system binary, also from the sbin directories a non-root PATH may lack (nginx)."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":" + SYSTEM_PATH)


@dataclass(frozen=True)
class Unit:
    """One unit file: its sections as (key, value) lists, in file order (keys repeat)."""

    name: str
    sections: dict[str, list[tuple[str, str]]]

    def values(self, section: str, key: str) -> list[str]:
        return [value for k, value in self.sections.get(section, []) if k == key]

    def value(self, section: str, key: str, default: str | None = None) -> str | None:
        found = self.values(section, key)
        return found[-1] if found else default


def unit_read(name: str, directory: Path = UNITS) -> Unit:
    """Parse a unit file (systemd.syntax: [Section], Key=Value, # and ; comments, \\ continues)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in (directory / name).read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line:
            raise ValueError(f"{name}: cannot read line {raw!r}")
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return Unit(name, sections)


def unit_instance_name(template: str, instance: str) -> str:
    """firstcome-web@.service + 8001 → firstcome-web@8001.service."""
    stem, _, suffix = template.partition("@")
    return f"{stem}@{instance}{suffix}"


def _specifiers(text: str, *, unit_name: str, instance: str | None) -> str:
    """The specifiers our units use (%i, %I, %n, %%); anything else is refused, not guessed."""

    def replace(match: re.Match) -> str:
        letter = match.group(1)
        if letter == "%":
            return "%"
        if letter == "n":
            return unit_name
        if letter in "iI":
            if instance is None:
                raise ValueError(f"{unit_name}: %{letter} needs an instance")
            return instance
        raise ValueError(f"{unit_name}: specifier %{letter} is not supported by deploy/local.py")

    return re.sub(r"%(.)", replace, text)


def localize(word: str, root: Path) -> str:
    return str(root) + word[len(INSTALL_ROOT) :] if word.startswith(INSTALL_ROOT) else word


def unit_environment(unit: Unit, env: dict[str, str]) -> dict[str, str]:
    """Environment= defaults, then `env` (what EnvironmentFile= holds) over them, as systemd orders them."""
    merged: dict[str, str] = {}
    for line in unit.values("Service", "Environment"):
        for assignment in shlex.split(line):
            key, _, value = assignment.partition("=")
            merged[key] = value
    merged.update(env)
    return merged


def _expand(word: str, env: dict[str, str], unit_name: str) -> list[str]:
    """systemd's variable expansion: a lone $VAR splits into words, ${VAR} stays one word."""

    def lookup(name: str) -> str:
        if name not in env:
            raise KeyError(f"{unit_name}: ${name} is not set (Environment= or the environment file)")
        return env[name]

    lone = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if lone:
        return lookup(lone.group(1)).split()
    return [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: lookup(m.group(1)), word)]


def unit_commands(
    unit: Unit, *, env: dict[str, str], instance: str | None = None, root: Path = ROOT
) -> list[list[str]]:
    """Every ExecStart= of the unit as an argv, with this checkout in place of /srv/firstcome."""
    name = unit_instance_name(unit.name, instance) if instance is not None else unit.name
    merged = unit_environment(unit, env)
    commands = []
    for line in unit.values("Service", "ExecStart"):
        if line[:1] in "-@+!:":
            raise ValueError(f"{name}: ExecStart prefixes are not supported by deploy/local.py: {line}")
        words = shlex.split(_specifiers(line, unit_name=name, instance=instance))
        argv = [localize(out, root) for word in words for out in _expand(word, merged, name)]
        commands.append(argv)
    return commands


def units_rendered(directory: Path, *, root: Path = ROOT) -> list[Path]:
    """Copies of every unit with this checkout in place of /srv/firstcome (for systemd-analyze verify)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(UNITS.iterdir()):
        if path.suffix in (".service", ".target"):
            target = directory / path.name
            target.write_text(path.read_text().replace(INSTALL_ROOT, str(root)))
            written.append(target)
    return written
