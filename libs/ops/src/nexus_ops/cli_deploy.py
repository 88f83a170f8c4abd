"""nexusctl's deployment commands: `compose` (docker compose with an environment's files), `images`
(build every service image from the one Dockerfile) and `acl` (render the live Redis ACL file, check
the committed template, explain the users)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from nexus_ops import acl as acl_mod
from nexus_ops import cliutil as cu
from nexus_protocol import Names
from nexus_protocol.errors import ConfigError

acl_app = typer.Typer(no_args_is_help=True, help="Redis ACL users: render the live file, check the template.")
images_app = typer.Typer(no_args_is_help=True, help="Service images, all from the one Dockerfile.")
COMPOSE_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
ACL_OUT = typer.Option(None, "--out", help="the ACL file to write (default: print)")
ACL_ENV_FILE = typer.Option(None, "--env-file", help="write the passwords here (0600), for compose")
ACL_PATH = typer.Option(None, help="default deploy/redis/users.acl")
IMAGES_CACHE = typer.Option(
    None, help="save the images in one archive here; a build of the same sources loads it instead"
)
ACL_POOLS = typer.Option(
    [], "--pool", help="a pooled adapter service's user: NAME=venue1,venue2 (its NX_VENUE_POOL); repeatable"
)


def compose(
    ctx: typer.Context,
    environment: str = typer.Option(..., "--env", help="dev, staging, prod-stage1 .. prod-stage4"),
    monitoring: bool = typer.Option(False, help="add Prometheus, Alertmanager, Grafana, redis_exporter"),
    show: bool = typer.Option(False, "--print", help="print the command instead of running it"),
) -> None:
    """docker compose with the environment's files in order: nexusctl compose --env staging -- up -d"""
    from nexus_ops import deploy

    try:
        cmd = deploy.command(
            cu.root(),
            environment,
            list(ctx.args),
            monitoring=monitoring,
            base=["docker", "compose"] if show else None,
        )
    except ConfigError as exc:
        cu.console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if show:
        print(cmd.shell())
        raise typer.Exit(0)
    raise typer.Exit(subprocess.call(cmd.argv, env={**os.environ, **cmd.env}, cwd=cu.root()))


@images_app.command("build")
def images_build(
    tag: str = typer.Option(
        os.environ.get("NX_VERSION", "dev"), help="image tag (default NX_VERSION or dev)"
    ),
    base: str = typer.Option(
        "",
        "--base",
        "--base-image",
        help="the Python image both stages start from (default: the Dockerfile's)",
    ),
    debian: bool = typer.Option(
        False, help="make the bases here from Debian's packages (debootstrap, root); Redis and Prometheus too"
    ),
    cache: Path | None = IMAGES_CACHE,
    show: bool = typer.Option(False, "--print", help="print the commands instead of running them"),
) -> None:
    """The wheelhouse from requirements.lock (pip on this host), then every image the compose files build
    (nexus-mesh/<service>:TAG, with their build args), offline (docs/operations.md, "Images")."""
    from nexus_ops import deploy

    if show:
        for argv in deploy.build_commands(cu.root(), tag, base or None):
            print(" ".join(argv))
        raise typer.Exit(0)
    try:
        import docker

        from nexus_ops import images

        client = docker.from_env(timeout=600)
        built = images.build(
            client,
            cu.root(),
            version=tag,
            base=base or None,
            debian_bases=debian,
            cache=cache,
            log=cu.console.print,
        )
    except ImportError:
        cu.console.print("[red]the Docker SDK is missing: pip install 'nexus-ops[images]'[/]")
        raise typer.Exit(2) from None
    except (ConfigError, docker.errors.DockerException) as exc:
        cu.console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    cu.console.print(f"{len(built)} images built: {', '.join(built)}")
    if debian:
        cu.console.print(
            f"compose: NX_REDIS_IMAGE=nexus-mesh/redis:{tag} NX_PROMETHEUS_IMAGE=nexus-mesh/prometheus:{tag}"
        )


@acl_app.command("render")
def acl_render(
    out: Path | None = ACL_OUT,
    env_file: Path | None = ACL_ENV_FILE,
    generate: bool = typer.Option(False, help="make up passwords missing from NX_REDIS_PASSWORD_<USER>"),
    template: bool = typer.Option(False, help="rules only, every user off (the committed file)"),
    environment: str = typer.Option(None, "--env", help="adapter users for this environment's venues only"),
    sandbox_prefix: str = typer.Option(acl_mod.DEFAULT_SANDBOX_PREFIX, help="replay sandboxes start so"),
    pools: list[str] = ACL_POOLS,
) -> None:
    """Write the Redis ACL file: one user per service, `#<sha256>` of its password, never the password."""
    users = _users(environment, pools, sandbox_prefix)
    if template:
        text = acl_mod.render(users)
    else:
        passwords, made = acl_mod.passwords_from_env(users, generate=generate)
        missing = [u.name for u in users if u.name not in passwords]
        if missing:
            cu.console.print(
                f"[yellow]no password for {', '.join(missing)}: those users are off "
                f"(set {acl_mod.env_var(missing[0])}, ... or pass --generate)[/]"
            )
        if made and env_file is None:
            raise typer.BadParameter(
                "--generate needs --env-file: generated passwords must be kept somewhere"
            )
        if out is not None and out.resolve() == (cu.root() / "deploy" / "redis" / "users.acl").resolve():
            raise typer.BadParameter(
                "deploy/redis/users.acl is the committed template; write the live file "
                "to deploy/secrets/ (ignored by git)"
            )
        text = acl_mod.render(users, passwords)
        if env_file is not None:
            acl_mod.write_secret(env_file, acl_mod.env_file(passwords))
            cu.console.print(
                f"passwords for {len(passwords)} users in {env_file} ({len(made)} generated now)"
            )
    if out is None:
        print(text, end="")
    else:
        acl_mod.write_secret(out, text)
        cu.console.print(f"{out}: {len(users)} users")


@acl_app.command("check")
def acl_check(path: Path | None = ACL_PATH) -> None:
    """Exit 1 when the committed template differs from what the code renders (key names changed)."""
    path = path or cu.root() / "deploy" / "redis" / "users.acl"
    config = cu.config_dir()
    users = acl_mod.mesh_users(
        Names(cu.namespace()), acl_mod.all_venues(config), groups=acl_mod.symbol_groups(config)
    )
    want = acl_mod.render(users)
    if not path.exists() or path.read_text() != want:
        cu.console.print(f"[red]{path} is out of date: nexusctl acl render --template > {path}[/]")
        raise typer.Exit(1)
    cu.console.print(f"{path}: up to date ({len(users)} users)")


@acl_app.command("explain")
def acl_explain(
    environment: str = typer.Option(None, "--env", help="this environment's venues only"),
    pools: list[str] = ACL_POOLS,
) -> None:
    """Each ACL user: what it is for, its read-write, read-only and write-only key patterns."""
    from rich.table import Table

    t = Table(show_lines=True)
    for col in ("user", "for", "read + write", "read only", "write only"):
        t.add_column(col)
    for u in _users(environment, pools):
        t.add_row(u.name, u.why, "\n".join(u.rw), "\n".join(u.read), "\n".join(u.write))
    cu.console.print(t)
    cu.console.print("commands (services): " + " ".join(acl_mod.SERVICE_COMMANDS))


def _users(
    environment: str | None, pools: list[str], sandbox_prefix: str = acl_mod.DEFAULT_SANDBOX_PREFIX
) -> list[acl_mod.AclUser]:
    config = cu.config_dir()
    venues = acl_mod.all_venues(config, environment)
    try:
        pooled = acl_mod.pools_option(pools)
        groups = acl_mod.symbol_groups(config)
        return acl_mod.mesh_users(Names(cu.namespace()), venues, sandbox_prefix, pooled, groups)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
