"""What a device must not forget: its sequence counter, the messages the cloud has not yet
acknowledged, and the answers it gave to commands.

A real controller keeps these in flash. Here they live in memory, or in a JSON file when a
path is given, so a simulated device rebuilt from the same file continues where it stopped:
it never reuses a sequence number and replays what the cloud never confirmed.
Not thread-safe on its own: the device serialises access under its lock.
"""

from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

# Command answers remembered for re-delivered ids. A command outlives its expiry by little,
# so a few hundred recent ids cover any broker redelivery.
REMEMBERED_COMMANDS = 512
# Sequence numbers are reserved on disk in blocks, as firmware does to spare its flash: after a
# restart the device skips the rest of the block. Gaps are harmless; reuse would not be.
SEQ_BLOCK = 100


@dataclass
class Entry:
    seq: int
    topic: str
    payload: bytes
    sent_at: float = 0.0  # time.monotonic() of the last (re)publication; 0 = never sent


class Outbox:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._next_seq = 1
        self._seq_ceiling = 1  # persisted: every seq below it may have been used
        self._entries: dict[int, Entry] = {}
        self._answers: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        if self.path is not None and self.path.exists():
            self._load(self.path)

    # Sequence numbers ---------------------------------------------------------------------
    def reserve_seq(self) -> int:
        """The next sequence number, consumed for good (its block is persisted before it is used)."""
        seq = self._next_seq
        self._next_seq += 1
        if seq >= self._seq_ceiling:
            self._seq_ceiling = seq + SEQ_BLOCK
            self._save()
        return seq

    @property
    def next_seq(self) -> int:
        return self._next_seq

    # Unacknowledged messages --------------------------------------------------------------
    def add(self, seq: int, topic: str, payload: bytes) -> Entry:
        entry = Entry(seq, topic, payload)
        self._entries[seq] = entry
        self._save()
        return entry

    def prune(self, upto: int) -> int:
        """The cloud acknowledged everything up to `upto` (cumulative): forget those entries."""
        gone = [seq for seq in self._entries if seq <= upto]
        for seq in gone:
            del self._entries[seq]
        if gone:
            self._save()
        return len(gone)

    def entries(self) -> list[Entry]:
        return [self._entries[seq] for seq in sorted(self._entries)]

    def due(self, older_than_s: float, now: float | None = None) -> list[Entry]:
        """Entries sent at least `older_than_s` ago and still unacknowledged, in seq order."""
        now = time.monotonic() if now is None else now
        return [e for e in self.entries() if e.sent_at and now - e.sent_at >= older_than_s]

    def seqs(self) -> list[int]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # Command answers ----------------------------------------------------------------------
    def remember_answer(self, command_id: str, topic: str, payload: bytes) -> None:
        self._answers[command_id] = (topic, payload)
        while len(self._answers) > REMEMBERED_COMMANDS:
            self._answers.popitem(last=False)
        self._save()

    def answer(self, command_id: str) -> tuple[str, bytes] | None:
        return self._answers.get(command_id)

    # Persistence --------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text("utf-8"))
        self._next_seq = self._seq_ceiling = int(data["seq_ceiling"])
        for raw in data.get("entries", []):
            entry = Entry(int(raw["seq"]), raw["topic"], raw["payload"].encode("utf-8"))
            self._entries[entry.seq] = entry
        for command_id, topic, payload in data.get("answers", []):
            self._answers[command_id] = (topic, payload.encode("utf-8"))

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "seq_ceiling": self._seq_ceiling,
            "entries": [
                {"seq": e.seq, "topic": e.topic, "payload": e.payload.decode("utf-8")} for e in self.entries()
            ],
            "answers": [[cid, topic, payload.decode("utf-8")] for cid, (topic, payload) in self._answers.items()],
        }
        # Written beside and renamed over: a crash mid-write leaves the previous file intact.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")), "utf-8")
        os.replace(tmp, self.path)
