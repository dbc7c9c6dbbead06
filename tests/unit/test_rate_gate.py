"""The process-wide pace: pause on 429, then keep below what Slack let through."""

from bot.slack.client import RateGate


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_unlimited_until_slack_says_wait():
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    for _ in range(100):
        gate.wait()
    assert clock.slept == [] and gate.rate is None


def test_a_429_pauses_everyone_then_paces_at_95_percent_of_what_got_through():
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    for i in range(20):  # Slack accepted 20 messages in the last second
        clock.now = 0.5 + i * 0.02
        gate.accepted()
    clock.now = 1.0
    gate.pause(2.0)
    assert gate.rate == 19.0
    gate.wait()
    assert clock.now == 3.0  # nobody sends before Retry-After has passed
    starts = []
    for _ in range(18):
        gate.wait()
        starts.append(clock.now)
    assert abs((starts[-1] - starts[0]) - 17 / 19) < 1e-9  # evenly spaced, 19 per second


def test_the_pace_rises_again_after_a_calm_spell():
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    gate.accepted()
    gate.accepted()
    gate.pause(1.0)
    slow = gate.rate
    clock.now += 12
    gate.wait()
    assert gate.rate is not None and slow is not None and gate.rate > slow


def test_a_429_on_one_method_never_slows_another():
    """Issue 11, item 7: one 429 on users.info set the whole process's posting pace to 1/s."""
    from bot.slack.client import RateGates, method_of

    clock = FakeTime()
    gates = RateGates(clock.monotonic, clock.sleep)
    gates.get("users.info").accepted()
    gates.get("users.info").pause(30.0)
    for _ in range(200):
        gates.wait()  # chat.postMessage
        gates.accepted()
    assert clock.slept == [] and gates.rates()["chat.postMessage"] is None
    assert method_of("https://slack.com/api/users.info?x=1") == "users.info"


def test_with_no_known_limit_the_pace_recovers_in_seconds_not_hours():
    """A 429 that came with (almost) nothing getting through used to recover by 3 % a minute."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    gate.pause(1.0)
    low = gate.rate
    assert low is not None
    for _ in range(120):  # two minutes of steady sending
        gate.wait()
    assert gate.rate is not None and gate.rate > 4 * low
