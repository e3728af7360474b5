"""The drop-in SessionManager against a live server (ISOTOPE_SESSIONS_TARGET), as the seed's engine uses it."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from isotope_sessions import FencedOff, SessionManager, get_postgres_session_manager  # noqa: E402


class SeedApiTest(unittest.TestCase):
    manager = SessionManager()

    def test_save_load_list_delete_like_the_seed(self):
        m = self.manager
        data = {"messages": [{"role": "user", "content": "你好"}, {"role": "ai", "content": "hi"}],
                "metadata": {"turns": 2}, "files": {}, "tasks": []}
        self.assertTrue(m.save_session("py-1", data, metadata={"name": "我的会话", "user_id": "user123"},
                                       expires_in_hours=24))
        self.assertEqual(m.load_session("py-1"), data)
        listed = m.list_sessions(limit=10)
        mine = [s for s in listed if s["session_id"] == "py-1"][0]
        self.assertEqual(mine["metadata"], {"name": "我的会话", "user_id": "user123"})
        self.assertEqual(mine["message_count"], 2)
        self.assertTrue(mine["expires_at"].endswith("+00:00"))
        self.assertTrue(m.delete_session("py-1", soft_delete=True))
        self.assertIsNone(m.load_session("py-1"))
        self.assertIn("py-1", [s["session_id"] for s in m.list_sessions(include_inactive=True)])
        self.assertTrue(m.delete_session("py-1", soft_delete=False))
        self.assertFalse(m.delete_session("py-1"))

    def test_save_reports_bad_input_as_false(self):
        self.assertFalse(self.manager.save_session("", {"a": 1}))
        self.assertFalse(self.manager.save_session("bad", {"n": float("nan")}))

    def test_serializes_what_json_cannot_hold(self):
        import datetime
        when = datetime.datetime(2024, 1, 2, 3, 4, 5)
        self.assertTrue(self.manager.save_session("py-smart", {"when": when, "tags": {"a"}, "obj": object()}))
        self.assertEqual(self.manager.load_session("py-smart"), {"when": when.isoformat(), "tags": ["a"], "obj": None})

    def test_statistics_cleanup_restore_and_connection(self):
        m = self.manager
        self.assertTrue(m.save_session("py-exp", {"messages": []}, expires_in_hours=0.0000003))
        time.sleep(0.05)
        self.assertIsNone(m.load_session("py-exp"))
        stats = m.get_session_statistics()
        for key in ("total_sessions", "active_sessions", "avg_messages_per_session", "expired_sessions"):
            self.assertIn(key, stats)
        self.assertGreaterEqual(m.cleanup_expired_sessions(), 1)
        self.assertTrue(m.save_session("py-restore", {"messages": [1, 2, 3]}))
        restored = m.restore_all_sessions()
        self.assertGreaterEqual(restored["restored_count"], 1)
        self.assertEqual(restored["sessions"]["py-restore"], {"messages": [1, 2, 3]})
        self.assertTrue(m.test_connection())

    def test_accessor_returns_one_shared_manager(self):
        self.assertIs(get_postgres_session_manager(), get_postgres_session_manager())

    def test_connection_failure_is_false_not_an_exception(self):
        dead = SessionManager("127.0.0.1:9", timeout=1.0)
        self.assertFalse(dead.test_connection())
        self.assertIn("UNAVAILABLE", dead.last_error)
        self.assertFalse(dead.save_session("x", {}))
        self.assertIsNone(dead.load_session("x"))

    def test_failures_keep_the_seed_shape_with_an_error(self):
        dead = SessionManager("127.0.0.1:9", timeout=1.0)
        stats = dead.get_session_statistics()
        live = self.manager.get_session_statistics()
        self.assertEqual(set(stats), set(live) | {"error"})
        self.assertEqual(stats["total_sessions"], 0)
        self.assertEqual(stats["avg_messages_per_session"], 0.0)
        self.assertIn("UNAVAILABLE", stats["error"])
        restored = dead.restore_all_sessions()
        self.assertEqual(set(restored), {"restored_count", "failed_count", "failed_sessions", "sessions", "error"})
        self.assertEqual(restored["restored_count"], 0)
        self.assertEqual(dead.list_sessions(), [])
        self.assertEqual(dead.cleanup_expired_sessions(), 0)
        self.assertFalse(dead.delete_session("x"))
        self.assertEqual(dead.append_messages("x", [{"a": 1}]), {"version": 0, "message_count": 0,
                                                                 "error": dead.last_error})
        self.assertTrue(self.manager.test_connection())
        self.assertIsNone(self.manager.last_error)

    def test_append_messages_adds_dicts_without_resending_the_history(self):
        m = self.manager
        self.assertTrue(m.save_session("py-append", {"messages": [{"role": "user", "content": "你好"}], "title": "t"}))
        self.assertEqual(m.append_messages("py-append", [{"role": "ai", "content": "hi", "n": 2}], patch={"title": None}),
                         {"version": 2, "message_count": 2})
        self.assertEqual(m.load_session("py-append"),
                         {"messages": [{"role": "user", "content": "你好"}, {"role": "ai", "content": "hi", "n": 2}]})
        missing = m.append_messages("py-nobody", [{"a": 1}])
        self.assertEqual((missing["version"], missing["error"][:9]), (0, "NOT_FOUND"))

    def test_a_write_whose_reply_is_lost_is_retried_with_its_key_and_applied_once(self):
        import grpc
        from isotope.session.v1 import session_pb2_grpc

        class Unavailable(grpc.RpcError):
            def code(self):
                return grpc.StatusCode.UNAVAILABLE

            def details(self):
                return "reply lost"

        class LoseFirstAppendReply(grpc.UnaryUnaryClientInterceptor):
            keys = []

            def intercept_unary_unary(self, continuation, details, request):
                outcome = continuation(details, request)
                if details.method.endswith("/Append"):
                    self.keys.append(request.request_id)
                    if len(self.keys) == 1:
                        outcome.result()  # the server applied it; the reply goes missing
                        raise Unavailable()
                return outcome

        m = SessionManager()
        lose = LoseFirstAppendReply()
        m._stub = session_pb2_grpc.SessionServiceStub(grpc.intercept_channel(m._channel, lose))
        self.assertTrue(m.save_session("py-lost", {"messages": [{"role": "user", "content": "hi"}]}))
        self.assertEqual(m.append_messages("py-lost", [{"role": "ai", "content": "hello"}]),
                         {"version": 2, "message_count": 2})
        self.assertEqual(len(lose.keys), 2)
        self.assertEqual(lose.keys[0], lose.keys[1])
        self.assertTrue(lose.keys[0])
        self.assertEqual(m.load_session("py-lost"),
                         {"messages": [{"role": "user", "content": "hi"}, {"role": "ai", "content": "hello"}]})

    def test_load_session_can_keep_only_the_last_messages(self):
        m = self.manager
        messages = [{"role": "user", "content": str(n)} for n in range(5)]
        self.assertTrue(m.save_session("py-window", {"messages": messages, "title": "t"}))
        self.assertEqual(m.load_session("py-window", last_messages=2), {"messages": messages[-2:], "title": "t"})
        self.assertEqual(m.load_session("py-window"), {"messages": messages, "title": "t"})

    def test_touch_session_slides_the_expiry_without_a_new_version(self):
        m = self.manager
        self.assertTrue(m.save_session("py-touch", {"messages": []}, expires_in_hours=1))
        before = next(s for s in m.list_sessions(limit=1000) if s["session_id"] == "py-touch")
        expires_at = m.touch_session("py-touch", expires_in_hours=48)
        self.assertIsNotNone(expires_at)
        after = next(s for s in m.list_sessions(limit=1000) if s["session_id"] == "py-touch")
        self.assertEqual(after["expires_at"], expires_at)
        self.assertGreater(after["expires_at"], before["expires_at"])
        self.assertEqual(after["version"], before["version"])
        self.assertEqual(m.touch_session("py-touch"), "never")
        self.assertIsNone(next(s for s in m.list_sessions(limit=1000) if s["session_id"] == "py-touch")["expires_at"])
        self.assertIsNone(m.touch_session("py-nobody", expires_in_hours=1))
        self.assertIsNone(m.last_error)
        self.assertIsNone(m.touch_session("py-touch", expires_in_hours=-1))
        self.assertTrue(m.last_error.startswith("INVALID_ARGUMENT"))

    def test_watch_sessions_yields_each_change_once_and_resumes_from_a_position(self):
        import threading
        m = self.manager
        positions = []
        events = []
        watcher = SessionManager()
        stream = watcher.watch_sessions(session_ids=["py-watch"], on_position=positions.append)

        def consume():
            for event in stream:
                events.append(event)
                if len(events) == 3:
                    return

        reader = threading.Thread(target=consume)
        reader.start()
        deadline = time.time() + 10
        while not positions and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(m.save_session("py-watch", {"messages": []}))
        m.append_messages("py-watch", [{"role": "user", "content": "hi"}])
        self.assertIsNotNone(m.touch_session("py-watch", expires_in_hours=1))
        reader.join(timeout=10)
        stream.close()
        watcher.close()
        self.assertEqual([(e["kind"], e["version"]) for e in events], [("saved", 1), ("appended", 2), ("touched", 2)])
        self.assertEqual([e["sequence"] for e in events], [events[0]["sequence"] + i for i in range(3)])

        # From the first change's position: exactly the two that came after it, nothing twice.
        again = SessionManager().watch_sessions(since_sequence=events[0]["sequence"], session_ids=["py-watch"])
        self.assertEqual([next(again)["sequence"], next(again)["sequence"]], [e["sequence"] for e in events[1:]])
        again.close()

        # A position past the log's end is OUT_OF_RANGE: the generator ends, saying why.
        beyond = SessionManager()
        self.assertEqual(list(beyond.watch_sessions(since_sequence=10**12)), [])
        self.assertTrue(beyond.last_error.startswith("OUT_OF_RANGE"))

    def test_configuration_mistakes_raise_with_the_setting_named(self):
        with self.assertRaisesRegex(ValueError, "both cert_file and key_file"):
            SessionManager(cert_file=__file__)
        with self.assertRaisesRegex(ValueError, "ca_file / ISOTOPE_SESSIONS_CA_FILE: cannot read /nonexistent.pem"):
            SessionManager(ca_file="/nonexistent.pem")

    def test_token_comes_from_the_environment(self):
        saved = os.environ.get("ISOTOPE_SESSIONS_TOKEN")
        os.environ["ISOTOPE_SESSIONS_TOKEN"] = "from-env"
        try:
            self.assertEqual(SessionManager()._metadata, (("authorization", "Bearer from-env"),))
            self.assertEqual(SessionManager(token="arg")._metadata, (("authorization", "Bearer arg"),))
        finally:
            if saved is None:
                del os.environ["ISOTOPE_SESSIONS_TOKEN"]
            else:
                os.environ["ISOTOPE_SESSIONS_TOKEN"] = saved


def counting_manager():
    """A SessionManager, and how many Loads it has sent (counted by a grpc interceptor on its channel)."""
    import grpc
    from isotope.session.v1 import session_pb2_grpc

    class CountLoads(grpc.UnaryUnaryClientInterceptor):
        loads = 0

        def intercept_unary_unary(self, continuation, details, request):
            if details.method.endswith("/Load"):
                self.loads += 1
            return continuation(details, request)

    manager = SessionManager()
    sent = CountLoads()
    manager._stub = session_pb2_grpc.SessionServiceStub(grpc.intercept_channel(manager._channel, sent))
    return manager, sent


class LeaseTest(unittest.TestCase):
    manager = SessionManager()

    def test_acquire_renew_release_and_a_second_holder_refused_naming_the_first(self):
        m = self.manager
        lease = m.acquire_lease("py-lease", "engine-1", 30)
        self.assertEqual(set(lease), {"session_id", "holder", "fencing_token", "expires_at"})
        self.assertEqual((lease["session_id"], lease["holder"], lease["fencing_token"]), ("py-lease", "engine-1", 1))
        self.assertTrue(lease["expires_at"].endswith("+00:00"))

        refused = m.acquire_lease("py-lease", "engine-2", 30)
        self.assertEqual((refused["fencing_token"], refused["held_by"]), (0, "engine-1"))
        self.assertTrue(refused["error"].startswith("FAILED_PRECONDITION"))
        self.assertEqual(m.last_error, refused["error"])

        renewed = m.renew_lease("py-lease", "engine-1", 1, 60)
        self.assertEqual(renewed["fencing_token"], 1)
        self.assertGreater(renewed["expires_at"], lease["expires_at"])
        self.assertEqual(m.renew_lease("py-lease", "engine-2", 1, 60)["held_by"], "engine-1")

        self.assertTrue(m.release_lease("py-lease", "engine-1", 1))
        self.assertFalse(m.release_lease("py-lease", "engine-1", 1))
        self.assertIsNone(m.last_error)
        self.assertEqual(m.acquire_lease("py-lease", "engine-2", 30)["fencing_token"], 2)
        self.assertTrue(m.acquire_lease("py-lease", "engine-2", 0)["error"].startswith("INVALID_ARGUMENT"))

    def test_a_fenced_off_writer_is_refused_and_the_new_owners_data_stays(self):
        m = self.manager
        self.assertTrue(m.save_session("py-fenced", {"by": "nobody"}))
        paused = m.acquire_lease("py-fenced", "paused", 0.3)["fencing_token"]
        time.sleep(0.4)  # the paused engine's lease lapses
        owner = m.acquire_lease("py-fenced", "next", 60)["fencing_token"]
        self.assertTrue(m.save_session("py-fenced", {"by": "next"}, fencing_token=owner))

        with self.assertRaises(FencedOff) as refused:
            m.save_session("py-fenced", {"by": "paused"}, fencing_token=paused)
        self.assertEqual((refused.exception.session_id, refused.exception.holder), ("py-fenced", "next"))
        self.assertTrue(m.last_error.startswith("FAILED_PRECONDITION"))
        with self.assertRaises(FencedOff):
            m.append_messages("py-fenced", [{"role": "ai", "content": "late"}], fencing_token=paused)
        with self.assertRaises(FencedOff):
            m.touch_session("py-fenced", 1, fencing_token=paused)
        with self.assertRaises(FencedOff):
            m.delete_session("py-fenced", fencing_token=paused)
        with self.assertRaises(FencedOff):  # a token never issued
            m.save_session("py-fenced", {"by": "forger"}, fencing_token=owner + 5)
        # A refused acquire's token 0 is never a valid token: the write fails, nothing is written.
        self.assertFalse(m.save_session("py-fenced", {"by": "careless"}, fencing_token=0))
        self.assertTrue(m.last_error.startswith("INVALID_ARGUMENT"))

        self.assertEqual(m.load_session("py-fenced"), {"by": "next"})
        self.assertEqual(m.append_messages("py-fenced", [{"n": 1}], fencing_token=owner)["message_count"], 1)
        self.assertIsNotNone(m.touch_session("py-fenced", 1, fencing_token=owner))
        self.assertTrue(m.delete_session("py-fenced", fencing_token=owner))

    def test_the_holders_load_is_served_from_memory_while_its_lease_lives(self):
        counted, sent = counting_manager()
        engine = counted.lease_holder("engine-1", 60)
        self.assertTrue(self.manager.save_session("py-held", {"turn": 0}, metadata={"user_id": "u1"}))
        self.assertEqual(engine.acquire("py-held")["fencing_token"], 1)
        after_acquire = sent.loads
        self.assertEqual(engine.load("py-held"), {"turn": 0})
        document = {"turn": 1, "when": __import__("datetime").date(2024, 1, 2)}
        self.assertTrue(engine.save("py-held", document))
        document["turn"] = 99  # the copy is the data as stored, not the caller's dict
        for _ in range(5):
            self.assertEqual(engine.load("py-held"), {"turn": 1, "when": "2024-01-02"})
        self.assertIsNotNone(engine.touch("py-held", 1))
        self.assertEqual(engine.load("py-held"), {"turn": 1, "when": "2024-01-02"})
        self.assertEqual(sent.loads, after_acquire)
        # What memory served is what the service holds.
        self.assertEqual(self.manager.load_session("py-held"), {"turn": 1, "when": "2024-01-02"})

        # An append changes what only the service can say: the next load reads it, then memory again.
        self.assertEqual(engine.append("py-held", [{"role": "user", "content": "hi"}])["message_count"], 1)
        self.assertEqual(engine.load("py-held")["messages"], [{"role": "user", "content": "hi"}])
        self.assertEqual(engine.load("py-held")["turn"], 1)
        self.assertEqual(sent.loads, after_acquire + 1)

        self.assertTrue(engine.release("py-held"))
        self.assertFalse(engine.holds("py-held"))
        engine.load("py-held")
        self.assertEqual(sent.loads, after_acquire + 2)
        with self.assertRaises(FencedOff) as unheld:
            engine.save("py-held", {"turn": 2})
        self.assertIsNone(unheld.exception.holder)
        self.assertTrue(engine.renew("py-held")["error"].startswith("FAILED_PRECONDITION"))

    def test_the_copy_is_dropped_when_the_lease_may_have_lapsed(self):
        counted, sent = counting_manager()
        engine = counted.lease_holder("brief", 2)
        self.assertTrue(self.manager.save_session("py-lapse", {"turn": 0}))
        engine.acquire("py-lapse")
        before = sent.loads
        self.assertEqual(engine.load("py-lapse"), {"turn": 0})
        self.assertEqual(sent.loads, before)
        renewed = engine.renew("py-lapse")
        self.assertEqual(renewed["fencing_token"], 1)
        time.sleep(1.81)  # past 90 % of the ttl: the lease may have lapsed on the database's clock
        self.assertFalse(engine.holds("py-lapse"))
        self.assertEqual(engine.load("py-lapse"), {"turn": 0})
        self.assertEqual(sent.loads, before + 1)

    def test_the_copy_is_not_served_once_the_session_itself_may_have_expired(self):
        counted, sent = counting_manager()
        engine = counted.lease_holder("expiring", 5)  # 0.5 s kept back for the clocks' distance
        self.assertTrue(self.manager.save_session("py-short", {"v": 1}, expires_in_hours=2 / 3600))
        engine.acquire("py-short")
        before = sent.loads
        self.assertEqual(engine.load("py-short"), {"v": 1})
        self.assertEqual(sent.loads, before)
        time.sleep(2.1)
        self.assertTrue(engine.holds("py-short"))  # the lease lives on; the session does not
        self.assertIsNone(engine.load("py-short"))
        self.assertEqual(sent.loads, before + 1)
        # What the holder saves with an expiry is judged by that expiry too.
        self.assertTrue(engine.save("py-short", {"v": 2}, expires_in_hours=1.5 / 3600))
        self.assertEqual(engine.load("py-short"), {"v": 2})
        self.assertEqual(sent.loads, before + 1)
        time.sleep(1.6)
        self.assertIsNone(engine.load("py-short"))
        self.assertEqual(sent.loads, before + 2)

    def test_once_another_takes_the_session_over_the_old_holder_is_refused_and_reads_the_service(self):
        counted, sent = counting_manager()
        old = counted.lease_holder("engine-1", 60)
        restarted = self.manager.lease_holder("engine-1", 60)  # the same engine, restarted: a newer token
        self.assertTrue(self.manager.save_session("py-taken", {"by": "nobody"}))
        old.acquire("py-taken")
        old.load("py-taken")
        self.assertEqual(restarted.acquire("py-taken")["fencing_token"], 2)
        self.assertTrue(restarted.save("py-taken", {"by": "restarted"}))

        with self.assertRaises(FencedOff) as refused:
            old.save("py-taken", {"by": "old"})
        self.assertEqual(refused.exception.holder, "engine-1")
        self.assertFalse(old.holds("py-taken"))
        before = sent.loads
        self.assertEqual(old.load("py-taken"), {"by": "restarted"})
        self.assertEqual(sent.loads, before + 1)
        self.assertEqual(restarted.load("py-taken"), {"by": "restarted"})

    def test_the_cache_keeps_at_most_max_sessions_copies_the_least_recently_used_out_first(self):
        counted, sent = counting_manager()
        engine = counted.lease_holder("bounded", 60, max_sessions=2)
        for sid in ("py-b1", "py-b2", "py-b3"):
            self.assertTrue(self.manager.save_session(sid, {"id": sid}))
            engine.acquire(sid)
        before = sent.loads
        self.assertEqual(engine.load("py-b2"), {"id": "py-b2"})
        self.assertEqual(engine.load("py-b3"), {"id": "py-b3"})
        self.assertEqual(sent.loads, before)
        self.assertEqual(engine.load("py-b1"), {"id": "py-b1"})
        self.assertEqual(sent.loads, before + 1)
        self.assertTrue(engine.holds("py-b1"))
        self.assertEqual(engine.load("py-b3"), {"id": "py-b3"})  # b1 read back in pushed b2 out, not b3
        self.assertEqual(sent.loads, before + 1)
        engine.load("py-b2")
        self.assertEqual(sent.loads, before + 2)


if __name__ == "__main__":
    unittest.main()
