"""What a device must not forget: its sequence counter, the messages the cloud has not yet
acknowledged (the outbox, docs/device-protocol.md §6.1) and the answers it gave to commands (the
command journal, §7.3).

A real controller keeps these in flash. Here they live in memory, or in a JSON file when a path is
given, so a simulated device rebuilt from the same file continues where it stopped: it never reuses
a sequence number, replays what the cloud never confirmed and answers a redelivered command as
before. Not thread-safe on its own: the device serialises access under its lock.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Command answers remembered for redelivered ids (the protocol asks for at least 256).
REMEMBERED_COMMANDS = 512
# The protocol's minimum outbox size; beyond it the oldest events (never acks) are dropped.
OUTBOX_LIMIT = 1000
# Sequence numbers are reserved on disk in blocks, as firmware does to spare its flash: after a
# restart the device skips the rest of the block. Gaps are harmless; reuse would not be.
SEQ_BLOCK = 100


@dataclass
class Entry:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(
        self, path: str | Path | None = None, *, limit: int = OUTBOX_LIMIT, first_seq: int = 1
    ) -> None:
        """`first_seq` applies only when nothing was persisted yet."""
        self.path = Path(path) if path else None
        self.limit = limit
        self._next_seq = first_seq
        self._seq_ceiling = first_seq  # persisted: every seq below it may have been used
        self._entries: dict[int, Entry] = {}
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()
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
    def add(self, seq: int, topic: str, payload: bytes) -> int:
        """Store a new message; returns how many old events had to make room for it."""
        self._entries[seq] = Entry(seq, topic, payload)
        dropped = 0
        if len(self._entries) > self.limit:
            # Acks are never dropped: a lost one would leave a command's outcome unknown for good.
            for old in [s for s in sorted(self._entries) if self._entries[s].topic.endswith("/event")]:
                if len(self._entries) <= self.limit or old == seq:
                    break
                del self._entries[old]
                dropped += 1
        self._save()
        return dropped

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

    def seqs(self) -> list[int]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # The command journal ------------------------------------------------------------------
    def remember_answer(self, command_id: str, body: dict[str, Any]) -> None:
        self._answers[command_id] = body
        while len(self._answers) > REMEMBERED_COMMANDS:
            self._answers.popitem(last=False)
        self._save()

    def answer(self, command_id: str) -> dict[str, Any] | None:
        return self._answers.get(command_id)

    # Persistence --------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text("utf-8"))
        self._next_seq = self._seq_ceiling = int(data["seq_ceiling"])
        for raw in data.get("entries", []):
            entry = Entry(int(raw["seq"]), raw["topic"], raw["payload"].encode("utf-8"))
            self._entries[entry.seq] = entry
        for command_id, body in data.get("answers", []):
            self._answers[command_id] = body

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "seq_ceiling": self._seq_ceiling,
            "entries": [
                {"seq": e.seq, "topic": e.topic, "payload": e.payload.decode("utf-8")} for e in self.entries()
            ],
            "answers": [[command_id, body] for command_id, body in self._answers.items()],
        }
        # Written beside and renamed over: a crash mid-write leaves the previous file intact.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
        os.replace(tmp, self.path)
