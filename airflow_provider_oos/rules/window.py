"""Maintenance-window guard: decide whether an OOS execution may still start, before anything is sent.

OOS has no cancel call, so the only safe control over a late run is not to start it. A
`StartWindow` bounds the start: a latest start, and a window end that the expected duration must
still fit before. Times are absolute (timezone-aware datetimes) or a `timedelta` counted from the
run's data interval (`window_anchor`). `decide_start` is pure: it takes the clock and the run's
interval and returns start, skip or fail, with a log line saying which window was missed and by
how much. `WindowWatch` says once when the window closes while an execution still runs. No
Airflow, no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW_ANCHORS = ("data_interval_end", "data_interval_start")
ON_WINDOW_MISSED_CHOICES = ("skip", "fail")
START, SKIP, FAIL = "start", "skip", "fail"

_AWARE_EXAMPLE = "pendulum.datetime(2026, 1, 4, 4, tz='Asia/Shanghai')"


def human_duration(delta: timedelta) -> str:
    """`2h 5m`, `45m 10s`, `12s`: short and exact to the second (what a person reads in a log)."""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return " ".join(parts[:3])


def _check_moment(value: object, field: str) -> None:
    if value is None or isinstance(value, timedelta):
        if isinstance(value, timedelta) and value < timedelta(0):
            raise ValueError(
                f"{field} must not be negative, got {value!r}; give a timedelta counted forward from "
                "window_anchor (e.g. timedelta(hours=2)) or an absolute datetime."
            )
        return
    if not isinstance(value, datetime):
        raise TypeError(
            f"{field} must be a timezone-aware datetime (e.g. {_AWARE_EXAMPLE}) or a timedelta counted "
            f"from window_anchor (e.g. timedelta(hours=2)), got {type(value).__name__} {value!r}."
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{field} {value.isoformat()} has no timezone, so the window would depend on the worker's "
            f"clock settings; give it one, e.g. {_AWARE_EXAMPLE}."
        )


@dataclass(frozen=True)
class StartWindow:
    """When an OOS execution may still start. Every field is optional; with none set the guard is off.

    :param latest_start: the last moment an execution may start: a timezone-aware datetime, or a
        ``timedelta`` after ``window_anchor``.
    :param window_end: when the maintenance window closes (same forms). With ``expected_duration``
        a start is allowed only if the run still fits before it; while an execution runs past it
        the task warns loudly (OOS cannot stop it).
    :param expected_duration: how long the execution usually takes (a positive ``timedelta``);
        needs ``window_end``.
    :param window_anchor: what a ``timedelta`` counts from: ``"data_interval_end"`` (default; the
        moment a scheduled run is due, for both cron timetables) or ``"data_interval_start"``. A run
        without a data interval (triggered with no logical date) counts from its ``run_after``.
    :param on_window_missed: ``"skip"`` (default: the task is skipped) or ``"fail"``.
    """

    latest_start: datetime | timedelta | None = None
    window_end: datetime | timedelta | None = None
    expected_duration: timedelta | None = None
    window_anchor: str = "data_interval_end"
    on_window_missed: str = "skip"

    def __post_init__(self) -> None:
        _check_moment(self.latest_start, "latest_start")
        _check_moment(self.window_end, "window_end")
        if self.expected_duration is not None:
            if not isinstance(self.expected_duration, timedelta):
                raise TypeError(
                    "expected_duration must be a timedelta (e.g. timedelta(minutes=90)), "
                    f"got {type(self.expected_duration).__name__} {self.expected_duration!r}."
                )
            if self.expected_duration <= timedelta(0):
                raise ValueError(f"expected_duration must be longer than 0, got {self.expected_duration!r}.")
            if self.window_end is None:
                raise ValueError(
                    "expected_duration needs window_end: the duration has to fit before the window "
                    "ends; set window_end (or drop expected_duration and use latest_start alone)."
                )
        if self.window_anchor not in WINDOW_ANCHORS:
            raise ValueError(
                f"window_anchor must be one of {', '.join(map(repr, WINDOW_ANCHORS))}, "
                f"got {self.window_anchor!r}."
            )
        if self.on_window_missed not in ON_WINDOW_MISSED_CHOICES:
            raise ValueError(f"on_window_missed must be 'skip' or 'fail', got {self.on_window_missed!r}.")
        self._check_order()

    def _check_order(self) -> None:
        start, end = self.latest_start, self.window_end
        comparable = (isinstance(start, timedelta) and isinstance(end, timedelta)) or (
            isinstance(start, datetime) and isinstance(end, datetime)
        )
        if start is None or end is None or not comparable:
            return
        if end <= start:  # type: ignore[operator]
            raise ValueError(
                f"window_end ({self._show(end)}) must be after latest_start ({self._show(start)}); "
                "swap them or move window_end later."
            )
        if self.expected_duration is not None and start + self.expected_duration > end:  # type: ignore[operator]
            raise ValueError(
                f"latest_start ({self._show(start)}) plus expected_duration "
                f"({human_duration(self.expected_duration)}) ends after window_end ({self._show(end)}): "
                "a run started at the latest start would overrun the window; move latest_start earlier, "
                "window_end later, or shorten expected_duration."
            )

    def _show(self, value: datetime | timedelta) -> str:
        if isinstance(value, timedelta):
            return f"{self.window_anchor} + {human_duration(value)}"
        return value.isoformat()

    @property
    def enabled(self) -> bool:
        return self.latest_start is not None or self.window_end is not None

    def resolve(
        self,
        *,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        run_after: datetime | None = None,
    ) -> ResolvedWindow:
        """The window's absolute times for one run (timedeltas placed after the anchor)."""
        interval = {"data_interval_start": data_interval_start, "data_interval_end": data_interval_end}
        anchor, anchor_name = interval[self.window_anchor], self.window_anchor
        if anchor is None and run_after is not None:  # e.g. a run triggered with no logical date
            anchor, anchor_name = run_after, "run_after"

        def place(value: datetime | timedelta | None) -> tuple[datetime | None, str]:
            if value is None:
                return None, ""
            if isinstance(value, datetime):
                return value, value.isoformat()
            if anchor is None:
                raise ValueError(
                    f"this run has no {self.window_anchor} and no run_after, so a window given as a "
                    "timedelta cannot be placed; give latest_start/window_end as absolute datetimes."
                )
            return anchor + value, f"{(anchor + value).isoformat()} ({anchor_name} + {human_duration(value)})"

        latest, latest_text = place(self.latest_start)
        end, end_text = place(self.window_end)
        return ResolvedWindow(latest, latest_text, end, end_text, self.expected_duration)


@dataclass(frozen=True)
class ResolvedWindow:
    """A window placed on the clock for one run; the texts say where each time came from."""

    latest_start: datetime | None
    latest_start_text: str
    window_end: datetime | None
    window_end_text: str
    expected_duration: timedelta | None


@dataclass(frozen=True)
class WindowDecision:
    """`action` is ``"start"``, ``"skip"`` or ``"fail"``; `message` is the log line that says why."""

    action: str
    message: str
    window: ResolvedWindow | None = None

    @property
    def should_start(self) -> bool:
        return self.action == START


def decide_start(
    window: StartWindow | None,
    *,
    now: datetime,
    data_interval_start: datetime | None = None,
    data_interval_end: datetime | None = None,
    run_after: datetime | None = None,
) -> WindowDecision:
    """May an execution start at `now`? Pure: the same inputs always give the same answer."""
    if window is None or not window.enabled:
        return WindowDecision(START, "No maintenance window is set: starting.")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the guard compares it with aware window times).")
    missed = window.on_window_missed
    try:
        placed = window.resolve(
            data_interval_start=data_interval_start, data_interval_end=data_interval_end, run_after=run_after
        )
    except ValueError as err:
        return WindowDecision(missed, f"Maintenance window cannot be placed for this run: {err}")
    outcome = f"Nothing was started in OOS (on_window_missed={missed!r})."
    if placed.latest_start is not None and now > placed.latest_start:
        late = human_duration(now - placed.latest_start)
        return WindowDecision(
            missed,
            f"Maintenance window missed: the latest start was {placed.latest_start_text}, "
            f"{late} ago (now {now.isoformat()}). {outcome}",
            placed,
        )
    if placed.window_end is not None:
        left = placed.window_end - now
        if left <= timedelta(0):
            return WindowDecision(
                missed,
                f"Maintenance window missed: it ended at {placed.window_end_text}, "
                f"{human_duration(left)} ago (now {now.isoformat()}). {outcome}",
                placed,
            )
        needed = placed.expected_duration
        if needed is not None and needed > left:
            return WindowDecision(
                missed,
                f"Maintenance window missed: it ends at {placed.window_end_text}, in {human_duration(left)}, "
                f"but expected_duration is {human_duration(needed)}: {human_duration(needed - left)} "
                f"short. {outcome}",
                placed,
            )
    return WindowDecision(START, "Inside the maintenance window: " + _inside(placed, now) + ".", placed)


def _inside(placed: ResolvedWindow, now: datetime) -> str:
    parts = []
    if placed.latest_start is not None:
        parts.append(
            f"latest start {placed.latest_start_text} is in {human_duration(placed.latest_start - now)}"
        )
    if placed.window_end is not None:
        text = f"the window ends {placed.window_end_text}, in {human_duration(placed.window_end - now)}"
        if placed.expected_duration is not None:
            spare = placed.window_end - now - placed.expected_duration
            text += f" (expected duration {human_duration(placed.expected_duration)}, "
            text += f"{human_duration(spare)} to spare)"
        parts.append(text)
    return "; ".join(parts)


def describe_window_closed(
    execution_id: str, window_end: datetime, now: datetime, state: str | None, console_url: str | None
) -> str:
    """The loud warning for an execution still running when its window has closed."""
    where = console_url or "the OOS console"
    return (
        f"MAINTENANCE WINDOW CLOSED {human_duration(now - window_end)} ago (at {window_end.isoformat()}) "
        f"while OOS execution {execution_id} is still {state or 'running'}. OOS has no cancel call, so "
        f"it keeps running and this task keeps waiting; check it and stop it by hand if needed: {where}"
    )


class WindowWatch:
    """Says once that the window closed while the execution is not final.

    :param window_end: when the window closes (None: never says anything).
    :param warned: True when the close was already reported (e.g. before a deferral).
    """

    def __init__(self, window_end: datetime | None, warned: bool = False) -> None:
        self.window_end = window_end
        self.warned = warned

    def check(self, now: datetime) -> bool:
        """True exactly once: at the first check after the window ended."""
        if self.warned or self.window_end is None or now < self.window_end:
            return False
        self.warned = True
        return True

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until the close still has to be reported (None: nothing left to report)."""
        if self.warned or self.window_end is None:
            return None
        return max(0.0, (self.window_end - now).total_seconds())
