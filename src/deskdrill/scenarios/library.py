"""The scenarios that ship with deskdrill (``scenarios/*.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from deskdrill.core.errors import NotFound
from deskdrill.paths import resource_dir
from deskdrill.scenarios.load import read
from deskdrill.scenarios.model import Scenario


def files() -> list[Path]:
    return sorted(resource_dir("scenarios").glob("*.yaml"))


def shipped() -> list[tuple[Path, Scenario]]:
    """Each shipped file and its scenario. Parsing every file takes about half a second:
    they are kept until a file is added, removed or changed."""
    return _parsed(tuple(_stamp(path) for path in files()))


def listed() -> list[Scenario]:
    """The shipped scenarios, parsed (kept as ``shipped`` keeps them)."""
    return [scenario for _, scenario in shipped()]


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=1)
def _parsed(stamps: tuple[tuple[str, int, int], ...]) -> list[tuple[Path, Scenario]]:
    return [(Path(name), read(Path(name))) for name, _, _ in stamps]


def find(scenario_id: str) -> tuple[Path, Scenario]:
    named = resource_dir("scenarios") / f"{scenario_id[:64]}.yaml"
    # Each file is named by its id (64 characters at most, like every id).
    if len(scenario_id) <= 64 and "/" not in scenario_id and named.is_file():
        scenario = read(named)
        if scenario.id == scenario_id:
            return named, scenario
    library = shipped()
    for path, scenario in library:
        if scenario.id == scenario_id:
            return path, scenario
    known = ", ".join(s.id for _, s in library)
    raise NotFound(f"no shipped scenario {scenario_id!r}; shipped: {known}")


def resolve(given: str) -> tuple[Scenario, bytes]:
    """A scenario file's path, or a shipped scenario's id: the scenario and its bytes."""
    path = Path(given)
    if path.is_file():
        return read(path), path.read_bytes()
    if path.suffix.lower() in (".yaml", ".yml") or "/" in given or "\\" in given:
        # A path, not a shipped scenario's id (a folder of that name does not hide one).
        raise NotFound(f"{given} is not a file" if path.exists() else f"{given}: no such file")
    path, scenario = find(given)
    return scenario, path.read_bytes()
