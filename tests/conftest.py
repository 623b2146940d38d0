import signal
import threading
import traceback
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import settings

# Hypothesis' per-example deadline is a timing assert in disguise: on a loaded
# 2-core CI machine it fails tests that are correct. Behaviour is what we test.
settings.register_profile("byosms", deadline=None, print_blob=True)
settings.load_profile("byosms")


@pytest.fixture
def autojump_clock():
    return trio.testing.MockClock(autojump_threshold=0)


# --- the per-test timeout (pytest-timeout, [tool.pytest.ini_options]) ------------------
#
# pytest-timeout's signal method raises from the SIGALRM handler wherever the
# main thread is. Inside trio.run that is mostly trio's own run loop: trio's
# run state is left behind and every later trio test fails ("Attempted to call
# run() from inside a run()"). Its thread method ends the whole session with
# the stacks of all threads, which for a trio test show the run loop, not the
# test. So a trio test gets its timeout inside trio: a timer thread (real time,
# MockClock tests too) cancels the test, and the failure names where each task
# was waiting. The thread method stays behind it, GRACE later, for a run loop
# stuck in blocking code. Sync tests keep the signal method, except that a
# timeout landing inside a trio.run of theirs ends the session (as the thread
# method does) rather than wrecking the run state for the tests after it.

GRACE = 60
REPO = Path(__file__).resolve().parent.parent
_TRIO_TIMEOUT = pytest.StashKey[object]()  # pytest-timeout's Settings


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    import pytest_timeout

    if item.get_closest_marker("trio") is not None:
        item.stash[_TRIO_TIMEOUT] = settings
        backstop = settings._replace(timeout=settings.timeout + GRACE)
        timer = threading.Timer(backstop.timeout, _end_session, (item, backstop))
        timer.daemon = True
        item.cancel_timeout = timer.cancel
        timer.start()
        return True
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own timer

    def on_alarm(signum, frame):
        __tracebackhide__ = True
        if trio.lowlevel.in_trio_run():
            _end_session(item, settings, frame)
        pytest_timeout.timeout_sigalrm(item, settings)  # raise Failed in the test

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def _end_session(item, settings, frame=None):
    """pytest-timeout's thread method (stacks of the other threads, then
    os._exit), naming the test and showing this thread's stack too."""
    import pytest_timeout

    if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
        return
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman:
        capman.suspend_global_capture(in_=True)
    tw = item.config.get_terminal_writer()
    tw.sep("+", title=f"Timeout (>{settings.timeout:g}s) in {item.nodeid}")
    if frame is not None:
        tw.write("".join(traceback.format_stack(frame)))
    pytest_timeout.timeout_timer(item, settings)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # After pytest-trio's trio mode marked the async tests: run them with the deadline.
    for item in items:
        if item.get_closest_marker("trio") is not None:
            item.add_marker(pytest.mark.trio(run=_deadline_run(item)), append=False)


def _deadline_run(item):
    def run(async_fn, *args, clock=None, instruments=()):
        settings = item.stash.get(_TRIO_TIMEOUT, None)
        if settings is None:  # no timeout for this test
            return trio.run(async_fn, *args, clock=clock, instruments=instruments)
        seconds = settings.timeout
        where: list[str] = []

        async def main():
            token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:

                def expire():
                    import pytest_timeout

                    if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
                        return
                    where.append(_waiting_tasks())
                    scope.cancel()

                def fire():
                    try:
                        token.run_sync_soon(expire)
                    except trio.RunFinishedError:
                        pass

                timer = threading.Timer(seconds, fire)
                timer.daemon = True
                timer.start()
                try:
                    return await async_fn(*args)
                finally:
                    timer.cancel()

        try:
            result = trio.run(main, clock=clock, instruments=instruments)
        except BaseException as e:
            if where:
                raise pytest.fail.Exception(_timeout_message(seconds, where[0])) from e
            raise
        if where:
            pytest.fail(_timeout_message(seconds, where[0]))
        return result

    return run


def _timeout_message(seconds: float, where: str) -> str:
    return (f"Timeout (>{seconds:g}s) from pytest-timeout: the trio test was cancelled "
            f"while its tasks waited at\n{where}")


def _waiting_tasks() -> str:
    """Each task of the current trio run that waits in this repository's code,
    with its await frames there (innermost last)."""
    lines = []
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        frames = []
        for frame, lineno in task.iter_await_frames():
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(REPO) and path != Path(__file__).resolve():
                frames.append(f"    {path.relative_to(REPO)}:{lineno} in {frame.f_code.co_name}")
        if frames:
            lines += [f"  task {task.name}:", *frames]
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return "\n".join(lines) or "  (no task waits in the repository's code)"
