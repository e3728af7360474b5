"""One bench run of the ``python`` path: the Python drop-in (clients/python/isotope_sessions) used as
a seed engine uses it — one shared manager from get_postgres_session_manager(), save_session and
load_session — from `concurrency` threads in a closed loop. The same workload, warm-up, window
protocol (``window-open`` / ``window-closed`` lines) and JSON figures line as driver.ts and
workload.ts; the CPU is the whole process's (every thread, grpcio's own included).

Usage: PYTHONPATH=clients/python /usr/bin/python3 bench/driver.py '<json DriverArgs>'
"""

import itertools
import json
import os
import random
import sys
import threading
import time

_PAD = "lorem ipsum dolor sit amet "


def session_id(index: int) -> str:
    return f"bench-{index:06d}"


def session_data(index: int, generation: int) -> dict:
    """workload.ts's sessionData, byte for byte once serialized: 12 messages, ~4.5 KB of JSON."""

    def content(turn: int) -> str:
        head = f"session {index} turn {turn} generation {generation} "
        # JavaScript's padEnd(340, pad): the pad repeated and cut to fill 340 characters.
        return head + (_PAD * (340 // len(_PAD) + 1))[: max(0, 340 - len(head))]

    messages = [
        {"role": "user" if m % 2 == 0 else "assistant", "content": content(m), "ts": 1_700_000_000 + m}
        for m in range(12)
    ]
    return {"messages": messages, "files": {}, "tasks": [], "context": {"generation": generation}}


class ClosedLoop:
    """`concurrency` threads, each starting its next call when its last one returns."""

    def __init__(self, manager, workload: str, sessions: int):
        self.manager = manager
        self.workload = workload
        self.sessions = sessions
        self.generations = itertools.count(1)
        self.measuring = False
        self.stopped = False
        self.latencies_ms: list = []
        self.errors = 0
        self.lock = threading.Lock()

    def one_call(self) -> bool:
        index = random.randrange(self.sessions)
        load = self.workload == "load" or (self.workload == "mixed" and random.random() < 0.8)
        if load:
            # The drop-in reports a failure as None (False for a save), as the seed's manager did.
            return self.manager.load_session(session_id(index)) is not None
        return self.manager.save_session(session_id(index), session_data(index, next(self.generations)))

    def worker(self) -> None:
        while not self.stopped:
            started = time.perf_counter()
            ok = self.one_call()
            if self.measuring:
                if ok:
                    self.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    with self.lock:
                        self.errors += 1


def main() -> None:
    args = json.loads(sys.argv[1])
    os.environ["ISOTOPE_SESSIONS_TARGET"] = args["url"]
    from isotope_sessions import get_postgres_session_manager

    manager = get_postgres_session_manager()
    loop = ClosedLoop(manager, args["workload"], args["sessions"])
    threads = [threading.Thread(target=loop.worker, daemon=True) for _ in range(args["concurrency"])]
    for thread in threads:
        thread.start()
    time.sleep(args["warmupMs"] / 1000)
    print("window-open", flush=True)
    cpu_at_start = time.process_time()
    started = time.perf_counter()
    loop.measuring = True
    time.sleep(args["durationMs"] / 1000)
    loop.measuring = False
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_at_start
    print("window-closed", flush=True)
    loop.stopped = True
    for thread in threads:
        thread.join()
    manager.close()

    latencies = sorted(loop.latencies_ms)

    def at(q: float):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None

    figures = {
        "ops": len(latencies),
        "seconds": seconds,
        "opsPerSecond": len(latencies) / seconds,
        "p50Ms": at(0.5),
        "p99Ms": at(0.99),
        "clientCpuSeconds": cpu_seconds,
        "errors": loop.errors,
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
