"""Static checks of the compose file, for the runtime we cannot run here (docker) and for both.

The schema is the Compose Specification's own (compose/schema/compose-spec.json, Apache-2.0).
"""

from __future__ import annotations

import json
from pathlib import Path

from spotctl.stack.compose import ComposeProject


def schema_errors(compose_file: Path) -> list[str]:
    """Messages for every place the raw file breaks the Compose Specification."""
    import jsonschema
    import yaml

    schema = json.loads((compose_file.parent / "schema" / "compose-spec.json").read_text(encoding="utf-8"))
    document = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def design_errors(project: ComposeProject) -> list[str]:
    """What this stack promises beyond the schema: health checks everywhere, a local driver for each."""
    from spotctl.stack import probes

    errors = []
    for svc in project.services.values():
        if svc.healthcheck is None:
            errors.append(f"{svc.name}: no healthcheck")
        if svc.driver == "none":
            errors.append(f"{svc.name}: no x-local driver and not built here: the local runtime cannot run it")
        if svc.healthcheck and probes.derive(svc) is None:
            errors.append(f"{svc.name}: its healthcheck maps to no host-side probe")
        for dep in svc.depends_on:
            if dep not in project.services:
                errors.append(f"{svc.name}: depends on unknown service {dep}")
        for entry in svc.volumes:
            source = entry.split(":")[0]
            if source.startswith("./") and not (project.path.parent / source).exists():
                errors.append(f"{svc.name}: bind mount {source} does not exist")
    return errors


def build_errors(compose_file: Path) -> list[str]:
    """Every `build:` must name a Dockerfile that exists (the docker runtime builds it)."""
    import yaml

    document = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    errors = []
    for name, spec in (document.get("services") or {}).items():
        build = (spec or {}).get("build")
        if isinstance(build, dict):
            context = compose_file.parent / build.get("context", ".")
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                errors.append(f"{name}: no Dockerfile at {context / build.get('dockerfile', 'Dockerfile')}")
    return errors
