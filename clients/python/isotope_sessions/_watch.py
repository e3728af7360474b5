"""The change feed as a generator: SessionManager.watch_sessions' stream, resumed after a break.

A Watch stream never ends on its own, so an end or a resumable failure (the server restarting, a
dropped connection, a reader too slow) is followed by a new Watch from the last position the server
reported, after a short backoff; anything else ends the generator with ``last_error`` set.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from ._convert import change, to_struct
from ._stubs import grpc, pb

_RESUMABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED,
              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED)


def watch(
    manager: Any,
    since_sequence: int,
    session_ids: Optional[List[str]],
    metadata_filter: Optional[Dict[str, Any]],
    on_position: Optional[Callable[[int], None]],
    max_resumes: int,
) -> Iterator[Dict[str, Any]]:
    """watch_sessions' generator over ``manager`` (a SessionManager: its stub, metadata, last_error)."""
    since = since_sequence
    failures = 0
    while True:
        request = pb.WatchRequest(since_sequence=since, session_ids=session_ids or [])
        try:
            if metadata_filter is not None:
                request.metadata_filter.CopyFrom(to_struct(metadata_filter))
            call = manager._stub.Watch(request, metadata=manager._metadata)
            try:
                for response in call:
                    failures = 0
                    manager.last_error = None
                    for event in response.events:
                        yield change(event)
                    since = response.sequence
                    if on_position is not None:
                        on_position(since)
            finally:
                call.cancel()  # also when the caller closes the generator: the stream ends here
            failures += 1  # a Watch never ends on its own: the server went away
        except grpc.RpcError as error:
            failures += 1
            if error.code() not in _RESUMABLE or failures > max_resumes:
                manager._failed("watch_sessions", error)
                return
        except (ValueError, TypeError) as error:
            manager._failed("watch_sessions", error)
            return
        if failures > max_resumes:
            manager.last_error = "UNAVAILABLE: the Watch stream kept ending"
            return
        time.sleep(min(2.0, 0.05 * 2 ** failures))
