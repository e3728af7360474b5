"""The drop-in SessionManager against a live server (ISOTOPE_SESSIONS_TARGET), as the seed's engine uses it."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from isotope_sessions import SessionManager, get_postgres_session_manager  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
