"""AWS IAM identity-policy evaluation, small enough to read: the decision for one request.

What it implements (the parts of AWS's evaluation logic that identity policies of one account
use): a request is allowed when some statement allows it and no statement denies it; an
explicit Deny wins; nothing allows by default. Per statement: Action / NotAction and
Resource / NotResource with `*` and `?` wildcards (actions case-insensitively), and the
Condition block with these operators, each optionally `...IfExists`:
StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
StringNotLike, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Bool, Null, and the
`ForAnyValue:` / `ForAllValues:` set qualifiers. Within a condition, the values of one key
are ORed, keys and operators are ANDed. A key missing from the request makes a positive
operator false and a negated one true (as AWS does), except with `IfExists` (true) and
`Null`. `${aws:...}` policy variables are not supported: an operator it does not know
raises instead of guessing.

No library on PyPI does this with conditions (policyuniverse and friends expand and match
actions but do not evaluate conditions), hence this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "implicit-deny", "explicit-deny"]
# A request's context: condition key (lower case) -> its values (several for multivalued keys).
Context = Mapping[str, Sequence[str]]


class UnsupportedPolicy(ValueError):
    """The policy uses something this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One authorisation AWS makes: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's `*` (any run, empty included) and `?` (one character); nothing else is special."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return wildcard(pattern, ignore_case=ignore_case).match(value) is not None


# Positive base operators: (policy value, request value) -> match.
_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _like(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": lambda p, v: _like(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _check_operator(operator: str) -> None:
    qualifier, _, name = operator.rpartition(":")
    base = name.removesuffix("IfExists")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicy(f"condition qualifier {qualifier!r}")
    if base != "Null" and _NEGATED.get(base, base) not in _MATCHERS:
        raise UnsupportedPolicy(f"condition operator {operator!r}")


def _condition(operator: str, key: str, wanted: list[str], context: Context) -> bool:
    _check_operator(operator)
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    present = key.lower() in context
    values = [str(v) for v in context.get(key.lower(), [])]
    if base == "Null":
        # "true": the key must be absent; "false": it must be present.
        return all((p.lower() == "true") != present for p in wanted)
    negated = base in _NEGATED
    matcher = _MATCHERS[_NEGATED.get(base, base)]
    if not present:
        if qualifier == "ForAllValues":
            return True  # vacuously true over an empty set, as AWS documents
        return if_exists or negated

    def one(value: str) -> bool:
        hit = any(matcher(str(p), value) for p in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_actions: bool
    resources: tuple[str, ...]
    not_resources: bool
    conditions: Mapping[str, Mapping[str, Any]]
    sid: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        if "Principal" in raw or "NotPrincipal" in raw:
            raise UnsupportedPolicy("a Principal: this evaluates identity policies only")
        effect = raw["Effect"]
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise UnsupportedPolicy("a statement needs exactly one of Action and NotAction")
        if ("Resource" in raw) == ("NotResource" in raw):
            raise UnsupportedPolicy("a statement needs exactly one of Resource and NotResource")
        actions = _as_list(raw.get("Action", raw.get("NotAction")))
        resources = _as_list(raw.get("Resource", raw.get("NotResource")))
        for operator in raw.get("Condition", {}):
            _check_operator(operator)
        for text in [*actions, *resources]:
            if "${" in str(text):
                raise UnsupportedPolicy(f"policy variable or unrendered placeholder in {text!r}")
        return cls(
            effect=effect,
            actions=tuple(actions),
            not_actions="NotAction" in raw,
            resources=tuple(resources),
            not_resources="NotResource" in raw,
            conditions=raw.get("Condition", {}),
            sid=raw.get("Sid", ""),
        )

    def applies(self, request: Request) -> bool:
        action_hit = any(_like(a, request.action, ignore_case=True) for a in self.actions)
        resource_hit = any(_like(r, request.resource) for r in self.resources)
        if action_hit == self.not_actions or resource_hit == self.not_resources:
            return False
        return all(
            _condition(operator, key, [str(v) for v in _as_list(wanted)], request.context)
            for operator, block in self.conditions.items()
            for key, wanted in block.items()
        )


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, document: str | Mapping[str, Any]) -> Policy:
        doc = json.loads(document) if isinstance(document, str) else document
        if doc.get("Version") != "2012-10-17":
            raise UnsupportedPolicy(f"policy Version {doc.get('Version')!r}")
        return cls(tuple(Statement.parse(s) for s in _as_list(doc["Statement"])))


def decide(policies: Iterable[Policy], request: Request) -> Decision:
    """AWS's order: any matching Deny denies; else any matching Allow allows; else denied."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if statement.applies(request):
                if statement.effect == "Deny":
                    return "explicit-deny"
                allowed = True
    return "allow" if allowed else "implicit-deny"


def decide_all(policies: Sequence[Policy], requests: Iterable[Request]) -> tuple[Decision, str]:
    """One HTTP request may need several authorisations (CopyObject, DeleteObjects): all must
    be allowed. The first refusal and the reason, or ("allow", "")."""
    for request in requests:
        decision = decide(policies, request)
        if decision != "allow":
            return decision, f"{request.action} on {request.resource} {dict(request.context)}"
    return "allow", ""
