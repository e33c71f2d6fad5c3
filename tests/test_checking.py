import math

import numpy as np
import pandas as pd
import pytest

from infraprep import checking as ck


def message(call, *args, **kwargs) -> str:
    with pytest.raises(ck.AnswerError) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_unanswered_questions_say_so():
    for call, args in [(ck.is_choice, ("Q1", ..., "ABCD")), (ck.is_number, ("Q2", None)),
                       (ck.choice, ("Q1", ..., "B")), (ck.number, ("Q2", ..., 3.0))]:
        with pytest.raises(ck.NotAnswered, match="not answered yet"):
            call(*args)


def test_form_checks_accept_good_form_and_refuse_bad():
    ck.is_choice("Q", "b", "ABCD")
    ck.is_number("Q", np.float64(2.5))
    ck.is_list("Q", (1.0, 2), length=2, item=float)
    assert "one letter among" in message(ck.is_choice, "Q", "E", "ABCD")
    assert "expected a number" in message(ck.is_number, "Q", "3.2 GB")
    assert "finite" in message(ck.is_number, "Q", math.inf)
    assert "list of 2" in message(ck.is_list, "Q", [1.0], length=2)
    assert "not an option" in message(ck.is_choices, "Q", "AZ", "ABCD")


def test_choice_and_choices():
    ck.choice("Q", " c ", "C")
    ck.choices("Q", ["e", "A", "C"], "ACE")
    assert "option A" in message(ck.choice, "Q", "A", "C")
    assert "1 of your letters is wrong and 1 correct letter is missing" in message(ck.choices, "Q", "AB", "AC")


@pytest.mark.parametrize("given,expected,words", [
    (3.35e12 / 8, 3.35e12, "bits vs bytes"),
    (3350.0, 3.35, "1,000"),
    (42.0, 0.42, "percentage"),
    (-7.0, 7.0, "sign"),
    (20.0, 10.0, "factor of 2"),
    (13.0, 10.0, "too large"),
])
def test_numbers_diagnose_the_mistake_without_giving_the_answer(given, expected, words):
    text = message(ck.number, "Q7", given, expected)
    assert text.startswith("Q7: ") and words in text
    reason = text.removeprefix("Q7: ")
    assert f"{expected:g}" not in reason and repr(expected) not in reason


def test_numbers_within_tolerance_pass():
    ck.number("Q", 295.2, 295.0, rel=0.01)
    ck.number("Q", 0.0, 0.0)
    ck.number("Q", 1e-9, 0.0, abs_tol=1e-6)


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class LyingFloat(float):
    def __eq__(self, other):
        return True

    def __sub__(self, other):
        return 0.0


class LyingStr(str):
    def upper(self):
        return "B"

    def strip(self):
        return self

    def __eq__(self, other):
        return True


def test_objects_that_pretend_are_refused():
    with pytest.raises(ck.WrongForm):
        ck.equal("Q", AlwaysEqual(), 5)
    with pytest.raises(ck.WrongForm):
        ck.number("Q", LyingFloat(1.0), 99.0)
    with pytest.raises(ck.WrongForm):
        ck.choice("Q", LyingStr("A"), "B")
    with pytest.raises(ck.WrongForm):
        ck.same_items("Q", [AlwaysEqual()], [1])


def test_function_cases_count_failures_and_hide_inputs():
    ck.function_cases("Q", lambda x: x * 2, [((1,), 2), ((2.5,), 5.0)])
    text = message(ck.function_cases, "Q", lambda x: x + 1, [((1,), 2), ((3,), 6), ((4,), 8)])
    assert "2 of 3 hidden cases" in text and "6" not in text and "8" not in text
    # that a hidden case raised, never what: the learner's code picks the error, so its name could tell the input
    raised = message(ck.function_cases, "Q", lambda x: 1 / x, [((0,), 1)])
    assert "raised an error" in raised and "ZeroDivisionError" not in raised

    def unwritten(x):
        raise NotImplementedError

    with pytest.raises(ck.NotAnswered):
        ck.function_cases("Q", unwritten, [((1,), 1)])


def test_call_turns_an_unwritten_function_into_not_answered():
    def unwritten():
        raise NotImplementedError("Not answered yet")

    with pytest.raises(ck.NotAnswered):
        ck.call("Q", unwritten)
    assert ck.call("Q", lambda a: a + 1, 1) == 2


def test_frame_and_same_items():
    want = pd.DataFrame({"level": ["A", "B"], "usd": [1.0, 2.0]})
    ck.frame("Q", want.iloc[::-1].reset_index(drop=True), want)
    assert "columns" in message(ck.frame, "Q", want.rename(columns={"usd": "x"}), want)
    assert "rows" in message(ck.frame, "Q", want.head(1), want)
    ck.same_items("Q", ["b", "A"], ["a", "B"])
    assert "wrong order" in message(ck.same_items, "Q", ["b", "a"], ["a", "b"], ordered=True)


def test_failures_render_as_one_line_in_ipython():
    try:
        ck.choice("Q3", "A", "B")
    except ck.AnswerError as error:
        assert error._render_traceback_() == ["WrongAnswer: Q3: option A is not the best answer; reread the section and try again"]


def test_messages_never_tell_a_property_of_the_expected_answer():
    import pandas as pd

    want = pd.DataFrame({"name": ["a", "b", "c", "d", "e"], "gpus": [1, 2, 3, 4, 5]})
    text = message(ck.frame, "Q", pd.DataFrame({"name": [], "gpus": []}), want)
    assert "5" not in text and "differs from the expected" in text
    text = message(ck.same_items, "Q", [], ["a", "b", "c", "d", "e", "f", "g"])
    assert "7" not in text and "missing" in text
