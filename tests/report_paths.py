"""What a report may say of where files are (`check_report`): no absolute path and none of the server's folders;
every file it names by a path is found there, from the report's own folder, with its SHA-256."""
import json
from pathlib import Path

from latentcore.storage import sha256_file


def strings(value):
    """Every key and string value in a JSON document, however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def located_files(value):
    """Every record of a file by its path ({"name", "path", "sha256"}) in a JSON document."""
    if isinstance(value, dict):
        if all(isinstance(value.get(key), str) for key in ("name", "path", "sha256")):
            yield value
        for item in value.values():
            yield from located_files(item)
    elif isinstance(value, list):
        for item in value:
            yield from located_files(item)


def check_report(path: Path, *server_folders: Path, within: Path | None = None) -> int:
    """No absolute path and none of `server_folders` in the report at `path`; every file it names with a path is
    found from the report's folder (inside `within` when given), with its SHA-256. Returns how many it named so."""
    text = path.read_text()
    for folder in server_folders:
        assert str(folder) not in text, f"{path.name} names {folder}"
    for found in strings(json.loads(text)):
        assert not found.startswith(("/", "\\")) and ":\\" not in found, f"{path.name}: {found!r} is absolute"
    records = list(located_files(json.loads(text)))
    for record in records:
        target = (path.parent / record["path"]).resolve()
        assert target.name == record["name"] and sha256_file(target) == record["sha256"], (path.name, record)
        assert within is None or target.is_relative_to(within.resolve()), f"{path.name}: {record} is outside {within}"
    return len(records)
