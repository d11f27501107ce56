"""`make compat`: the end-to-end core against each chosen LiteLLM release, then a matrix.

One virtual environment per release under `.cache/compat/` (kept between runs, rebuilt when
pyproject.toml changes), holding `litellm[proxy]` at that release, this package (editable) and
its test extras. In each, pytest runs the tests marked `compat_core` in tests/e2e: allow,
block, the fail modes, one stream per route family, approvals and their resumption, the
enablement levels and MCP tools, through the real `litellm` CLI of that release.

Exit status 1 when a row is red. `--only 1.106.2` runs one release; `--list` prints the plan.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "compat"
UV = REPO / ".cache" / "uv-bootstrap" / "bin" / "uv"


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    version: str
    role: str
    #: uv `--override` lines: what the release's own pins would need but the index lacks.
    overrides: tuple[str, ...] = ()
    #: What differs on this release, as found by running the core against it.
    differs: str = ""


RELEASES: tuple[Release, ...] = (
    Release(
        version="1.84.0",
        role="floor",
        differs=(
            "config module paths only next to the config (loader file); MCP server name not "
            "passed to the hook, hook run twice, REST calls by server id; OpenAI envelope for "
            "/v1/messages refusals; chat stream usage estimated; model-level guardrail sees "
            "the deployment's model; no call id on refused /v1/completions"
        ),
    ),
    Release(
        version="1.94.1",
        role="middle",
        differs=(
            "OpenAI envelope for /v1/messages refusals; chat stream usage estimated; "
            "model-level guardrail sees the deployment's model; MCP hook run twice; no call "
            "id on refused /v1/completions"
        ),
    ),
    Release(version="1.106.2", role="locked (uv.lock)", differs="none (the reference)"),
    Release(
        version="1.109.3",
        role="newest installable",
        overrides=("litellm-proxy-extras==0.4.110", "litellm-enterprise==0.1.82"),
        differs=(
            "installed with the closest builds the index here has: litellm-proxy-extras 0.4.110 "
            "(pins 0.4.113) and litellm-enterprise 0.1.82 (pins 0.1.82.post1); the `litellm` "
            "command comes from the new `litellm_cli` package"
        ),
    ),
)


@dataclass(slots=True)
class Result:
    release: Release
    installed: bool = False
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def green(self) -> bool:
        return self.installed and self.failed == 0 and self.passed > 0 and self.skipped == 0


def _stamp() -> str:
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    return digest.hexdigest()[:16]


def _run(argv: list[str], *, log: Path, env: dict[str, str] | None = None) -> int:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        return subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)


def ensure_env(release: Release, log: Path) -> Path | None:
    """The release's environment, created or reused; None when it cannot be installed."""
    env_dir = CACHE / f"litellm-{release.version}"
    ready = env_dir / ".compat-ready"
    stamp = f"{_stamp()} {release.overrides}"
    if ready.exists() and ready.read_text() == stamp:
        return env_dir
    python = os.environ.get("PYTHON", "python3")
    if _run([str(UV), "venv", "--quiet", "--clear", "--python", python, str(env_dir)], log=log):
        return None
    install = [
        str(UV),
        "pip",
        "install",
        "--python",
        str(env_dir / "bin" / "python"),
        "-e",
        ".[test]",
        f"litellm[proxy]=={release.version}",
    ]
    if release.overrides:
        overrides = env_dir / "overrides.txt"
        overrides.write_text("\n".join(release.overrides) + "\n")
        install += ["--override", str(overrides)]
    if _run(install, log=log):
        return None
    ready.write_text(stamp)
    return env_dir


def run_core(release: Release) -> Result:
    CACHE.mkdir(parents=True, exist_ok=True)
    log = CACHE / f"litellm-{release.version}.log"
    log.write_text("")
    result = Result(release, log=log)
    started = time.monotonic()
    env_dir = ensure_env(release, log)
    if env_dir is None:
        result.seconds = time.monotonic() - started
        result.failures.append("environment could not be installed (see the log)")
        return result
    result.installed = True
    junit = CACHE / f"litellm-{release.version}.xml"
    junit.unlink(missing_ok=True)
    argv = [
        str(env_dir / "bin" / "python"),
        "-m",
        "pytest",
        "-m",
        "compat_core",
        "tests/e2e",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
    ]
    _run(argv, log=log, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    result.seconds = time.monotonic() - started
    if junit.exists():
        _read_junit(junit, result)
    else:
        result.failures.append("pytest wrote no report (see the log)")
        result.failed += 1
    return result


def _read_junit(path: Path, result: Result) -> None:
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result.failed += 1
            result.failures.append(name)
        elif case.find("skipped") is not None:
            result.skipped += 1
            result.failures.append(f"skipped: {name}")
        else:
            result.passed += 1


def print_matrix(results: list[Result]) -> None:
    print("\nLiteLLM compatibility (end-to-end core, tests marked compat_core)\n")
    header = f"{'release':<10} {'role':<20} {'status':<8} {'passed':>6} {'failed':>6} {'time':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        status = "green" if r.green else "RED"
        print(
            f"{r.release.version:<10} {r.release.role:<20} {status:<8} "
            f"{r.passed:>6} {r.failed + r.skipped:>6} {r.seconds:>6.0f}s"
        )
    print()
    for r in results:
        print(f"{r.release.version}: {r.release.differs}")
        for failure in r.failures[:20]:
            print(f"    {failure}")
        if not r.green:
            print(f"    log: {r.log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this release (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the releases and exit")
    args = parser.parse_args(argv)
    releases = [r for r in RELEASES if not args.only or r.version in args.only]
    if args.list or not releases:
        for r in RELEASES:
            print(f"{r.version:<10} {r.role:<20} {r.differs}")
        return 0 if releases else 2
    results = []
    for release in releases:
        print(f"== litellm {release.version} ({release.role})", flush=True)
        result = run_core(release)
        print(
            f"   {'green' if result.green else 'RED'}: {result.passed} passed, "
            f"{result.failed} failed, {result.skipped} skipped in {result.seconds:.0f} s",
            flush=True,
        )
        results.append(result)
    print_matrix(results)
    return 0 if all(r.green for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
