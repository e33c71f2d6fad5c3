"""Rosters: a usable roster is read; a bad one is refused naming the line (infraprep.grading.roster)."""

import pytest

import builders as b
from infraprep.grading.roster import RosterError, read_roster


def write(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_roster_is_read_in_order(tmp_path):
    path = b.write_roster(tmp_path / "roster.csv", ["ann", "bob"])
    students = read_roster(path)
    assert [s.id for s in students] == ["ann", "bob"]
    assert students[0].name == "Student Ann" and students[0].email == "ann@example.org"
    assert (students[0].first_name, students[0].last_name) == ("Student", "Ann")


def test_extra_columns_and_column_order_do_not_matter(tmp_path):
    path = write(tmp_path, "email,section,name,id\nann@uni.edu,A,Ann Lee,ann\n")
    (s,) = read_roster(path)
    assert (s.id, s.name, s.email) == ("ann", "Ann Lee", "ann@uni.edu")


@pytest.mark.parametrize("text, line, words", [
    ("id,name,email\nann,Ann,ann@x.org\nbob,Bob,bob@x.org\nann,Ann B,annb@x.org\n", 4, ["duplicate", "'ann'", "line 2"]),
    ("id,name\nann,Ann\n", 1, ["missing column", "'email'"]),
    ("id,name,email\nann,Ann,ann@x.org\nbob,Bob,bob-at-x.org\n", 3, ["bad email", "bob-at-x.org"]),
    ("id,name,email\nann,Ann,ann@x.org\nbo b,Bob,bob@x.org\n", 3, ["bad student id"]),
    ("id,name,email\nann,Ann,ann@x.org,extra\n", 2, ["4 fields"]),
])
def test_bad_roster_is_refused_naming_the_line(tmp_path, text, line, words):
    with pytest.raises(RosterError) as err:
        read_roster(write(tmp_path, text))
    message = str(err.value)
    assert f"line {line}" in message
    for word in words:
        assert word in message


def test_empty_roster_is_refused(tmp_path):
    with pytest.raises(RosterError, match="line 1"):
        read_roster(write(tmp_path, ""))
    with pytest.raises(RosterError, match="no students"):
        read_roster(write(tmp_path, "id,name,email\n"))
