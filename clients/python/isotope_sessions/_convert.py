"""Python values ⇄ the service's messages: documents to and from Struct, and the seed's dict shapes
(session summaries, statistics, leases, change events, error text) from the replies.

Pure functions of their arguments; no calls are made here.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from typing import Any, Dict, Optional

from ._stubs import grpc, pb, struct_pb2

logger = logging.getLogger("isotope_sessions")


def to_struct(value: Dict[str, Any]) -> struct_pb2.Struct:
    """The seed's "smart serialization": what JSON cannot hold is converted or skipped, not fatal."""

    def fallback(obj: Any) -> Any:
        if isinstance(obj, (_dt.datetime, _dt.date)):
            return obj.isoformat()
        for method in ("model_dump", "dict", "to_json"):  # pydantic / LangChain messages
            if callable(getattr(obj, method, None)):
                try:
                    return getattr(obj, method)()
                except Exception:  # noqa: BLE001 - an object that cannot describe itself is skipped
                    break
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        if isinstance(obj, bytes):
            return obj.decode("utf-8", "replace")
        logger.warning("skipping a value that cannot be serialized: %s", type(obj).__name__)
        return None

    plain = json.loads(json.dumps(value, default=fallback, allow_nan=False).replace("\\u0000", ""))
    struct = struct_pb2.Struct()
    struct.update(plain)
    return struct


def _number(value: float) -> Any:
    """Struct numbers are doubles: give back ints where the value is integral, as JSON had them."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [_from_value(item) for item in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    return None


def from_struct(struct: struct_pb2.Struct) -> Dict[str, Any]:
    # One walk over the message; json_format.MessageToDict and a second pass for the integers
    # cost the engine ~3x the CPU per Load (bench/RESULTS.md, the python path).
    return {key: _from_value(value) for key, value in struct.fields.items()}


def timestamp(message: Any, field: str) -> Optional[str]:
    """A Timestamp field as ISO 8601 in UTC, or None when the message does not set it."""
    return getattr(message, field).ToDatetime(tzinfo=_dt.timezone.utc).isoformat() if message.HasField(field) else None


def lease(lease: pb.Lease) -> Dict[str, Any]:
    return {"session_id": lease.session_id, "holder": lease.holder, "fencing_token": lease.fencing_token,
            "expires_at": timestamp(lease, "expires_at")}


def summary(session: pb.Session) -> Dict[str, Any]:
    """A list_sessions entry: the seed's keys, without the data."""
    return {
        "session_id": session.session_id,
        "metadata": from_struct(session.metadata),
        "created_at": timestamp(session, "created_at"),
        "last_updated": timestamp(session, "last_updated"),
        "expires_at": timestamp(session, "expires_at"),
        "version": session.version,
        "is_active": session.is_active,
        "message_count": session.message_count,
    }


def statistics(stats: pb.StatisticsResponse) -> Dict[str, Any]:
    """get_session_statistics()'s dict, with the seed's keys."""
    return {
        "total_sessions": stats.total_sessions,
        "active_sessions": stats.active_sessions,
        "inactive_sessions": stats.inactive_sessions,
        "expired_sessions": stats.expired_sessions,
        "total_messages": stats.total_messages,
        "avg_messages_per_session": stats.avg_messages_per_session,
        "total_data_bytes": stats.total_data_bytes,
        "oldest_session": timestamp(stats, "oldest_created_at"),
        "latest_activity": timestamp(stats, "latest_updated_at"),
        "created_last_24h": stats.created_last_24h,
    }


# statistics()'s keys with zero values: what a failed call returns (with "error"), so
# stats["total_sessions"] never raises KeyError.
ZERO_STATISTICS: Dict[str, Any] = {
    "total_sessions": 0,
    "active_sessions": 0,
    "inactive_sessions": 0,
    "expired_sessions": 0,
    "total_messages": 0,
    "avg_messages_per_session": 0.0,
    "total_data_bytes": 0,
    "oldest_session": None,
    "latest_activity": None,
    "created_last_24h": 0,
}


def change(event: pb.ChangeEvent) -> Dict[str, Any]:
    """A watch_sessions item; ``kind`` is the enum's name without KIND_, lower case ("saved", …)."""
    return {
        "sequence": event.sequence,
        "session_id": event.session_id,
        "kind": pb.ChangeEvent.Kind.Name(event.kind)[len("KIND_"):].lower(),
        "version": event.version,
        "committed_at": timestamp(event, "committed_at"),
    }


def describe(error: Exception) -> str:
    """What ``last_error`` says: "CODE: details" for a gRPC status, else the exception's text."""
    if isinstance(error, grpc.RpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error)
