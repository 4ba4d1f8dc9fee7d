"""A journal's lines as bytes: how a record is encoded, and the reading of a chain of lines (scan_bytes).

A line is `{"hash":"<sha256 of the rest>",<the rest>}`: the hash covers the bytes of the
line without its own hash field, and the rest carries the previous line's hash, so an
edited, deleted, reordered or torn line breaks the chain at a line we can name.

No file is opened here: every store keeps the same lines and verifies them with this code.
"""

from __future__ import annotations

import gc
import hashlib
import re
from dataclasses import dataclass, field

import msgspec

from cockpit.core.events import GENESIS, Record, RecordError, parse_record

_PREFIX = b'{"hash":"'
_BODY_AT = len(_PREFIX) + 64 + 2  # after `{"hash":"<64 hex>",`
_NO_HASH = b'{"hash":"",'  # how a record with hash="" starts when encoded (hash is its first field)
_ENCODE = msgspec.json.Encoder().encode
_ENVELOPE = re.compile(rb'\{"hash":"([0-9a-f]{64})","v":\d{1,9},"seq":(\d{1,18}),')  # as the journal writes one
TAIL = ("torn", "garbage")  # problems at the journal's end that the next append moves aside


class JournalError(Exception):
    """The journal cannot be used as it is; the message names the file and the line."""


class ReadOnlyJournal(JournalError):
    pass


class StoreUnreachable(JournalError):
    """The store did not answer (etcd: no endpoint did): what was not appended is kept aside and journaled late."""


class Deposed(JournalError):
    """The fence moved: another guard holds the lease now, and this writer's appends are refused
    (a fenced store's journal: etcd_journal). Never kept aside: a deposed guard records nothing."""


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def encode_line(record: Record) -> tuple[bytes, str]:
    """The record's line (its hash field set from the rest of the line) and that hash."""
    rest = _ENCODE(msgspec.structs.replace(record, hash=""))[len(_NO_HASH):]
    digest = _hash(b"{" + rest)
    return _PREFIX + digest.encode() + b'",' + rest + b"\n", digest


def _invalid(e: RecordError) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.payload.phase`" as "payload.phase: Expected `int`, got `str`"."""
    what, sep, where = str(e).rpartition(" - at `$")
    return f"{where.lstrip('.').rstrip('`')}: {what}" if sep else str(e)


@dataclass
class Problem:
    line: int  # 1-based
    reason: str  # "torn", "garbage", "edited", "reordered", "deleted", "invalid", or a head problem
    detail: str
    lines: int = 1  # how many lines it spans from `line` (a garbage tail: all of them)

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"


@dataclass
class Scan:
    """What reading a journal file found: the intact events up to the first problem, every
    problem by line, and the events past the first problem that still read."""

    records: list[Record] = field(default_factory=list)  # the intact events, up to the first problem
    good_bytes: int = 0  # offset just past the last intact line
    problems: list[Problem] = field(default_factory=list)  # every problem, in line order
    later: list[Record] = field(default_factory=list)  # past the first problem: lines that read, each hash its own
    claims: dict[int, str] = field(default_factory=dict)  # seq -> hash, as every line past the first problem says
    lines: int = 0  # complete lines
    head: Problem | None = None  # the journal's end against the head record (verify only)

    @property
    def problem(self) -> Problem | None:
        """The first problem: where the intact events end."""
        return self.problems[0] if self.problems else None

    @property
    def tail_only(self) -> bool:
        """Intact but for a dead writer's fragment or another writer's junk at the end."""
        return not self.problems or (len(self.problems) == 1 and self.problems[0].reason in TAIL)

    @property
    def salvaged(self) -> list[Record]:
        """Every line that still reads as a record, in seq order, each seq once: what the kill
        and the guard act on when the chain is broken."""
        if not self.later:
            return self.records
        return sorted(self.records + self.later, key=lambda r: r.seq)

    def hashes(self) -> dict[int, str]:
        """seq -> hash of every event the file holds or names (for the comparison with the head)."""
        return {**self.claims, **{r.seq: r.hash for r in self.salvaged}}


def scan_bytes(data: bytes, *, start_seq: int = 1, prev_hash: str = GENESIS, first_line: int = 1) -> Scan:
    """Check every line. An unterminated last line is torn; complete lines at the end that are
    not records are garbage (both: the next append moves them aside).

    The happy path is one validation and one hash per line; from the first line that fails,
    `_survey` names every problem after it and keeps every line that still reads.
    """
    scan = Scan()
    records = scan.records
    lines = data.split(b"\n")
    tail = lines.pop()  # what follows the last line end: b"" unless the last write was torn
    scan.lines = len(lines)
    seq, offset, sha256, parse = start_seq, 0, hashlib.sha256, parse_record
    paused = gc.isenabled()
    if paused:
        gc.disable()  # replay allocates many small objects that live on: collections only waste time
    try:
        for i, raw in enumerate(lines):
            try:
                record = parse(raw)
            except RecordError:
                record = None
            if (
                record is None
                or record.seq != seq
                or record.prev != prev_hash
                or not raw.startswith(_PREFIX)
                or sha256(b"{" + raw[_BODY_AT:]).hexdigest() != record.hash
            ):
                _survey(scan, lines, i, first_line, seq - 1, prev_hash, tail)
                break
            records.append(record)
            prev_hash = record.hash
            seq += 1
            offset += len(raw) + 1
        else:
            if tail:
                scan.problems.append(Problem(first_line + len(lines), "torn", f"{len(tail)} bytes without a line end"))
    finally:
        if paused:
            gc.freeze()  # the records live as long as the process: later collections need not scan them
            gc.enable()
    scan.good_bytes = offset
    return scan


def _survey(scan: Scan, lines: list[bytes], i: int, first_line: int, top: int, link: str, tail: bytes) -> None:
    """From line i (the first that fails) to the end: every problem, named by line, and every line
    that still reads. `top` is the last seq in order, `link` the hash the next line's prev must be.

    A line that cannot be read keeps the seq and hash its envelope claims (when that much is
    intact), so the lines after it still chain to it: one bad line is one problem, not a cascade.
    Lines after an unreadable line that claims nothing may take the seqs it may have held."""
    intact = top  # the seqs up to here are the intact lines' (or an earlier read's)
    end = len(lines)
    while end > i and _junk(lines[end - 1]):
        end -= 1  # complete lines at the end that are not records: another writer's junk
    problems, later, claims = scan.problems, scan.later, scan.claims
    unknown = 0  # lines since `top` that held no seq we could read
    taken: set[int] = set()  # seqs past the intact ones that a line already holds
    named: set[int] = set()  # lines a "reordered" problem already names
    where: dict[int, int] | None = None  # seq -> index of the first line from i that claims it

    def advance(seq: int, digest: str) -> bool:
        nonlocal top, link, unknown
        if top < seq <= top + 1 + unknown:
            top, link, unknown = seq, digest, 0
            return True
        return False

    for k in range(i, end):
        raw, lineno = lines[k], first_line + k
        try:
            record = parse_record(raw)
        except RecordError as e:
            problems.append(Problem(lineno, "invalid", _invalid(e)))
            claim = _claim(raw)
            if claim is not None:
                claims.setdefault(*claim)
            if claim is None or not advance(*claim):
                unknown += 1
            continue
        seq = record.seq
        if not raw.startswith(_PREFIX) or _hash(b"{" + raw[_BODY_AT:]) != record.hash:
            problems.append(Problem(lineno, "edited", f"seq {seq}: its hash does not match its content"))
            claims.setdefault(seq, record.hash)
            if not advance(seq, record.hash):
                unknown += 1
            continue
        if seq <= top:  # out of order: moved or copied here
            if k not in named:
                problems.append(Problem(lineno, "reordered", f"expected seq {top + 1}, found seq {seq}"))
            if seq > intact and seq not in taken:  # a seq no line before it holds: it still reads
                taken.add(seq)
                later.append(record)
            continue
        if seq == top + 1:
            if record.prev != link:
                problems.append(Problem(lineno, "edited",
                                        f"seq {seq}: prev does not match the hash of line {lineno - 1}"))
        elif seq > top + 1 + unknown:
            want = top + 1 + unknown
            where = _first_claims(lines, i) if where is None else where
            at = where.get(want, -1)
            if at > k:
                named.add(at)
                problems.append(Problem(lineno, "reordered",
                                        f"expected seq {want} here; it stands at line {first_line + at}"))
            else:
                problems.append(Problem(lineno, "deleted", f"expected seq {want}, found seq {seq} "
                                                           f"(lines with seq {want}..{seq - 1} are missing or moved)"))
        top, link, unknown = seq, record.hash, 0
        taken.add(seq)
        later.append(record)
        claims[seq] = record.hash
    _at_the_end(problems, lines, end, first_line, tail)


def _first_claims(lines: list[bytes], i: int) -> dict[int, int]:
    """seq -> index of the first line from i whose envelope claims it (where a missing seq stands)."""
    where: dict[int, int] = {}
    for j in range(i, len(lines)):
        if (c := _claim(lines[j])) is not None:
            where.setdefault(c[0], j)
    return where


def _at_the_end(problems: list[Problem], lines: list[bytes], end: int, first_line: int, tail: bytes) -> None:
    """Complete lines after `end` that are not records (junk), or a last line without its end (torn)."""
    if end < len(lines):
        size = sum(len(raw) + 1 for raw in lines[end:]) + len(tail)
        n = len(lines) - end
        problems.append(Problem(first_line + end, "garbage",
                                f"{n} line{'s' if n > 1 else ''} at the end ({size} bytes) "
                                f"{'are' if n > 1 else 'is'} not a journal record ({_why_not(lines[end])})",
                                n + bool(tail)))
    elif tail:
        problems.append(Problem(first_line + len(lines), "torn", f"{len(tail)} bytes without a line end"))


def _claim(raw: bytes) -> tuple[int, str] | None:
    """The seq and hash a line's envelope claims, when that much of it is as the journal writes it."""
    m = _ENVELOPE.match(raw)
    return (int(m.group(2)), m.group(1).decode()) if m else None


def _junk(raw: bytes) -> bool:
    """A complete line that is no record: not one this version reads, nor a whole line with its own
    hash (a newer version's event: a problem in the chain, not junk to move aside)."""
    try:
        parse_record(raw)
        return False
    except RecordError:
        pass
    return not (raw.startswith(_PREFIX) and raw[_BODY_AT - 2:_BODY_AT] == b'",'
                and _hash(b"{" + raw[_BODY_AT:]).encode() == raw[len(_PREFIX):_BODY_AT - 2])


def _why_not(raw: bytes) -> str:
    try:
        parse_record(raw)
    except RecordError as e:
        return _invalid(e)
    return "a record"



def checked_line(record: Record, refused: str) -> tuple[bytes, Record]:
    """The record's line, and the record as a replay will read it back from that line.

    An event struct is not validated when it is built; its line is, here, by the decoder a
    replay uses: a line that would not replay (a wrong type, a kind that is not its payload's)
    is refused with JournalError, and the record kept in memory equals what a replay will see
    (tuples, not lists; floats where a float is due)."""
    try:
        line, _ = encode_line(record)
        return line, parse_record(line[:-1])
    except (msgspec.MsgspecError, TypeError, ValueError) as e:  # not valid; not encodable (a Path, a lone surrogate)
        why = _invalid(e) if isinstance(e, RecordError) else str(e)
        raise JournalError(f"{refused}: {record.kind} is not a valid event: {why}") from None

