"""The fuzzing budget that CI spends: 5,000 mutated programs (token deletions, insertions and
duplications of valid programs), each compiled and, where it compiles, called. The only
exception allowed out is `tc.TensorcError`; `no_side_effects` checks nothing ran."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_no_escape import exercise, mutated

# Mutated programs are full of typos: that they warn of them (TensorcWarning) is expected.
pytestmark = pytest.mark.filterwarnings("ignore::tensorc.TensorcWarning")

MUTATED_PROGRAMS = 5_000


@settings(
    max_examples=MUTATED_PROGRAMS,
    deadline=None,
    derandomize=True,  # the same 5,000 programs on every run: CI time stays predictable
    phases=[Phase.generate, Phase.shrink],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
@given(src=mutated(), data=st.data())
def test_five_thousand_mutated_programs_raise_only_tensorc_errors(src, data):
    exercise(src, data.draw)
