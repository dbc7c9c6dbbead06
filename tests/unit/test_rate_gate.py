"""The process-wide pace: pause on 429, then keep below what Slack let through."""

import math
from collections import Counter

from bot.slack.client import RateGate


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.while_asleep: list = []  # things that happen during the next sleep (another thread)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.while_asleep:
            self.while_asleep.pop(0)()
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


# Issue 13: digest sending within 1.15x of the rate-limit bound --------------------------------


def _send(clock: FakeTime, gate: RateGate, seconds: float) -> list[float]:
    """Send (and have accepted) as fast as the gate lets for `seconds` once any pause is over;
    the send times."""
    gate.wait()
    end, times = clock.now + seconds, [clock.now]
    gate.accepted()
    while clock.now < end:
        gate.wait()
        times.append(clock.now)
        gate.accepted()
    return times


def _burst(clock: FakeTime, gate: RateGate, count: int) -> None:
    for i in range(count):  # Slack took `count` messages in the second before now
        clock.now = 1.0 + i / count
        gate.accepted()
    clock.now = 2.0


def test_429s_answered_to_requests_already_on_their_way_teach_nothing_new():
    """Eight senders each got a 429 for the same full second: the pace was cut eight times over."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    _burst(clock, gate, 50)
    gate.pause(1.0)
    for _ in range(7):
        clock.now += 0.005
        gate.pause(1.0)
    assert gate.rate == 47.5
    gate.wait()
    assert clock.now >= 3.035 - 1e-9  # the last of them still waited out its Retry-After


def test_a_smooth_pace_stays_below_the_limit_it_learnt_and_climbs_per_second_not_per_message():
    """The pace used to rise 3 % per message after five calm seconds, and ran past the limit
    (ten 429s a minute at 50 messages a second)."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    _burst(clock, gate, 50)
    gate.pause(1.0)
    times = _send(clock, gate, 120.0)
    per_second = [sum(1 for t in times if k <= t < k + 1) for k in range(4, 120)]
    assert max(per_second) <= 49  # at most 97 % of 50, in any whole second
    assert min(per_second[10:]) >= 48  # and close to it once the calm spell has raised it
    assert gate.rate is not None and 47.5 < gate.rate <= 50 * 0.97


def test_a_slot_taken_before_a_429_is_void():
    """A sender asleep until its slot woke up and posted in the middle of the pause."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    _burst(clock, gate, 10)
    gate.pause(1.0)  # pace: 9.5 a second, from t=3
    gate.wait()
    assert clock.now == 3.0
    clock.while_asleep.append(lambda: gate.pause(2.0))  # another sender's 429 while this one waits its turn
    gate.wait()
    assert clock.now >= 5.0


def _fixed_windows(clock: FakeTime, gate: RateGate, seconds: float, limit: int = 50
                   ) -> tuple[Counter[int], list[float]]:
    """Send through a Slack that takes `limit` messages per fixed one-second window and answers
    429 (Retry-After: 1) beyond: what got through per window, and when Slack said wait."""
    got: Counter[int] = Counter()
    refused: list[float] = []
    end = clock.now + seconds
    while clock.now < end:
        gate.wait()
        window = math.floor(clock.now)
        if got[window] >= limit:
            refused.append(clock.now)
            gate.pause(1.0)
            continue
        got[window] += 1
        gate.accepted()
        clock.now += 0.001  # the request's own time
    return got, refused


def test_a_pace_a_burst_overestimated_is_cut_at_once_and_the_climb_then_finds_the_limit():
    """With fixed one-second windows the second before the first 429 can hold up to two windows'
    worth: 75 got through where Slack allows 50. Stepping down 5 % per 429, with a second lost
    to Retry-After each time, took seven 429s."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    _burst(clock, gate, 75)
    gate.pause(1.0)
    assert gate.rate == 75 * 0.95
    got, refused = _fixed_windows(clock, gate, 60.0)
    assert len(refused) <= 3 and max(refused) < 20
    assert gate.rate is not None and 45 <= gate.rate < 50
    assert min(got[k] for k in range(30, 60)) >= 45  # close to the limit once it is known


def test_a_429_soon_after_sending_resumed_is_measured_per_second():
    """A 429 0.6 s after a pause must not read "29 got through" as 29 a second."""
    clock = FakeTime()
    gate = RateGate(clock.monotonic, clock.sleep)
    _burst(clock, gate, 50)
    gate.pause(1.0)
    _send(clock, gate, 10.0)  # the guess held; the pace has climbed
    gate.pause(1.0)  # measured: 95 % of the pace that got through
    measured = gate.rate
    _send(clock, gate, 0.6)
    assert measured is not None and gate.rate == measured
    gate.pause(1.0)  # (a 429 at a measured pace: some hiccup)
    assert gate.rate is not None and gate.rate >= measured * 0.95 - 1e-9
