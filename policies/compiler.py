"""The compiler: sharing catalogue (+ author rules) -> Casbin `model.conf` and `policy.csv`.

Default deny; deny overrides allow. Each rule's last column names the catalogue entry or author
rule it came from, and a comment heads every agency and dataset, so a policy author can trace
any line back. The same inputs give byte-identical files. See docs/policies.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policies.errors import PolicyError
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from policies.catalog import Catalog, FieldShare
    from policies.rules import AuthorRule

__all__ = ["MODEL", "CompiledPolicy", "compile_policy", "write_policy"]

MODEL = """\
# govgate access model (see docs/policies.md). Compiled by `govgate policy compile`.
#
# A request asks: may agency SUB perform ACT on OBJ on DAY?
#   OBJ is a field "Type.field" (ACT query or verify) or a type "Type" (ACT scope:city or
#   scope:division: which records of that type the agency sees, Art. 21).
#   DAY is the date of the decision (YYYY-MM-DD), for temporary rules that end on UNTIL.
[request_definition]
r = sub, obj, act, day

# SUB is an agency code, a group (duty:ID, level:city|district, sharing:unconditional,
# role:administrator) or * (everyone). OBJ may end in * (Type.* is every field of Type).
# UNTIL is * or the last day the rule applies. SOURCE names the catalogue entry or author rule.
[policy_definition]
p = sub, obj, act, eft, until, source

# g, AGENCY, GROUP: the agency holds a duty, is at a level, or receives unconditional sharing.
[role_definition]
g = _, _

# Default deny; an explicit deny overrides any allow.
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = {matcher}
""".format(
    matcher=" && ".join(
        (
            '(p.sub == "*" || g(r.sub, p.sub))',
            "keyMatch(r.obj, p.obj)",
            '(p.act == "*" || r.act == p.act)',
            '(p.until == "*" || r.day <= p.until)',
        )
    )
)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """The two Casbin files as text."""

    model: str
    policy: str
    #: A short content hash: the same files, the same version. Hashed once: every request
    #: reads it, and hashing a city's policy text costs about 30 µs.
    version: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.model.encode() + b"\0" + self.policy.encode())
        object.__setattr__(self, "version", digest.hexdigest()[:16])

    @property
    def catalog_version(self) -> str | None:
        """The catalogue version named in the policy's first line, if it names one."""
        first = self.policy.split("\n", 1)[0]
        match = re.search(r"\(catalogue version (\S+)\)\.$", first)
        return match.group(1) if match else None

    def notes(self) -> dict[str, str]:
        """Author rules' notes by source tag, read back from the policy's comments."""
        found = re.finditer(r"^# (rules:\S+:\d+): (.*)$", self.policy, flags=re.MULTILINE)
        return {match.group(1): match.group(2) for match in found}


# Every column of a rule line is plain: no commas, brackets, quotes, spaces or line breaks, which
# Casbin's CSV readers would take as structure. The catalogue and rule checks guarantee it; this
# is the last line of defence should they ever be loosened.
_PLAIN = re.compile(r"[A-Za-z0-9:._*/-]+")


def _line(*columns: str) -> str:
    for column in columns:
        if not _PLAIN.fullmatch(column):
            raise PolicyError(
                f"Refusing to compile the rule column {column!r}: rule columns may hold only "
                "letters, digits and : . _ * / -. Report this: the catalogue checks missed it."
            )
    return ", ".join(columns)


def _comment(text: str) -> str:
    # A comment must stay one line for every reader: fold any whitespace (line breaks too).
    return "# " + " ".join(text.split())


def compile_policy(catalog: Catalog, rules: tuple[AuthorRule, ...] = ()) -> CompiledPolicy:
    """Compile a validated catalogue and validated author rules."""
    out = [
        _comment(
            f"govgate policy compiled from {Path(catalog.path).name} "
            f"(catalogue version {catalog.version})."
        ),
        "# Do not edit: change the catalogue or the author rules, then run "
        "`govgate policy compile`.",
        "# Columns: p, subject, object, action, effect, until, source"
        " | g, agency, group. See docs/policies.md.",
        "",
        "# == Agencies: level (Art. 21), unconditional sharing (Art. 2, 4), duties (Art. 4, 18)",
    ]
    for agency in catalog.agencies:
        # Art. 18, 21: the Govgate-Duty requirement is no Casbin decision, but it is part of
        # what the policy serves, so it shows here (and changes the policy's version).
        bound = "; must name its duty" if catalog.duty_required(agency.code) else ""
        out.append(
            _comment(
                f"{agency.code} {agency.name} ({agency.level} {agency.division}, {agency.kind}"
                f"{bound})"
            )
        )
        out.append(_line("g", agency.code, f"level:{agency.level}"))
        if agency.kind in catalog.unconditional_kinds:
            out.append(_line("g", agency.code, "sharing:unconditional"))
        out.extend(_line("g", agency.code, f"duty:{duty}") for duty in agency.duties)
    out += [
        "",
        "# == Platform administrator (Art. 5)",
        _line("g", catalog.administrator, "role:administrator"),
        _line(
            "p",
            "role:administrator",
            "platform",
            "administer",
            "allow",
            "*",
            "catalog:administrator",
        ),
        "",
        "# == Regional scope (Art. 21): which records each level sees",
    ]
    for level, scope in catalog.regional_scope.items():
        for source in SOURCES.values():
            out.append(
                _line("p", f"level:{level}", source.entity, f"scope:{scope}", "allow", "*",
                      f"catalog:regional_scope/{level}")
            )  # fmt: skip
    for dataset in catalog.datasets:
        out += [
            "",
            _comment(
                f"== Dataset {dataset.id} {dataset.name}: provided by {dataset.provider} from "
                f"source {dataset.source}, updated {dataset.frequency.text} (Art. 8, 14, 17)"
            ),
        ]
        for share in dataset.fields:
            out.extend(_share_lines(share))
    if rules:
        out += ["", "# == Author rules (checked against the catalogue, merged last)"]
        for rule in rules:
            out.append(_comment(f"{rule.source_tag}: {rule.note}"))
            out.append(_line("p", *rule.columns()))
    return CompiledPolicy(model=MODEL, policy="\n".join(out) + "\n")


def _share_lines(share: FieldShare) -> list[str]:
    tag = share.source_tag
    if share.sharing == "none":
        why = "secret, never shared (Art. 16)" if share.secret else "not shareable"
        return [_comment(f"{share.ref}: {why}"), _line("p", "*", share.ref, "*", "deny", "*", tag)]
    if share.sharing == "unconditional":
        subjects = ["sharing:unconditional"]
    else:
        subjects = [f"duty:{duty}" for duty in share.duties]
    return [
        _line("p", subject, share.ref, method, "allow", "*", tag)
        for subject in subjects
        for method in share.methods
    ]


def write_policy(compiled: CompiledPolicy, out_dir: str | Path) -> list[Path]:
    """Write `model.conf` and `policy.csv` into `out_dir` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("model.conf", compiled.model), ("policy.csv", compiled.policy)):
        path = out / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
