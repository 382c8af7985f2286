"""The `hydrogen` command: list, call and inspect tools; demo every bundled tool."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import click
import msgspec

from runtime.errors import CallError, HydrogenError
from runtime.host.supervisor import DEFAULT_PROFILES_DIR, PROFILES_ENV, Supervisor, ToolInfo

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table as RichTable

__all__ = ["main"]

DEFAULT_PLUGINS_DIR: Final = Path(__file__).resolve().parents[1] / "plugins"
PLUGINS_ENV: Final = "HYDROGEN_PLUGINS"
# Characters of a result shown in the demo table; the full result is in --json output.
PREVIEW_CHARS: Final = 90
DEFAULT_HTTP_HOST: Final = "127.0.0.1"
DEFAULT_HTTP_PORT: Final = 8000
SERVER_ENV: Final = "HYDROGEN_SERVER"
TOKEN_ENV: Final = "HYDROGEN_TOKEN"

T = TypeVar("T")


@functools.cache
def _console(stderr: bool = False) -> Console:
    """rich, imported on first output: ``serve --stdio`` prints nothing and must start fast
    (rich costs ~20 ms of import)."""
    from rich.console import Console

    return Console(stderr=stderr)


def _table(*columns: str, **options: Any) -> RichTable:
    """A rich table, with rich imported on first use (see _console)."""
    from rich.table import Table as RichTableClass

    return RichTableClass(*columns, **options)


class _JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if hasattr(record, "plugin"):
            entry["plugin"] = record.plugin
        return json.dumps(entry)


def _configure_logging(verbose: bool, log_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_json:
        handler.setFormatter(_JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def _plugin_dirs(values: tuple[str, ...]) -> list[Path]:
    if values:
        return [Path(v) for v in values]
    env = os.environ.get(PLUGINS_ENV)
    return [Path(p) for p in env.split(os.pathsep)] if env else [DEFAULT_PLUGINS_DIR]


@dataclass(frozen=True)
class _Options:
    """Global options: where plugins are, and who may call what (with an audit trail)."""

    plugin_dirs: list[Path]
    policy: Path | None
    audit_log: Path | None
    allow_degraded: bool | None
    no_gate: bool

    def supervisor(self, *, wait_ready: bool = True, watch: bool | None = None) -> Supervisor:
        return Supervisor(
            self.plugin_dirs,
            policy=self.policy,
            audit_log=self.audit_log,
            allow_degraded=self.allow_degraded,
            # None leaves the choice to $HYDROGEN_GATE (default: gated).
            gate=False if self.no_gate else None,
            wait_ready=wait_ready,
            # None leaves the choice to $HYDROGEN_WATCH (default: off).
            watch=watch,
        )


_CALLER_HELP = "Call as this role of the caller policy (default: its default_role)."


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return anyio.run(fn)
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc


def _report_problems(sup: Supervisor) -> None:
    for problem in sup.problems:
        _console(stderr=True).print(f"[yellow]problem:[/yellow] {problem}")


@click.group()
@click.option(
    "--plugins",
    "plugins",
    multiple=True,
    metavar="DIR",
    help=f"Plugin directory (repeatable). Default: ${PLUGINS_ENV} or ./plugins.",
)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Caller policy YAML (roles -> tools). Default: $HYDROGEN_POLICY, else no policy: "
    "every caller may call every tool.",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Append one JSON line per call to FILE (rotated by size). Default: $HYDROGEN_AUDIT_LOG.",
)
@click.option(
    "--allow-degraded",
    is_flag=True,
    default=None,
    help="Start plugins even where a confinement layer their profile needs is missing here "
    "(status says which layers are off). Default: $HYDROGEN_ALLOW_DEGRADED, else refuse.",
)
@click.option(
    "--no-gate",
    is_flag=True,
    help="Admit plugins WITHOUT the security gate (plugin development, trusted code only). "
    "Logged loudly and shown in status.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log plugin output at INFO level.")
@click.option("--log-json", is_flag=True, help="Structured JSON logs on stderr.")
@click.pass_context
def cli(
    ctx: click.Context,
    plugins: tuple[str, ...],
    policy: Path | None,
    audit_log: Path | None,
    allow_degraded: bool | None,
    no_gate: bool,
    verbose: bool,
    log_json: bool,
) -> None:
    """Hydrogen: run untrusted tool plugins in confined worker processes."""
    _configure_logging(verbose, log_json)
    ctx.obj = _Options(_plugin_dirs(plugins), policy, audit_log, allow_degraded, no_gate)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def tools(options: _Options, as_json: bool) -> None:
    """List every admitted tool."""

    async def body() -> None:
        async with options.supervisor() as sup:
            infos = sup.tools()
            if as_json:
                click.echo(msgspec.json.encode(infos).decode())
                return
            _report_problems(sup)
            table = _table("tool", "plugin", "timeout", "description")
            for info in infos:
                table.add_row(info.name, info.plugin, f"{info.timeout:g}s", info.description)
            _console().print(table)

    _run(body)


@cli.command()
@click.argument("tool")
@click.argument("params", default="{}")
@click.option(
    "--timeout", type=float, default=None, help="Seconds; never more than the tool's own."
)
@click.option("--caller", metavar="ROLE", default=None, help=_CALLER_HELP)
@click.pass_obj
def call(
    options: _Options, tool: str, params: str, timeout: float | None, caller: str | None
) -> None:
    """Call TOOL with PARAMS (a JSON object) and print the JSON result."""
    try:
        arguments = json.loads(params)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="PARAMS") from exc

    async def body() -> dict[str, Any]:
        async with options.supervisor() as sup:
            return await sup.call(tool, arguments, timeout=timeout, caller=caller)

    click.echo(json.dumps(_run(body), indent=2, default=str))


_HTTP_CONFIG_HELP = (
    "HTTP server config YAML (tokens, limits, result cache, alert thresholds and webhook). "
    "Default: $HYDROGEN_HTTP_CONFIG, else built-in defaults."
)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--server",
    metavar="URL",
    default=None,
    help="Show a running 'hydrogen serve --http' (its /health: plugin states and the alerts "
    "firing) instead of starting the plugins here. Default: $HYDROGEN_SERVER.",
)
@click.option("--token", default=None, help="Bearer token for --server. Default: $HYDROGEN_TOKEN.")
@click.option(
    "--http-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help=_HTTP_CONFIG_HELP,
)
@click.pass_obj
def status(
    options: _Options,
    as_json: bool,
    server: str | None,
    token: str | None,
    http_config: Path | None,
) -> None:
    """Start every plugin and show its state, containment, resources and any alert it raises.

    With --server, show a running HTTP server's plugins and alerts instead.
    """
    server = server or os.environ.get(SERVER_ENV) or None
    if server is not None:
        _status_of_server(server, token or os.environ.get(TOKEN_ENV) or None, as_json)
        return

    async def body() -> dict[str, Any]:
        from runtime.http.config import load_http_config
        from runtime.http.status import alerts_for

        config = load_http_config(http_config)
        async with options.supervisor() as sup:
            report = sup.status()
            report["alerts"] = alerts_for(sup, report, config.alerts)
            return report

    report = _run(body)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = _table("plugin", "state", "pid", "containment", "rss MiB", "reason")
    for name, info in report["plugins"].items():
        res = info["resources"] or {}
        rss = f"{res['rss_bytes'] / 2**20:.1f}" if "rss_bytes" in res else "-"
        table.add_row(
            name,
            info["state"],
            str(info["pid"] or "-"),
            info["containment"] or "-",
            rss,
            info["reason"],
        )
    _console().print(table)
    _print_alerts(report["alerts"])
    for problem in report["problems"]:
        _console(stderr=True).print(f"[yellow]problem:[/yellow] {problem}")


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        _console().print("alerts: none firing")
        return
    table = _table("severity", "alert", "subject", "message", title="Alerts firing")
    for alert in alerts:
        color = "red" if alert["severity"] == "critical" else "yellow"
        table.add_row(
            f"[{color}]{alert['severity']}[/{color}]",
            alert["rule"],
            alert["subject"],
            alert["message"],
        )
    _console().print(table)


def _status_of_server(url: str, token: str | None, as_json: bool) -> None:
    from runtime.http.status import fetch_health

    try:
        report = fetch_health(url, token)
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = _table(
        "plugin",
        "state",
        "tools",
        "restarts",
        "reason",
        title=f"{url}: {report['status']}, up {report['uptime_s']:.0f}s",
    )
    for name, info in report["plugins"].items():
        table.add_row(
            name, info["state"], str(info["tools"]), str(info["restarts"]), info["reason"]
        )
    _console().print(table)
    _print_alerts(report["alerts"])
    for problem in report["problems"]:
        _console(stderr=True).print(f"[yellow]problem:[/yellow] {problem}")


@cli.command()
@click.option("--stdio", is_flag=True, help="Speak MCP on stdin/stdout.")
@click.option(
    "--http",
    is_flag=True,
    help="Serve the HTTP API: GET /tools, POST /execute, POST /execute/batch, GET /health, "
    "GET /metrics, GET /openapi.json. Combines with --stdio (one set of workers).",
)
@click.option(
    "--host",
    default=None,
    metavar="ADDRESS",
    help=f"HTTP address. Default: {DEFAULT_HTTP_HOST}; any other needs bearer tokens.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=f"HTTP port. Default: {DEFAULT_HTTP_PORT}; 0 picks a free one (printed on stderr).",
)
@click.option(
    "--http-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help=_HTTP_CONFIG_HELP,
)
@click.option(
    "--role",
    metavar="ROLE",
    default=None,
    help=_CALLER_HELP + " Over HTTP, the role of requests when no tokens are configured.",
)
@click.option(
    "--watch",
    is_flag=True,
    default=None,
    help="Hot-reload plugins whose folder changes (default: $HYDROGEN_WATCH, off). "
    "Without it, SIGHUP reloads changed plugins.",
)
@click.pass_obj
def serve(
    options: _Options,
    stdio: bool,
    http: bool,
    host: str | None,
    port: int | None,
    http_config: Path | None,
    role: str | None,
    watch: bool | None,
) -> None:
    """Serve every admitted tool over MCP (--stdio), HTTP (--http), or both at once.

    With --stdio, stdout carries only MCP messages and the server exits 0 when stdin closes.
    With --http, it serves until SIGINT or SIGTERM, lets requests in flight finish, and exits
    0. Either way every worker is stopped first; logs go to stderr.
    """
    if not http and (host is not None or port is not None or http_config is not None):
        raise click.UsageError("--host, --port and --http-config need --http")
    if not stdio and not http:
        raise click.UsageError(
            "choose a transport: 'hydrogen serve --stdio' (MCP), '--http', or both"
        )
    if http:
        _serve_http(options, stdio, host, port, http_config, role, watch)
        return
    from runtime.mcp.stdio import serve_stdio

    try:
        # The MCP handshake must not wait for workers: tools are listed from their manifests
        # and list_changed follows when the workers report their real schemas.
        supervisor = options.supervisor(wait_ready=False, watch=watch)
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc
    raise SystemExit(serve_stdio(supervisor, role=role, version=_version()))


def _serve_http(
    options: _Options,
    stdio: bool,
    host: str | None,
    port: int | None,
    http_config: Path | None,
    role: str | None,
    watch: bool | None = None,
) -> None:
    from runtime.http.config import load_http_config
    from runtime.http.server import ServeOptions, serve_http

    try:
        config = load_http_config(http_config)
        # Answer /health ("starting") while plugins are admitted and started.
        supervisor = options.supervisor(wait_ready=False, watch=watch)
        status = serve_http(
            supervisor,
            ServeOptions(
                host=host or DEFAULT_HTTP_HOST,
                port=DEFAULT_HTTP_PORT if port is None else port,
                config=config,
                role=role,
                stdio=stdio,
                version=_version(),
            ),
        )
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc
    raise SystemExit(status)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hydrogen-runtime")
    except PackageNotFoundError:
        return "0"


def _manifest_order(sup: Supervisor) -> list[ToolInfo]:
    """Tools plugin by plugin, each plugin's in plugin.yaml order (an example may rely on the
    one before it, e.g. search after add)."""
    plugins = list(sup._plugins)

    def position(info: ToolInfo) -> tuple[int, int]:
        names = [t.name for t in sup._plugins[info.plugin].manifest.tools]
        index = names.index(info.name) if info.name in names else len(names)
        return plugins.index(info.plugin), index

    return sorted(sup.tools(), key=position)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--caller", metavar="ROLE", default=None, help=_CALLER_HELP)
@click.pass_obj
def demo(options: _Options, as_json: bool, caller: str | None) -> None:
    """Admit and start every plugin, call every tool once, and print results and timings.

    Each tool is called with the first entry of its ``examples`` in plugin.yaml, or ``{}``.
    Exits 1 if any plugin failed to start or any call failed.
    """

    async def body() -> dict[str, Any]:
        started = time.perf_counter()
        async with options.supervisor() as sup:
            ready = time.perf_counter() - started
            rows = []
            for info in _manifest_order(sup):
                runtime = sup._plugins[info.plugin]
                params = _example_params(runtime.manifest.raw, info.name)
                t0 = time.perf_counter()
                try:
                    result: Any = await sup.call(info.name, params, caller=caller)
                    ok, error = True, ""
                except CallError as exc:
                    result, ok, error = None, False, str(exc)
                rows.append(
                    {
                        "tool": info.name,
                        "plugin": info.plugin,
                        "ok": ok,
                        "ms": round((time.perf_counter() - t0) * 1000, 1),
                        "result": result,
                        "error": error,
                    }
                )
            report = sup.status()
        return {"ready_s": round(ready, 3), "calls": rows, "status": report}

    outcome = _run(body)
    failed = [r for r in outcome["calls"] if not r["ok"]]
    bad_plugins = {
        n: p
        for n, p in outcome["status"]["plugins"].items()
        if p["state"] not in ("active", "disabled", "stopped")
    }
    if as_json:
        click.echo(json.dumps(outcome, indent=2, default=str))
    else:
        table = _table(
            "plugin",
            "tool",
            "ok",
            "ms",
            "result (preview)",
            title=f"Hydrogen demo: plugins ready in {outcome['ready_s']:.3f}s",
        )
        for row in outcome["calls"]:
            preview = row["error"] or json.dumps(row["result"], default=str)
            if len(preview) > PREVIEW_CHARS:
                preview = preview[: PREVIEW_CHARS - 3] + "..."
            table.add_row(
                row["plugin"],
                row["tool"],
                "yes" if row["ok"] else "[red]NO[/red]",
                f"{row['ms']:.1f}",
                preview,
            )
        _console().print(table)
        _print_admission(outcome["status"])
        for problem in outcome["status"]["problems"]:
            _console(stderr=True).print(f"[yellow]problem:[/yellow] {problem}")
        for name, info in bad_plugins.items():
            _console(stderr=True).print(
                f"[red]plugin {name} is {info['state']}:[/red] {info['reason']}"
            )
    if failed or bad_plugins or not outcome["calls"]:
        raise SystemExit(1)


def _print_admission(status: dict[str, Any]) -> None:
    """How each plugin was admitted and what its worker is confined by."""
    table = _table("plugin", "security gate", "confinement in force", title="Admission")
    gate_state = status.get("gate", "")
    for name, info in status["plugins"].items():
        verdict = info.get("gate")
        if verdict is None:
            gate = gate_state if gate_state != "on" else "-"
        else:
            gate = f"{verdict['decision']}{' (cached)' if verdict['cached'] else ''}"
        layers = info.get("layers") or {}
        confined = ", ".join(
            layer for layer, detail in layers.items() if detail.startswith("on") and layer != "cost"
        )
        table.add_row(name, gate, confined or "-")
    _console().print(table)


def _example_params(manifest: dict[str, Any], tool: str) -> dict[str, Any]:
    for entry in manifest.get("tools") or []:
        if isinstance(entry, dict) and entry.get("name") == tool:
            examples = entry.get("examples") or []
            if examples and isinstance(examples[0], dict):
                return dict(examples[0])
    return {}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--profiles",
    "profiles_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Sandbox profiles to check. Default: $HYDROGEN_PROFILES or ./sandbox_profiles.",
)
def doctor(as_json: bool, profiles_dir: Path | None) -> None:
    """Which confinement layers this machine enforces, and which profiles can run as written.

    Exit status 0 when every layer is in force and every profile is enforceable, else 1.
    """
    from runtime.doctor import diagnose

    report = diagnose(profiles_dir or Path(os.environ.get(PROFILES_ENV) or DEFAULT_PROFILES_DIR))
    if as_json:
        click.echo(msgspec.json.encode(report).decode())
    else:
        layers = _table("layer", "in force", "what it does here", title="Confinement layers")
        for row in report.layers:
            mark = "[green]yes[/green]" if row.available else "[red]no[/red]"
            layers.add_row(row.layer, mark, row.detail)
        _console().print(layers)
        profiles = _table("profile", "enforceable", "missing", title="Sandbox profiles")
        for prow in report.profiles:
            mark = "[green]yes[/green]" if prow.enforceable else "[red]no[/red]"
            profiles.add_row(prow.profile, mark, ", ".join(prow.missing) or "-")
        _console().print(profiles)
        for problem in report.problems:
            _console(stderr=True).print(f"[yellow]problem:[/yellow] {problem}")
    raise SystemExit(0 if report.all_in_force else 1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "sarif"]),
    default="table",
    help="table for people; json for scripts; sarif (2.1.0) for code scanning.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    help="The least severe unwaived finding that refuses a plugin.",
)
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Waiver file (findings accepted per plugin, with reason, approver, expiry). "
    "Default: $HYDROGEN_WAIVERS.",
)
@click.option("--no-cache", is_flag=True, help="Re-scan even when the plugin is unchanged.")
def review(
    paths: tuple[Path, ...],
    output_format: str,
    fail_on: str,
    waivers: Path | None,
    no_cache: bool,
) -> None:
    """Run the admission gate on plugin folders (or folders of plugins) and give a verdict.

    Exit status: 0 admit, 1 refuse, 2 the gate could not decide.
    """
    # Imported here: `serve` and `call` start faster without the gate's modules in the way.
    from runtime.gate.gate import Gate, GateConfig, gate_from_environment
    from runtime.gate.verdict import FailOn
    from runtime.review import EXIT_GATE_ERROR, review_paths

    defaults = gate_from_environment()
    config = GateConfig(
        fail_on=FailOn(fail_on),
        waivers=waivers or defaults.waivers,
        use_cache=not no_cache,
    )
    try:
        gate = Gate(config)
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(EXIT_GATE_ERROR) from exc
    status = review_paths(
        list(paths), gate, output_format=output_format, out=_console(), err=_console(stderr=True)
    )
    raise SystemExit(status)


@cli.command("import-advisories")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to install it. Default: ~/.local/share/hydrogen/advisory-db, which the gate "
    "uses when $HYDROGEN_ADVISORY_DB is not set.",
)
def import_advisories(source: Path, dest: Path | None) -> None:
    """Install a newer OSV advisory export (a directory, or a zip such as OSV's all.zip).

    Every record is parsed before the switch, so a bad export leaves the current one in place.
    """
    try:
        from runtime.gate.advisories import import_export

        advisories = import_export(source, dest)
    except HydrogenError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc
    _console().print(
        f"installed {advisories.count} advisories for {advisories.package_count} packages "
        f"(revision {advisories.revision}) at {advisories.path}"
    )


def main() -> None:
    cli(prog_name="hydrogen")
