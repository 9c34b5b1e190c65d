"""The sessions a gateway copy keeps (gateway/sessions.py): never past the
end accounts gave, never after they ended, never while deaf to endings."""
import pytest

from gateway import sessions

MEMBER = {"file_number": "1234567", "full_name": "Mme Claire MARTIN"}
OTHER = {"file_number": "7654321", "full_name": "M. Jean DUPONT"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def answer(member=MEMBER, valid_for=1800.0):
    return {"csrf_token": "c", "member": member, "valid_for": valid_for}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cache(clock):
    kept = sessions.SessionCache(ttl=15, clock=clock)
    kept.listening = True
    return kept


def test_a_session_is_kept_for_the_ttl_then_asked_again(cache, clock):
    cache.keep("tok", answer(), cache.ticket())
    clock.now += 14.9
    assert cache.get("tok")["member"] == MEMBER
    clock.now += 0.2
    assert cache.get("tok") is None
    assert len(cache) == 0


def test_never_past_the_end_accounts_gave(cache, clock):
    ticket = cache.ticket()
    clock.now += 1  # the answer took a second: the end is counted from the question
    cache.keep("tok", answer(valid_for=3.0), ticket)
    clock.now += 1.9
    assert cache.get("tok") is not None
    clock.now += 0.2
    assert cache.get("tok") is None
    cache.keep("late", answer(valid_for=0.5), cache.ticket())  # ends before it could be served
    clock.now += 0.5
    assert cache.get("late") is None


def test_an_ended_member_is_forgotten_with_all_their_sessions(cache):
    for token in ("a", "b"):
        cache.keep(token, answer(), cache.ticket())
    cache.keep("c", answer(OTHER), cache.ticket())
    cache.forget_member("1234567")
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.get("c")["member"] == OTHER
    cache.forget_token("c")
    assert cache.get("c") is None


def test_an_answer_on_its_way_while_a_session_ended_is_not_kept(cache):
    ticket = cache.ticket()  # asked accounts...
    cache.forget_member("7654321")  # ...meanwhile someone's sessions ended
    cache.keep("tok", answer(), ticket)
    assert cache.get("tok") is None
    cache.keep("tok", answer(), cache.ticket())
    assert cache.get("tok") is not None


def test_nothing_is_kept_or_served_while_deaf_to_endings_or_switched_off(clock):
    deaf = sessions.SessionCache(ttl=15, clock=clock)
    deaf.keep("tok", answer(), deaf.ticket())
    assert deaf.get("tok") is None and len(deaf) == 0
    off = sessions.SessionCache(ttl=0, clock=clock)
    off.listening = True
    off.keep("tok", answer(), off.ticket())
    assert off.get("tok") is None


def test_an_answer_without_its_lifetime_is_never_kept(cache):
    cache.keep("tok", {"csrf_token": "c", "member": MEMBER}, cache.ticket())
    assert cache.get("tok") is None


def test_a_full_cache_drops_the_ended_then_the_oldest(clock):
    cache = sessions.SessionCache(ttl=15, max_entries=3, clock=clock)
    cache.listening = True
    cache.keep("short", answer(valid_for=1), cache.ticket())
    cache.keep("a", answer(), cache.ticket())
    cache.keep("b", answer(OTHER), cache.ticket())
    clock.now += 2
    cache.keep("c", answer(), cache.ticket())
    assert len(cache) == 3 and cache.get("a") is not None
    cache.keep("d", answer(), cache.ticket())
    assert len(cache) == 3 and cache.get("a") is None and cache.get("d") is not None


class _Backends:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def call(self, service, method, token):
        assert (service, method) == ("accounts", "resolve_session")
        self.calls += 1
        return self.answers.pop(0)


class _Ctx:
    def __init__(self, backends, cache):
        self.backends = backends
        self.sessions = cache


def test_resolve_asks_accounts_once_per_ttl_and_never_keeps_no(cache, clock):
    backends = _Backends([answer(), None, None])
    ctx = _Ctx(backends, cache)
    assert sessions.resolve(ctx, "tok")["member"] == MEMBER
    assert sessions.resolve(ctx, "tok")["member"] == MEMBER
    assert backends.calls == 1
    assert sessions.resolve(ctx, "nope") is None
    assert sessions.resolve(ctx, "nope") is None
    assert backends.calls == 3  # "no session" is asked every time
    assert sessions.resolve(ctx, "") is None and backends.calls == 3


def test_this_copys_own_logout_forgets_before_answering(cache):
    ctx = _Ctx(_Backends([answer(), answer()]), cache)
    sessions.resolve(ctx, "tok")
    sessions.forget(ctx, token="tok")
    sessions.resolve(ctx, "tok")
    assert ctx.backends.calls == 2


def test_the_listener_forgets_the_member_named_and_everything_on_nonsense(cache):
    listener = sessions.SessionEndingsListener(cache, "memory://", exchange=None)
    cache.keep("a", answer(), cache.ticket())
    cache.keep("b", answer(OTHER), cache.ticket())
    listener.on_message({"file_number": "1234567"}, None)
    assert cache.get("a") is None and cache.get("b") is not None
    listener.on_message({"what": "?"}, None)
    assert len(cache) == 0
