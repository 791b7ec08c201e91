"""The files around the program: Pulumi.yaml declares every key, the dev stack is valid, the
README documents every key and the commands CI runs, the workflow lints, the scripts pass shellcheck."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import CONFIG_KEYS, parse_config
from components.config_checks import ConfigError
from components.config_model import DEFAULT_VERSION
from tests.e2e import rocketmq_dist
from tests.pulumi_harness import PRIVATE_KEY, PROJECT_ROOT, PUBLIC_KEY

ADMIN_PASSWORD = "an-Adm1n-password"


def _load(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((PROJECT_ROOT / name).read_text())  # type: ignore[no-any-return]


def test_pulumi_yaml_declares_every_key() -> None:
    project = _load("Pulumi.yaml")
    assert project["name"] == "rocketmq"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    declared = project["config"]
    assert set(declared) == set(CONFIG_KEYS)
    for key, declaration in declared.items():
        assert declaration.get("description"), f"{key} has no description"
    # Optional for the engine (target local makes its own); the program refuses it unless secret.
    assert declared["sshPrivateKey"]["default"] == "" and "secret" not in declared["sshPrivateKey"]


def test_pulumi_yaml_defaults_are_accepted_by_the_program() -> None:
    defaults = {key: d["default"] for key, d in _load("Pulumi.yaml")["config"].items() if "default" in d}
    keys = {"sshPrivateKey": PRIVATE_KEY, "sshPublicKey": PUBLIC_KEY, "sshCidrs": '["203.0.113.0/24"]'}
    # Access control is on by default: the admin's password is the one more thing to set.
    with pytest.raises(ConfigError, match=r"^rocketmq:aclAdminPassword: is required: access control .* on by default"):
        parse_config({**defaults, **keys})
    cfg = parse_config({**defaults, **keys, "aclAdminPassword": ADMIN_PASSWORD})
    assert cfg.mode.value == "single-master" and cfg.target == "aws" and cfg.acl is not None


def test_one_default_release_everywhere() -> None:
    # Pulumi.yaml, the program and the e2e builds must agree, or the e2e suite verifies another release.
    assert _load("Pulumi.yaml")["config"]["version"]["default"] == DEFAULT_VERSION
    assert rocketmq_dist.DEFAULT_VERSION == DEFAULT_VERSION
    assert f"| `version` | `{DEFAULT_VERSION}` |" in (PROJECT_ROOT / "README.md").read_text()


def test_dev_stack_is_valid() -> None:
    stack = _load("Pulumi.dev.yaml")["config"]
    ours = {k: json.dumps(v) if isinstance(v, list) else v for k, v in stack.items() if k.startswith("rocketmq:")}
    # What the file's comment says to set before `pulumi up`.
    keys = {"rocketmq:sshPrivateKey": PRIVATE_KEY, "rocketmq:sshPublicKey": PUBLIC_KEY}
    cfg = parse_config({**ours, **keys, "rocketmq:aclAdminPassword": ADMIN_PASSWORD})
    assert cfg.mode.value == "single-master" and cfg.acl is not None
    assert "aws:region" in stack
    assert "pulumi config set --secret rocketmq:aclAdminPassword" in (PROJECT_ROOT / "Pulumi.dev.yaml").read_text()


def test_readme_documents_every_key_and_the_two_commands() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for key in CONFIG_KEYS:
        assert re.search(rf"`{key}`", readme), f"README.md does not document {key}"
    assert "scripts/pulumi.sh up" in readme
    assert "scripts/test.sh" in readme
    assert "scripts/test.sh" in (PROJECT_ROOT / ".ci" / "run").read_text()


def _workflow() -> tuple[Path, dict[Any, Any]]:
    path = PROJECT_ROOT / ".github" / "workflows" / "preview.yml"
    return path, yaml.safe_load(path.read_text())


def test_workflow_previews_pull_requests_after_the_tests() -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is missing: scripts/test.sh installs it"
    workflow_path, workflow = _workflow()
    result = subprocess.run([actionlint, str(workflow_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "test"
    step = next(s for s in preview["steps"] if s.get("with", {}).get("command") == "preview")
    assert step["uses"].startswith("pulumi/actions@") and step["with"]["comment-on-pr"] is True


def test_workflow_gives_pull_request_code_nothing_to_leak() -> None:
    workflow_path, workflow = _workflow()
    text = workflow_path.read_text()
    # pull_request runs the branch's code without the repository's secrets; pull_request_target
    # would run it with them.
    assert set(workflow[True]) == {"pull_request"}  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    test, preview = workflow["jobs"]["test"], workflow["jobs"]["preview"]
    assert "permissions" not in test and "if" not in test  # every pull request, forks too
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write", "id-token": "write"}
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert "github.actor != 'dependabot[bot]'" in preview["if"]
    # No stored credential: AWS through OIDC, Pulumi on a backend of the runner's own.
    assert re.findall(r"secrets\.(\w+)", text) == ["GITHUB_TOKEN"]
    assert "PULUMI_ACCESS_TOKEN" not in text
    aws = next(s for s in preview["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert set(aws["with"]) == {"role-to-assume", "aws-region"}
    stack = next(s for s in preview["steps"] if "ssh-keygen" in s.get("run", ""))
    assert 'PULUMI_BACKEND_URL="file://$RUNNER_TEMP/pulumi-state"' in stack["run"]
    assert "--secret rocketmq:sshPrivateKey" in stack["run"]
    assert "--secret rocketmq:aclAdminPassword" in stack["run"]  # access control is on by default


def test_repository_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck
    scripts = [*sorted((PROJECT_ROOT / "scripts").glob("*.sh")), PROJECT_ROOT / ".ci" / "run"]
    scripts += sorted((PROJECT_ROOT / "tests" / "e2e").glob("*.sh"))
    scripts += sorted((PROJECT_ROOT / "benchmarks").glob("*.sh"))
    result = subprocess.run([shellcheck, "-x", *map(str, scripts)], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(scripts) >= 4


def test_no_binaries_or_caches_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=PROJECT_ROOT).stdout.split()
    banned = re.compile(
        r"\.(jar|zip|tar|gz|so|exe|class)$|(^|/)(pulumi|pulumi-language-python|pulumi-resource-command)$"
    )
    assert not [p for p in tracked if banned.search(p)]
    assert Path(PROJECT_ROOT / ".gitignore").read_text().count("venv") >= 1
