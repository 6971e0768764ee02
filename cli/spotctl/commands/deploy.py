"""`spotctl deploy`: Kubernetes manifests derived from the compose file, and their validation.

`render` writes a kustomize base and dev/prod overlays (cli/spotctl/deploy/render.py decides, from
compose plus `x-k8s`); `validate` builds each overlay with `kubectl kustomize` (offline) and checks every
object against the Kubernetes schema of a pinned version and against the others (selectors, ports,
probes, secrets, claims, autoscaler and Ingress targets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt

DEFAULT_OUT = Path("build") / "k8s"


def register(app: typer.Typer) -> None:
    deploy = typer.Typer(name="deploy", no_args_is_help=True,
                         help="Render Kubernetes manifests from the compose file and validate them.")
    deploy.command("render")(render)
    deploy.command("validate")(validate)
    app.add_typer(deploy)


OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for base/, overlays/ and extras/ "
                                                          "(default: build/k8s in the project).")]


def _render(out: Path, registry: str, tag: str, prod_host: str, dev_host: str) -> tuple[dict[str, Any], Path]:
    from spotctl import project
    from spotctl.deploy import bundle
    from spotctl.deploy.render import Options
    from spotctl.deploy.render import render as render_tree
    from spotctl.stack import compose

    proj = project.current()
    model = compose.load(proj.compose_file, env={})  # the compose defaults, not this shell's overrides
    tree = render_tree(model, bundle.mounted_files(model),
                       Options(registry=registry.rstrip("/"), tag=tag, prod_host=prod_host, dev_host=dev_host))
    try:
        source = proj.compose_file.relative_to(proj.root).as_posix()
    except ValueError:
        source = proj.compose_file.name
    bundle.write(tree, out, source)
    return tree, out


def render(
    out: OutDir = None,
    registry: Annotated[str, typer.Option("--registry", help="Registry of the prod image built from "
                                                             "this repository.")] = "registry.example.com/spotctl",
    tag: Annotated[str, typer.Option("--tag", help="Tag of the prod image.")] = "0.1.0",
    host: Annotated[str, typer.Option("--host", help="The prod Ingress host.")] = "spotctl.example.com",
    dev_host: Annotated[str, typer.Option("--dev-host", help="The dev Ingress host.")] = "spotctl.localtest.me",
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Write a kustomize base and dev/prod overlays derived from the compose file."""
    from collections import Counter

    from spotctl import project
    from spotctl.output import emit, info

    folder = (out or project.current().root / DEFAULT_OUT).resolve()
    tree, _ = _render(folder, registry, tag, host, dev_host)
    kinds = Counter(doc["kind"] for path, docs in tree.items() if path.startswith("base/")
                    and not path.endswith("kustomization.yaml") for doc in docs)
    data = {"out": str(folder), "files": sorted(tree), "base_objects": dict(sorted(kinds.items()))}
    emit(data, output, ("kind", "objects in base"), sorted(kinds.items()))
    if output is OutputFormat.table:
        info(f"wrote {len(tree)} files under {folder}; build one with "
             f"`kubectl kustomize {folder / 'overlays' / 'dev'}`")


def validate(
    folder: Annotated[Path | None, typer.Option("--dir", help="A rendered tree (default: render the compose "
                                                              "file to a temporary folder first).")] = None,
    version: Annotated[str | None, typer.Option("--kubernetes-version",
                                                help="Kubernetes schema version (default: the pinned one).")]
    = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Build each overlay with kustomize and check every object (schema and references); exit 1 on errors."""
    import tempfile

    from spotctl.deploy import bundle, checks
    from spotctl.errors import UsageError
    from spotctl.output import emit, err

    version = version or checks.KUBERNETES_VERSION
    with tempfile.TemporaryDirectory(prefix="spotctl-k8s-") as tmp:
        if folder is None:
            folder = _render(Path(tmp), "registry.example.com/spotctl", "0.1.0", "spotctl.example.com",
                             "spotctl.localtest.me")[1]
        elif not (folder / "overlays").is_dir():
            raise UsageError(f"{folder} has no overlays/ folder", hint="point --dir at the --out of a render")
        results: list[dict[str, Any]] = []
        for overlay in sorted(p.name for p in (folder / "overlays").iterdir() if p.is_dir()):
            objects = bundle.build(folder / "overlays" / overlay)
            errors = checks.schema_errors(objects, version) + checks.reference_errors(
                objects, secrets_external=overlay == "prod")
            results.append({"overlay": overlay, "objects": len(objects), "errors": errors})
    emit({"kubernetes_version": version, "overlays": results}, output, ("overlay", "objects", "errors"),
         [(r["overlay"], r["objects"], len(r["errors"])) for r in results],
         title=f"Kubernetes {version} (strict schema)")
    if output is OutputFormat.table:
        for r in results:
            for e in r["errors"]:
                err().print(f"{r['overlay']}: {e}", markup=False, highlight=False)
    if any(r["errors"] for r in results):
        raise typer.Exit(1)
