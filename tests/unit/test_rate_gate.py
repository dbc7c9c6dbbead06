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
