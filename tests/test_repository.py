"""The repository's promises: CI runs the README's test command, pins agree."""

from __future__ import annotations

import re
import tomllib

import yaml

from chapters import ROOT


def readme_command(heading: str) -> str:
    """The first bash block after the bold heading `heading` in the README."""
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(f"**{heading}**"):]
    return re.search(r"```bash\n(.+?)\n```", after, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_command("Run the tests") in ci_lines


def test_readme_build_command_is_strict():
    assert "jupyter-book build --all -W -n --keep-going ." in readme_command("Set everything up and build the book")


def test_environment_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {}
    for requirement in [r for extra in project["optional-dependencies"].values() for r in extra]:
        if "==" in requirement:
            name, version = requirement.split("==")
            pinned[name.strip()] = version.strip()
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    for name, version in pinned.items():
        assert f"{name}=={version}" in pip_section, f"environment.yml lacks {name}=={version}"
    assert "torch==2.13.0" in pip_section
