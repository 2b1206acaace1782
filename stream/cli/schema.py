"""``python -m stream schema``: the event contract's JSON Schemas and AsyncAPI document (the work
is in ``stream.contract.schema``)."""

from __future__ import annotations

import argparse

from stream.cli.common import CliError, Command


def add_parsers(command: Command, epilog: str) -> None:
    """Add this module's commands; ``command`` makes each parser, ``epilog`` ends each help."""
    schema = command(
        "schema",
        "write the event contract's JSON Schemas and AsyncAPI document",
        "Generate, from the event structs (stream/contract/events.py), one JSON Schema per "
        "event type, "
        "events.json (any event, tagged on `type`) and kpi-windows.json (a closed window) into "
        "--out, and the AsyncAPI 3.0 document of the topics, whose messages reference those "
        "files, to --asyncapi. Files whose text is unchanged are left alone; .json files in "
        "--out that are no longer generated are listed, not removed. Topic names are the "
        "defaults (no STREAM_* variable is read); no broker is needed. docs/events.md is the "
        "contract in prose.",
    )
    schema.add_argument(
        "--out",
        default="docs/schemas",
        metavar="DIR",
        help="directory of the JSON Schemas, made when missing (default: docs/schemas)",
    )
    schema.add_argument(
        "--asyncapi",
        default=None,
        metavar="FILE",
        help="the AsyncAPI document (default: asyncapi.yaml beside DIR, e.g. docs/asyncapi.yaml)",
    )
    schema.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from stream.contract import schema

    out = Path(args.out)
    asyncapi = Path(args.asyncapi) if args.asyncapi else out.parent / schema.ASYNCAPI_FILE
    ref = Path(os.path.relpath(out.resolve(), asyncapi.resolve().parent)).as_posix()
    files = {out / name: text for name, text in schema.schema_files().items()}
    files[asyncapi] = schema.asyncapi_document(schemas_ref=f"{ref}/")
    changed = 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        asyncapi.parent.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                changed += 1
        stale = sorted(p.name for p in out.glob("*.json") if p not in files)
    except OSError as exc:
        raise CliError(f"cannot write the schemas: {exc}", status=2) from exc
    files_changed = f"{changed} file{'' if changed == 1 else 's'} changed"
    print(f"{len(files) - 1} schemas in {out}, AsyncAPI in {asyncapi}: {files_changed}")
    if stale:
        print(f"no longer generated (remove them): {', '.join(stale)}")
    return 0
