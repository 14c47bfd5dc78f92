"""ProjectStore mixin: conversations (message trees), feedback on replies, arenas, rounds, votes.

Everything here is append-only except a conversation's title / head / settings and a round's
`revealed` flag and its sides' message ids (filled in as replies arrive). Feedback and votes
are never overwritten: a new one is added and the latest per rater counts.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from workbench.core.chat_records import (
    FEEDBACK_KINDS,
    VOTE_OUTCOMES,
    Arena,
    ArenaRound,
    ArenaSide,
    Conversation,
    Feedback,
    Turn,
    Vote,
)
from workbench.core.clock import now_iso
from workbench.core.errors import ProjectError
from workbench.core.records import from_dict


def _loads(text: Optional[str], default: Any) -> Any:
    return json.loads(text) if text else default


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _conversation(row: dict[str, Any]) -> Conversation:
    data = dict(row)
    data["settings"] = _loads(data.get("settings"), {})
    data["system_prompt"] = data.get("system_prompt") or ""
    return from_dict(Conversation, data)


def _turn(row: dict[str, Any]) -> Turn:
    data = dict(row)
    data["settings"] = _loads(data.get("settings"), {})
    return from_dict(Turn, data)


def _feedback(row: dict[str, Any]) -> Feedback:
    data = dict(row)
    data["tags"] = tuple(_loads(data.get("tags"), []))
    data["comment"] = data.get("comment") or ""
    return from_dict(Feedback, data)


def _arena(row: dict[str, Any]) -> Arena:
    return Arena(id=row["id"], title=row["title"], targets=tuple(_loads(row["targets"], [])),
                 blind=bool(row["blind"]), created_at=row["created_at"], created_by=row["created_by"],
                 settings=_loads(row["settings"], {}), system_prompt=row["system_prompt"] or "")


def _round(row: dict[str, Any]) -> ArenaRound:
    sides = tuple(from_dict(ArenaSide, s) for s in _loads(row["sides"], []))
    return ArenaRound(id=row["id"], arena_id=row["arena_id"], idx=row["idx"], prompt=row["prompt"], sides=sides,
                      blind=bool(row["blind"]), created_at=row["created_at"], created_by=row["created_by"],
                      revealed=bool(row["revealed"]))


def _vote(row: dict[str, Any]) -> Vote:
    return Vote(id=row["id"], round_id=row["round_id"], arena_id=row["arena_id"], outcome=row["outcome"],
                rater=row["rater"], blind=bool(row["blind"]), created_at=row["created_at"],
                created_by=row["created_by"], comment=row["comment"] or "")


class ChatStore:
    """Mixed into ProjectStore (which provides _stamp, _query, _lock, _conn, db)."""

    # -- conversations ---------------------------------------------------------------------------
    def add_conversation(self, title: str, base_model_id: str, run_id: Optional[str] = None, *,
                         checkpoint: Optional[str] = None, system_prompt: str = "",
                         settings: Optional[dict[str, Any]] = None, arena_id: Optional[str] = None) -> Conversation:
        record = {**self._stamp(), "title": title, "base_model_id": base_model_id, "run_id": run_id,
                  "checkpoint": checkpoint, "system_prompt": system_prompt, "settings": settings or {},
                  "head_id": None, "arena_id": arena_id}
        record["updated_at"] = record["created_at"]
        with self._lock, self._conn:
            self.db["chat_sessions"].insert({**record, "settings": _dumps(record["settings"])})
        return from_dict(Conversation, record)

    def get_conversation(self, session_id: str) -> Conversation:
        rows = self._query("SELECT * FROM chat_sessions WHERE id = ?", (session_id,))
        if not rows:
            raise ProjectError(f"No conversation with id {session_id} in this project.")
        return _conversation(rows[0])

    def list_conversations(self, search: str = "", *, include_arena: bool = True,
                           limit: Optional[int] = None) -> list[Conversation]:
        """Newest first. `search` matches the title or any message's text (case-insensitive)."""
        sql = "SELECT * FROM chat_sessions s"
        where, params = [], []
        if search:
            like = f"%{search.lower()}%"
            where.append("(LOWER(s.title) LIKE ? OR EXISTS (SELECT 1 FROM chat_messages m WHERE"
                         " m.session_id = s.id AND LOWER(m.content) LIKE ?))")
            params += [like, like]
        if not include_arena:
            where.append("s.arena_id IS NULL")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY COALESCE(s.updated_at, s.created_at) DESC, s.rowid DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_conversation(r) for r in self._query(sql, params)]

    def update_conversation(self, session_id: str, **fields: Any) -> Conversation:
        """Change title, system_prompt, settings or head_id."""
        allowed = {"title", "system_prompt", "settings", "head_id"}
        bad = set(fields) - allowed
        if bad:
            raise ProjectError(f"A conversation's {', '.join(sorted(bad))} cannot be changed.")
        row = {k: (_dumps(v) if k == "settings" else v) for k, v in fields.items()}
        row["updated_at"] = now_iso()
        with self._lock, self._conn:
            self.db["chat_sessions"].update(session_id, row)
        return self.get_conversation(session_id)

    def add_turn(self, session_id: str, role: str, content: str, *, parent_id: Optional[str] = None,
                 model_key: Optional[str] = None, settings: Optional[dict[str, Any]] = None,
                 prompt_tokens: Optional[int] = None, tokens: Optional[int] = None,
                 seconds: Optional[float] = None, ttft: Optional[float] = None,
                 finish_reason: Optional[str] = None, make_head: bool = True) -> Turn:
        """Append a message under `parent_id` (None: a first message) and, by default, show its
        branch (the conversation's head moves to it)."""
        with self._lock, self._conn:
            idx = self._conn.execute("SELECT COALESCE(MAX(idx), -1) + 1 FROM chat_messages WHERE session_id = ?",
                                     (session_id,)).fetchone()[0]
            record = {**self._stamp(), "session_id": session_id, "idx": idx, "role": role, "content": content,
                      "parent_id": parent_id, "model_key": model_key, "settings": settings or {},
                      "prompt_tokens": prompt_tokens, "tokens": tokens, "seconds": seconds, "ttft": ttft,
                      "finish_reason": finish_reason}
            self.db["chat_messages"].insert({**record, "settings": _dumps(record["settings"])})
            update = {"updated_at": record["created_at"]}
            if make_head:
                update["head_id"] = record["id"]
            self.db["chat_sessions"].update(session_id, update)
        return from_dict(Turn, record)

    def get_turn(self, message_id: str) -> Turn:
        rows = self._query("SELECT * FROM chat_messages WHERE id = ?", (message_id,))
        if not rows:
            raise ProjectError(f"No chat message with id {message_id} in this project.")
        return _turn(rows[0])

    def turns(self, session_id: str) -> list[Turn]:
        """Every message of the conversation, all branches, in creation order."""
        return [_turn(r) for r in self._query("SELECT * FROM chat_messages WHERE session_id = ? ORDER BY idx",
                                              (session_id,))]

    def branch(self, session_id: str, head_id: Optional[str] = None) -> list[Turn]:
        """The messages from the first to `head_id` (default: the conversation's head)."""
        all_turns = {t.id: t for t in self.turns(session_id)}
        if head_id is None:
            head_id = self.get_conversation(session_id).head_id
        out: list[Turn] = []
        seen: set[str] = set()
        while head_id is not None and head_id in all_turns and head_id not in seen:
            seen.add(head_id)
            turn = all_turns[head_id]
            out.append(turn)
            head_id = turn.parent_id
        return out[::-1]

    # -- feedback --------------------------------------------------------------------------------
    def add_feedback(self, message_id: str, kind: str, *, rater: str, value: Optional[float] = None,
                     tags: Iterable[str] = (), comment: str = "", correction: Optional[str] = None) -> Feedback:
        if kind not in FEEDBACK_KINDS:
            raise ProjectError(f"Unknown feedback kind {kind!r}.", advice=f"Use one of {', '.join(FEEDBACK_KINDS)}.")
        turn = self.get_turn(message_id)
        record = {**self._stamp(), "message_id": message_id, "session_id": turn.session_id, "kind": kind,
                  "value": value, "tags": list(tags), "comment": comment or "", "correction": correction,
                  "rater": rater}
        with self._lock, self._conn:
            self.db["chat_feedback"].insert({**record, "tags": _dumps(record["tags"])})
        return _feedback({**record, "tags": _dumps(record["tags"])})

    def list_feedback(self, *, message_ids: Optional[Iterable[str]] = None,
                      session_id: Optional[str] = None) -> list[Feedback]:
        """All feedback (history included), oldest first."""
        sql, params = "SELECT * FROM chat_feedback", []
        where = []
        if message_ids is not None:
            ids = list(message_ids)
            if not ids:
                return []
            where.append(f"message_id IN ({','.join('?' * len(ids))})")
            params += ids
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_feedback(r) for r in self._query(sql + " ORDER BY created_at, rowid", params)]

    # -- arenas ----------------------------------------------------------------------------------
    def add_arena(self, title: str, targets: Iterable[str], *, blind: bool, settings: Optional[dict] = None,
                  system_prompt: str = "") -> Arena:
        record = {**self._stamp(), "title": title, "targets": list(targets), "blind": int(bool(blind)),
                  "settings": settings or {}, "system_prompt": system_prompt}
        with self._lock, self._conn:
            self.db["arenas"].insert({**record, "targets": _dumps(record["targets"]),
                                      "settings": _dumps(record["settings"])})
        return self.get_arena(record["id"])

    def get_arena(self, arena_id: str) -> Arena:
        rows = self._query("SELECT * FROM arenas WHERE id = ?", (arena_id,))
        if not rows:
            raise ProjectError(f"No arena with id {arena_id} in this project.")
        return _arena(rows[0])

    def list_arenas(self) -> list[Arena]:
        return [_arena(r) for r in self._query("SELECT * FROM arenas ORDER BY created_at DESC, rowid DESC")]

    def add_round(self, arena_id: str, prompt: str, sides: Iterable[ArenaSide], *, blind: bool) -> ArenaRound:
        side_rows = [s.__dict__ for s in sides]
        with self._lock, self._conn:
            idx = self._conn.execute("SELECT COALESCE(MAX(idx), -1) + 1 FROM arena_rounds WHERE arena_id = ?",
                                     (arena_id,)).fetchone()[0]
            record = {**self._stamp(), "arena_id": arena_id, "idx": idx, "prompt": prompt,
                      "sides": _dumps(side_rows), "blind": int(bool(blind)), "revealed": int(not blind)}
            self.db["arena_rounds"].insert(record)
        return _round(record)

    def get_round(self, round_id: str) -> ArenaRound:
        rows = self._query("SELECT * FROM arena_rounds WHERE id = ?", (round_id,))
        if not rows:
            raise ProjectError(f"No arena round with id {round_id} in this project.")
        return _round(rows[0])

    def rounds(self, arena_id: Optional[str] = None) -> list[ArenaRound]:
        if arena_id is None:
            rows = self._query("SELECT * FROM arena_rounds ORDER BY created_at, idx")
        else:
            rows = self._query("SELECT * FROM arena_rounds WHERE arena_id = ? ORDER BY idx", (arena_id,))
        return [_round(r) for r in rows]

    def set_round_reply(self, round_id: str, position: int, message_id: str) -> ArenaRound:
        """Record the reply a side wrote in this round."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT sides FROM arena_rounds WHERE id = ?", (round_id,)).fetchone()
            if row is None:
                raise ProjectError(f"No arena round with id {round_id} in this project.")
            sides = json.loads(row[0])
            for side in sides:
                if side["position"] == position:
                    side["message_id"] = message_id
            self.db["arena_rounds"].update(round_id, {"sides": _dumps(sides)})
        return self.get_round(round_id)

    def reveal_round(self, round_id: str) -> ArenaRound:
        with self._lock, self._conn:
            self.db["arena_rounds"].update(round_id, {"revealed": 1})
        return self.get_round(round_id)

    def add_vote(self, round_id: str, outcome: str, *, rater: str, blind: bool, comment: str = "") -> Vote:
        if outcome not in VOTE_OUTCOMES:
            raise ProjectError(f"Unknown vote {outcome!r}.", advice=f"Use one of {', '.join(VOTE_OUTCOMES)}.")
        rnd = self.get_round(round_id)
        if outcome in ("c", "d") and len(rnd.sides) <= "abcd".index(outcome):
            raise ProjectError(f"This round has only {len(rnd.sides)} sides; there is no side {outcome.upper()}.")
        record = {**self._stamp(), "round_id": round_id, "arena_id": rnd.arena_id, "outcome": outcome,
                  "rater": rater, "blind": int(bool(blind)), "comment": comment or ""}
        with self._lock, self._conn:
            self.db["arena_votes"].insert(record)
        return _vote(record)

    def votes(self, arena_id: Optional[str] = None, *, round_ids: Optional[Iterable[str]] = None) -> list[Vote]:
        """Votes, oldest first (history included: the latest per rater and round counts)."""
        sql, params, where = "SELECT * FROM arena_votes", [], []
        if arena_id is not None:
            where.append("arena_id = ?")
            params.append(arena_id)
        if round_ids is not None:
            ids = list(round_ids)
            if not ids:
                return []
            where.append(f"round_id IN ({','.join('?' * len(ids))})")
            params += ids
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_vote(r) for r in self._query(sql + " ORDER BY created_at, rowid", params)]
