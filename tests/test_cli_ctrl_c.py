"""Ctrl-C in the terminal client: the first press is a flag the loops check, the second the usual
KeyboardInterrupt (spaces/cli/ctrl_c.py)."""

import os
import signal

import pytest

from spaces.cli.ctrl_c import ctrl_c_as_flag
from testkit.waiting import wait_until


def test_the_first_ctrl_c_sets_the_flag_and_raises_nothing():
    with ctrl_c_as_flag() as pressed:
        assert not pressed.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(pressed.is_set, 5, what="the flag set by Ctrl-C")


def test_a_second_ctrl_c_interrupts_as_usual():
    with pytest.raises(KeyboardInterrupt), ctrl_c_as_flag() as pressed:
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(pressed.is_set, 5, what="the flag set by Ctrl-C")
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: False, 5)  # the handler raises here, in the main thread


def test_the_previous_handler_is_back_afterwards():
    before = signal.getsignal(signal.SIGINT)
    with ctrl_c_as_flag():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
