"""The command line: bad input is one line on stderr, exit 2, no traceback, before any Docker call."""

import subprocess
import sys

import pytest


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "labsim", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("content,expected", [
    ("name: t3mail\ndomain: t3.metro-cit.ac.jp\npcs:\n  - name: pc5\n    colour: red\n", "bad.yml:5: unknown key 'colour'"),
    ("", "bad.yml: the file is empty"),
    ("name: t3mail\ndomain: t3.metro-cit.ac.jp\nstage: configred\npcs: [{name: pc1}]\n", "bad.yml:3: stage"),
])
def test_up_with_bad_topology(tmp_path, content, expected):
    path = tmp_path / "bad.yml"
    path.write_text(content)
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"}
    result = run("up", str(path), env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0].replace(str(tmp_path) + "/", ""), result.stderr


def test_docker_not_running_is_one_line():
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"}
    result = run("status", env=env)
    assert result.returncode == 2
    assert "Docker is not running" in result.stderr and "Traceback" not in result.stderr


def test_bad_options_exit_2():
    assert run("up", "--stage", "final").returncode == 2
    assert run("apply", "--all", "--steps", "1-9").returncode == 2
    result = run("schema")
    assert result.returncode == 0 and '"title": "labsim topology"' in result.stdout


def test_every_bad_topology_case_through_the_command_line(tmp_path, monkeypatch, capsys):
    """The whole bad-input table through `labsim up`: one line on stderr, exit 2, no traceback, and no
    Docker call at all (DOCKER_HOST points nowhere, so any call would fail differently)."""
    from labsim import cli

    from .test_topology import BAD

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for case, text, line, words in BAD:
        path = tmp_path / "class.yml"
        path.write_text(text)
        monkeypatch.setattr(sys, "argv", ["labsim", "up", str(path)])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (case, err)
        lines = [x for x in err.splitlines() if x.strip()]
        assert len(lines) == 1, (case, err)
        assert lines[0].startswith(f"error: {path}"), (case, err)
        assert "Traceback" not in err and "Docker is not running" not in err, (case, err)


def test_exercise_send_starts_without_the_topology_schema_machinery():
    """`exercise send` is a command a student runs again and again (target 1.5 s with the reply): it
    imports neither pydantic nor yaml, which only `up` and `schema` need (0.1-0.3 s on a slow machine)."""
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "labsim", "exercise", "send", "pc1", "pc2"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2 and "Docker is not running" in result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "labsim.exercise.send" in imported or "labsim.cli_exercise" in imported
    assert not {"pydantic", "yaml"} & imported, sorted({"pydantic", "yaml"} & imported)
