"""PII detection (workbench.data.ops.pii): numbers that are not phone numbers stay as they are,
real phone numbers, addresses and cards are replaced; phone numbers are read in a region;
changes switched off in a preview (workbench.data.ops.clean_params.Exclusions) are left and recorded."""

from __future__ import annotations

import pytest

from tests.helpers.rows import chat, rows_of
from workbench.core.errors import WorkbenchError
from workbench.data.ops.clean_params import Exclusions, SpanRef
from workbench.data.ops.pii import Scrubber, find_pii
from workbench.services import dataset_ops

# Text that holds no PII: every one of these must come back unchanged.
NOT_PII = [
    # The issue's examples: year ranges and a decimal next to a date.
    "From 1997-2005",
    "FUNDED IN 2008-2013",
    "70.8750 11/25/2013",
    # Dates and times.
    "on 2013-11-25 at 10:30:00",
    "due 25.11.2013, shipped 11/25/2013",
    "open 10:30-11:45 and 14:00-18:30",
    "Mon, 25 Nov 2013 14:05:59 +0000",
    "years 1997, 2005, 2013 and 2019",
    # Decimals, amounts, coordinates.
    "pi is 3.14159265358979",
    "total $1,234,567.89 for 1,000,000 units",
    "at 37.7749, -122.4194",
    # Version-like numbers and addresses of machines.
    "version 1.2.3",
    "Windows 10.0.19041 (build 10.0.19041.1234)",
    "release v2.14.0-rc1",
    "ip 192.168.100.200",
    # Identifiers.
    "ISBN 978-0-306-40615-7",
    "ISBN 0-306-40615-2",
    "Order #4155550132",
    "order BB-260593 and 12345678",
    "pages 1203-1297",
    "ZIP 94105-1234",
    "created 1700000000 (unix time)",
    "id 12345678901234567890",
    "card-shaped but Luhn-invalid 4242424242424241",
]

# (text, the values that must be found, of which kind)
PII = [
    ("call +1 415-555-0132 today", [("phone", "+1 415-555-0132")]),
    ("call (415) 555-0132 today", [("phone", "(415) 555-0132")]),
    ("or 415.555.0132.", [("phone", "415.555.0132")]),
    ("toll free 1-800-555-0142.", [("phone", "1-800-555-0142")]),
    ("text 4155550132 please", [("phone", "4155550132")]),  # bare: can't be told from a phone number
    ("tel: +1 (650) 253-0000 ext. 12", [("phone", "+1 (650) 253-0000 ext. 12")]),
    ("London +44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
    ("Paris +33 1 42 68 53 00", [("phone", "+33 1 42 68 53 00")]),
    ("Berlin +49 30 901820", [("phone", "+49 30 901820")]),
    ("write to a.b-c+tag@mail.example.org today", [("email", "a.b-c+tag@mail.example.org")]),
    ("visa 4242424242424242 mc 5555-5555-5555-4444", [("card", "4242424242424242"),
                                                      ("card", "5555-5555-5555-4444")]),
    ("amex 3782 822463 10005", [("card", "3782 822463 10005")]),
    ("From 1997-2005 call (415) 555-0132, v1.2.3", [("phone", "(415) 555-0132")]),
    ("mail 4155550132@example.com", [("email", "4155550132@example.com")]),  # its digits are no phone
]


@pytest.mark.parametrize("text", NOT_PII)
def test_numbers_that_are_not_pii_are_left(text):
    assert find_pii(text) == []
    new, counts = Scrubber().scrub(text)
    assert new == text and counts.replaced == 0


@pytest.mark.parametrize("text, expected", PII)
def test_pii_is_found(text, expected):
    assert find_pii(text) == expected
    new, counts = Scrubber().scrub(text)
    assert counts.replaced == len(expected)
    for _, value in expected:
        assert value not in new


def test_the_issue_rows_are_scrubbed_only_where_there_is_pii():
    s = Scrubber()
    assert s.scrub("From 1997-2005 call (415) 555-0132.")[0] == "From 1997-2005 call [PHONE]."
    assert s.scrub("70.8750 11/25/2013 jane@example.com")[0] == "70.8750 11/25/2013 [EMAIL]"


@pytest.mark.parametrize("region, text, found", [
    ("GB", "ring 020 7946 0958", True),
    ("US", "ring 020 7946 0958", False),  # not a US number
    ("GB", "ring (415) 555-0132", False),  # not a GB number
    ("", "ring (415) 555-0132", False),  # no region: only "+" numbers
    ("", "ring +44 20 7946 0958", True),
    ("gb", "ring 020 7946 0958", True),  # region codes in any case
])
def test_region_says_how_national_numbers_are_read(region, text, found):
    assert bool(find_pii(text, region=region)) is found


def test_scrub_skips_switched_off_spans():
    s = Scrubber()
    text = "a@x.example or b@y.example"
    (first, second) = s.find(text)
    assert (first.kind, first.value, text[first.start:first.end]) == ("email", "a@x.example", "a@x.example")
    new, counts = s.scrub(text, skip=[(second.start, second.end)])
    assert new == "[EMAIL] or b@y.example" and counts.email == 1


def test_phone_region_param_is_checked():
    from workbench.data.ops.clean_params import resolve_params
    from workbench.data.storage.rowio import DataOpError

    assert resolve_params("pii", {"phone_region": "GB"}).phone_region == "GB"
    assert resolve_params("pii").phone_region == "US"
    with pytest.raises(DataOpError, match="Unknown phone region") as err:
        resolve_params("pii", {"phone_region": "XX"})
    assert "country code" in err.value.advice


def test_switched_off_changes_are_left_and_recorded(store, import_records):
    records = [
        chat("Mail ana@example.com or call (415) 555-0132, from 1997-2005.", "Noted.", ticket="ana@example.com"),
        chat("Support is help@shop.example", "Thanks."),
        chat("Card 4111 1111 1111 1111", "Charged."),
    ]
    v = import_records(records)
    report = dataset_ops.preview_clean(store, v.id, "pii")
    assert report.changed == [0, 1, 2]
    first = report.examples[0]
    assert [(r.kind, r.value) for r in first.replacements] == [("email", "ana@example.com"),
                                                               ("phone", "(415) 555-0132")]
    email = first.replacements[0]
    text = first.before[email.ref.message]["content"]
    assert text[email.ref.start:email.ref.end] == "ana@example.com" and email.placeholder == "[EMAIL]"

    # Leave row 0's address (but scrub its phone) and all of row 1; row 2 is scrubbed.
    exclude = Exclusions(rows={1}, spans=[email.ref])
    new = dataset_ops.apply_clean(store, v.id, "pii", exclude=exclude)
    rows = rows_of(store, new)
    assert rows[0]["messages"][0]["content"] == "Mail ana@example.com or call [PHONE], from 1997-2005."
    assert rows[0]["source"]["ticket"] == "ana@example.com"  # the value the user kept, kept there too
    assert rows[1]["messages"] == records[1]["messages"]
    assert rows[2]["messages"][0]["content"] == "Card [CARD]"
    assert new.options["changed_rows"] == [0, 2]
    assert new.options["excluded"] == {"rows": [1], "spans": [[0, 0, email.ref.start, email.ref.end]]}
    assert Exclusions.from_dict(new.options["excluded"]) == exclude  # reproducible from the record
    # The same choice again is the same version; without exclusions it is another one.
    assert dataset_ops.apply_clean(store, v.id, "pii", exclude=exclude).id == new.id
    full = dataset_ops.apply_clean(store, v.id, "pii")
    assert full.id != new.id and "excluded" not in full.options
    assert "ana@example.com" not in rows_of(store, full)[0]["messages"][0]["content"]


def test_exclusions_that_name_no_change_are_refused(store, import_records):
    v = import_records([chat("Mail ana@example.com", "Noted."), chat("Hello", "Hi")])
    for bad in (Exclusions(rows=[1]),  # row 2 has nothing to scrub
                Exclusions(spans=[SpanRef(0, 0, 0, 4)])):  # not where the address is
        with pytest.raises(WorkbenchError, match="not changes pii makes") as err:
            dataset_ops.apply_clean(store, v.id, "pii", exclude=bad)
        assert "Preview again" in err.value.advice
    assert len(store.list_versions()) == 1
    with pytest.raises(WorkbenchError, match="malformed"):
        Exclusions.from_dict({"spans": [[0, 1]]})
