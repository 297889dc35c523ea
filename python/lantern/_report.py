"""Typed views of a scan report: :class:`Report`, :class:`Finding`, :class:`Location`."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Optional


class Severity(enum.IntEnum):
    """How serious a finding is; ordered, so ``f.severity >= Severity.HIGH`` works."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: "str | Severity") -> "Severity":
        """``"high"`` (any case) -> ``Severity.HIGH``; raises ValueError on unknown names."""
        if isinstance(name, Severity):
            return name
        try:
            return cls[str(name).upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {name!r} (expected info, low, medium, high or critical)"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Location:
    """Where a finding was seen. Archive members are joined with ``!`` in ``path``."""

    path: str
    line: Optional[int] = None
    column: Optional[int] = None
    offset: Optional[int] = None
    cell: Optional[int] = None
    cell_part: Optional[str] = None
    commit: Optional[Dict[str, str]] = None

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Location":
        """Build from the JSON report's location object."""
        return cls(
            path=d.get("path", ""),
            line=d.get("line"),
            column=d.get("column"),
            offset=d.get("offset"),
            cell=d.get("cell"),
            cell_part=d.get("cell_part"),
            commit=d.get("commit"),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The location as in ``lantern scan --format json`` (unset fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        s = self.path
        if self.line is not None:
            s += f":{self.line}"
        elif self.offset is not None:
            s += f"@{self.offset}"
        return s


@dataclass(frozen=True)
class Finding:
    """One problem found. ``secret`` is redacted (a short prefix), as in the CLI's JSON."""

    rule_id: str
    title: str
    severity: Severity
    category: str
    locations: List[Location]
    detail: Optional[str] = None
    secret: Optional[str] = None
    validated: bool = False
    properties: Dict[str, Any] = field(default_factory=dict)
    fingerprints: List[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Finding":
        """Build from a finding of the JSON report."""
        return cls(
            rule_id=d["rule_id"],
            title=d.get("title", ""),
            severity=Severity.parse(d.get("severity", "medium")),
            category=d.get("category", "other"),
            locations=[Location.from_dict(x) for x in d.get("locations", [])],
            detail=d.get("detail"),
            secret=d.get("secret"),
            validated=bool(d.get("validated", False)),
            properties=dict(d.get("properties", {})),
            fingerprints=list(d.get("fingerprints", [])),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The finding as in ``lantern scan --format json``."""
        d: Dict[str, Any] = {
            "rule_id": self.rule_id,
            "title": self.title,
            "category": self.category,
            "severity": str(self.severity),
            "locations": [loc.to_dict() for loc in self.locations],
        }
        for k in ("detail", "secret"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.validated:
            d["validated"] = True
        if self.properties:
            d["properties"] = dict(self.properties)
        if self.fingerprints:
            d["fingerprints"] = list(self.fingerprints)
        return d

    def __str__(self) -> str:
        where = str(self.locations[0]) if self.locations else "?"
        return f"{self.severity} {self.rule_id} at {where}: {self.detail or self.title}"


@dataclass(frozen=True)
class ScanWarning:
    """An input that could not be fully checked (reported, never passed as clean)."""

    path: str
    message: str

    def to_dict(self) -> Dict[str, str]:
        """``{"path": ..., "message": ...}``."""
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class Report:
    """The result of :func:`lantern.scan`.

    ``failed`` is what the CLI's exit code says: a finding at or above ``fail_on``.
    Iterating a report yields its findings.
    """

    findings: List[Finding]
    warnings: List[ScanWarning]
    stats: Dict[str, int]
    failed: bool

    @classmethod
    def from_json(cls, doc: Dict[str, Any], failed: bool) -> "Report":
        """Build from ``lantern scan --format json`` output."""
        return cls(
            findings=[Finding.from_dict(f) for f in doc.get("findings", [])],
            warnings=[ScanWarning(w.get("path", ""), w.get("message", "")) for w in doc.get("warnings", [])],
            stats=dict(doc.get("stats", {})),
            failed=failed,
        )

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def by_rule(self, rule_id: str) -> List[Finding]:
        """Findings of one rule."""
        return [f for f in self.findings if f.rule_id == rule_id]

    def to_dict(self) -> Dict[str, Any]:
        """The report as in ``lantern scan --format json`` (without the tool header)."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "warnings": [w.to_dict() for w in self.warnings],
            "stats": dict(self.stats),
            "failed": self.failed,
        }
