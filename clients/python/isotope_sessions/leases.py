"""Leases for the Python drop-in: FencedOff, the lease dicts, and LeaseHolder — an engine's sessions
held under leases, with a near cache (the Python twin of the TypeScript client's createLeaseHolder).

A lease holder is the only one that can write its sessions (every write carries its fencing token,
and a newer holder's token refuses it), so while its lease lives its own copy is the session: a
load by the holder answers from memory, without a call. The copy is dropped when the lease is
released, is lost (a write refused: FencedOff) or may have lapsed — judged on this process's
monotonic clock from when the lease was asked for, with a tenth of the ttl kept back, so it is
dropped before the database's clock could expire the lease — and the cache is bounded (least
recently used copies out; their leases stay).

What the copy relies on: every writer of the session writes under a lease (a write without a
fencing token is not fenced, and this holder would not see it), and each running engine has its own
``holder`` name (the same name acquiring again gets the lease at once, with a newer token: the
older process's copy is then stale until its next write is refused or its lease lapses).

Only the standard library here: SessionManager (the package's __init__) does the calls.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional

# Of a lease's ttl, the part not trusted: the call's own time and clock drift between here and the database.
SAFETY_SHARE = 0.1

# The server names the current holder in its refusals: `held by "engine-2" (fencing token 3) until …`
# (AcquireLease, RenewLease) or `…, held by "engine-2"` at the end (a fenced-off write).
_HELD_BY = re.compile(r'held by "(.*)"(?: \(fencing token|$)')


class FencedOff(Exception):
    """A write under a lease its writer no longer holds: nothing was written.

    Raised (not returned) by save_session, append_messages, touch_session and delete_session when
    they carry a ``fencing_token`` the server refuses — another holder took the session over, or the
    token was never issued — and by a LeaseHolder's writes also when its own lease may have lapsed.
    The engine must stop writing the session (acquire it again if it should still own it).
    ``holder`` names who holds the session now, when known (None: nobody, or not said).
    """

    def __init__(self, session_id: str, holder: Optional[str], message: str):
        super().__init__(message)
        self.session_id = session_id
        self.holder = holder


def held_by(details: str) -> Optional[str]:
    """The holder a refusal's message names, or None."""
    match = _HELD_BY.search(details)
    return match.group(1) if match else None


def lease_refused(session_id: str, error: str, holder: Optional[str]) -> Dict[str, Any]:
    """A lease dict's keys with zero values, plus ``error`` and ``held_by`` (who holds it instead).
    fencing_token 0 is never valid: a write that carries it anyway is refused, never applied."""
    return {"session_id": session_id, "holder": "", "fencing_token": 0, "expires_at": None,
            "error": error, "held_by": holder}


class _Held:
    __slots__ = ("lease", "deadline", "copy", "expires", "writes")

    def __init__(self, lease: Dict[str, Any], deadline: float):
        self.lease = lease
        self.deadline = deadline  # time.monotonic() past which the lease may have lapsed
        self.copy: Optional[Dict[str, Any]] = None
        self.expires: Optional[float] = None  # the session's own expiry (time.time()), None: never
        self.writes = 0  # bumped around each write, so a load that raced one does not keep its answer


class LeaseHolder:
    """Sessions held by one ``holder`` under leases of ``ttl_seconds``, with their copies in memory.

    Made by ``SessionManager.lease_holder(holder, ttl_seconds, max_sessions=1000)``. Its methods
    answer like the manager's (dicts with ``error``, False, None); its writes raise FencedOff when
    the lease is gone, and then forget the session. A copy from memory is the holder's own, shared
    by every load: read it, never change it in place (save a new document instead). Safe to use
    from several threads.
    """

    def __init__(self, manager: Any, holder: str, ttl_seconds: float, max_sessions: int = 1000):
        self.manager = manager
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._held: "OrderedDict[str, _Held]" = OrderedDict()  # least recently used first
        self._copies = 0
        self._lock = threading.Lock()

    # --- the lease -----------------------------------------------------------------------------

    def acquire(self, session_id: str) -> Dict[str, Any]:
        """Takes the session's lease and keeps its copy. The lease dict, or on refusal (another
        holder's lease is live) the manager's failure dict, ``held_by`` naming that holder."""
        asked_at = time.monotonic()
        lease = self.manager.acquire_lease(session_id, self.holder, self.ttl_seconds)
        if "error" in lease:
            return lease
        entry = _Held(lease, asked_at + self.ttl_seconds * (1 - SAFETY_SHARE))
        with self._lock:
            for lapsed in [sid for sid, held in self._held.items() if asked_at >= held.deadline]:
                self._forget(lapsed)
            self._forget(session_id)
            self._held[session_id] = entry
        loaded = self.manager._load_copy(session_id)
        with self._lock:
            if loaded is not None and self._live(session_id) is entry and entry.writes == 0:
                self._keep(session_id, entry, loaded[0])
                entry.expires = loaded[1]
        return lease

    def renew(self, session_id: str) -> Dict[str, Any]:
        """Extends a held lease by ttl_seconds: the renewed lease dict, or a failure dict (a lease
        lost is forgotten, copy and all)."""
        with self._lock:
            entry = self._live(session_id)
        if entry is None:
            return self._not_held(session_id)
        asked_at = time.monotonic()
        lease = self.manager.renew_lease(session_id, self.holder, entry.lease["fencing_token"], self.ttl_seconds)
        with self._lock:
            if self._held.get(session_id) is entry:
                if "error" not in lease:
                    entry.lease = lease
                    entry.deadline = asked_at + self.ttl_seconds * (1 - SAFETY_SHARE)
                elif lease["error"].startswith("FAILED_PRECONDITION"):
                    self._forget(session_id)
        return lease

    def release(self, session_id: str) -> bool:
        """Gives the lease up and forgets the copy; False when this holder held no lease on it."""
        with self._lock:
            entry = self._held.get(session_id)
            self._forget(session_id)
        if entry is None:
            return False
        return self.manager.release_lease(session_id, self.holder, entry.lease["fencing_token"])

    def holds(self, session_id: str) -> bool:
        """Whether this holder holds a live lease on the session now (by its own clock)."""
        with self._lock:
            return self._live(session_id) is not None

    # --- the session ---------------------------------------------------------------------------

    def load(self, session_id: str) -> Optional[Dict[str, Any]]:
        """The session's data: from memory while this holder's lease lives, else from the service
        (as load_session: None when there is none)."""
        with self._lock:
            entry = self._live(session_id)
            if entry is not None and entry.copy is not None and not self._may_have_expired(entry):
                self._held.move_to_end(session_id)
                return entry.copy
            writes = entry.writes if entry is not None else 0
        loaded = self.manager._load_copy(session_id)
        if loaded is not None and entry is not None:
            with self._lock:
                if self._live(session_id) is entry and entry.writes == writes:
                    self._keep(session_id, entry, loaded[0])
                    entry.expires = loaded[1]
        return None if loaded is None else loaded[0]

    def save(self, session_id: str, session_data: Dict[str, Any], metadata: Optional[Dict[str, Any]] = None,
             expires_in_hours: Optional[float] = None) -> bool:
        """save_session under the lease; the copy becomes the data as stored (a JSON copy: changing
        ``session_data`` afterwards does not change it). False when the call failed (copy dropped)."""
        # Taken before the call, so it is no later than the database's expiry.
        expires = None if expires_in_hours is None else time.time() + expires_in_hours * 3600

        def copy_after(stored: Optional[Dict[str, Any]], entry: _Held) -> Optional[Dict[str, Any]]:
            entry.expires = expires
            return stored

        stored = self._fenced(
            session_id,
            lambda token: self.manager._save(session_id, session_data, metadata, expires_in_hours, token, True),
            copy_after,
        )
        return stored is not None

    def append(self, session_id: str, messages: List[Dict[str, Any]],
               patch: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """append_messages under the lease; the copy is read again on the next load."""
        return self._fenced(
            session_id,
            lambda token: self.manager.append_messages(session_id, messages, patch, fencing_token=token),
            lambda result, entry: None,
        )

    def touch(self, session_id: str, expires_in_hours: Optional[float] = None) -> Optional[str]:
        """touch_session under the lease; the copy stays (its data did not change) unless it failed."""
        def copy_after(expires_at: Optional[str], entry: _Held) -> Optional[Dict[str, Any]]:
            if expires_at is None:
                return None
            entry.expires = None if expires_at == "never" else _dt.datetime.fromisoformat(expires_at).timestamp()
            return entry.copy

        return self._fenced(
            session_id,
            lambda token: self.manager.touch_session(session_id, expires_in_hours, fencing_token=token),
            copy_after,
        )

    def delete(self, session_id: str, soft_delete: bool = True) -> bool:
        """delete_session under the lease (the lease stays held); the copy is dropped."""
        return self._fenced(
            session_id,
            lambda token: self.manager.delete_session(session_id, soft_delete, fencing_token=token),
            lambda deleted, entry: None,
        )

    # --- bookkeeping (callers hold self._lock) ---------------------------------------------------

    def _may_have_expired(self, entry: _Held) -> bool:
        """Whether the session itself may have expired (its own expiry, not the lease's): then only
        the service can say. The same tenth of the ttl is kept back for the clocks' distance."""
        return entry.expires is not None and time.time() >= entry.expires - self.ttl_seconds * SAFETY_SHARE

    def _live(self, session_id: str) -> Optional[_Held]:
        entry = self._held.get(session_id)
        if entry is not None and time.monotonic() >= entry.deadline:
            self._forget(session_id)
            return None
        return entry

    def _forget(self, session_id: str) -> None:
        entry = self._held.pop(session_id, None)
        if entry is not None and entry.copy is not None:
            self._copies -= 1

    def _keep(self, session_id: str, entry: _Held, copy: Optional[Dict[str, Any]]) -> None:
        """Sets the entry's copy, marks it most recently used, and drops the oldest copies over the bound."""
        self._copies += (copy is not None) - (entry.copy is not None)
        entry.copy = copy
        self._held.move_to_end(session_id)
        if self._copies <= self.max_sessions:
            return
        for other_id, other in self._held.items():
            if self._copies <= self.max_sessions:
                break
            if other.copy is not None and other_id != session_id:
                other.copy = None
                self._copies -= 1

    # --- writes under the lease ----------------------------------------------------------------

    def _fenced(self, session_id: str, write: Callable[[int], Any],
                copy_after: Callable[[Any, _Held], Optional[Dict[str, Any]]]) -> Any:
        """Runs ``write(fencing_token)`` and sets the copy to ``copy_after(result, entry)``. A refusal
        means the lease is gone: forget it, then raise FencedOff."""
        with self._lock:
            entry = self._live(session_id)
            if entry is not None:
                entry.writes += 1
        if entry is None:
            message = f'{self.holder} holds no live lease on session "{session_id}"'
            self.manager.last_error = f"FAILED_PRECONDITION: {message}"
            raise FencedOff(session_id, None, message)
        try:
            result = write(entry.lease["fencing_token"])
        except FencedOff:
            with self._lock:
                if self._held.get(session_id) is entry:
                    self._forget(session_id)
            raise
        with self._lock:
            if self._live(session_id) is entry:
                entry.writes += 1
                self._keep(session_id, entry, copy_after(result, entry))
        return result

    def _not_held(self, session_id: str) -> Dict[str, Any]:
        error = f'FAILED_PRECONDITION: {self.holder} holds no live lease on session "{session_id}"'
        self.manager.last_error = error
        return lease_refused(session_id, error, None)
