"""What a subscriber write may say: bodies that are not the expected JSON, every refused value with
its Code (in an import and in a single add), addresses, boundary values and import limits."""

from __future__ import annotations

import pytest
from helpers import sandbox as shared
from helpers.sandbox import Writer, counts, field, person

writer = shared.writer  # fixtures


def test_import_of_more_than_1000_is_209_and_imports_nothing(writer: Writer) -> None:
    before = writer.emails()
    response = writer.import_([person(f"bulk{n}@example.com") for n in range(1001)])
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == 209
    assert writer.emails() == before
    exactly = writer.import_([person(f"bulk{n}@example.com") for n in range(1000)])
    assert exactly.status_code == 201 and counts(exactly.json()) == (1000, 0, 1000)
    assert len(writer.emails()) == len(before) + 1000


def test_an_empty_import_is_212(writer: Writer) -> None:
    response = writer.import_([])
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == 212


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/import.json", {"data": b"not json"}),
        ("/import.json", {"data": b"\xff\xfe{}"}),
        ("/import.json", {}),
        ("/import.json", {"json": {}}),
        ("/import.json", {"json": {"Subscribers": "a@example.com"}}),
        ("/import.json", {"json": [person("a@example.com")]}),
        (".json", {"data": b"{not json"}),
        (".json", {}),
        (".json", {"json": [person("a@example.com")]}),
        (".json", {"json": "a@example.com"}),
    ],
)
def test_a_body_that_is_not_the_expected_json_is_400(writer: Writer, suffix: str, body: dict) -> None:
    response = writer.http.post(writer.url + suffix, **body)
    assert response.status_code == 400
    assert response.json()["Code"] == 400 and response.json()["Message"]
    assert writer.details("a@example.com")["Code"] == 203


DROP = object()  # an override that removes the key


INVALID_SUBSCRIBERS = [
    pytest.param({"ConsentToTrack": DROP}, 214, id="consent-missing"),
    pytest.param({"ConsentToTrack": None}, 214, id="consent-null"),
    pytest.param({"ConsentToTrack": "true"}, 215, id="consent-true"),
    pytest.param({"ConsentToTrack": "yes"}, 215, id="consent-lower-case"),
    pytest.param({"ConsentToTrack": True}, 215, id="consent-boolean"),
    pytest.param({"ConsentToSendSms": "maybe"}, 215, id="sms-consent"),
    pytest.param({"MobileNumber": "0412345678"}, 220, id="mobile-no-plus"),
    pytest.param({"MobileNumber": "+0412345678"}, 220, id="mobile-leading-zero"),
    pytest.param({"MobileNumber": "+123456"}, 220, id="mobile-too-short"),
    pytest.param({"MobileNumber": "+1234567890123456"}, 220, id="mobile-too-long"),
    pytest.param({"MobileNumber": "+61 412 345 678"}, 220, id="mobile-spaces"),
    pytest.param({"CustomFields": [field("website", "x")]}, 253, id="key-without-brackets"),
    pytest.param({"CustomFields": [{"Value": "x"}]}, 253, id="key-missing"),
    pytest.param({"CustomFields": [field("[website]", "x" * 251)]}, 250, id="value-too-long"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2024-02-30")]}, 5, id="date-impossible"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "1899-12-31")]}, 5, id="date-too-early"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2076-06-07")]}, 5, id="date-too-late"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "28/06/2024")]}, 5, id="date-format"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2024-6-1")]}, 5, id="date-unpadded"),
]


def broken(email: str, override: dict) -> dict:
    return {key: value for key, value in {**person(email), **override}.items() if value is not DROP}


@pytest.mark.parametrize(("override", "code"), INVALID_SUBSCRIBERS)
def test_import_skips_an_invalid_subscriber_with_its_code(writer: Writer, override: dict, code: int) -> None:
    response = writer.import_([person("good@example.com"), broken("bad@example.com", override)])
    assert response.status_code == 400 and response.json()["Code"] == 210
    result = response.json()["ResultData"]
    [failure] = result["FailureDetails"]
    assert (failure["EmailAddress"], failure["Code"]) == ("bad@example.com", code) and failure["Message"]
    assert counts(result) == (2, 0, 1)
    assert writer.details("good@example.com")["State"] == "Active"
    assert writer.details("bad@example.com")["Code"] == 203


@pytest.mark.parametrize(("override", "code"), INVALID_SUBSCRIBERS)
def test_add_refuses_an_invalid_subscriber_with_its_code(writer: Writer, override: dict, code: int) -> None:
    response = writer.add(broken("bad@example.com", override))
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == code
    assert writer.details("bad@example.com")["Code"] == 203


def test_the_first_problem_wins_and_messages_match_the_api(writer: Writer) -> None:
    both = writer.add({"EmailAddress": "nope", "MobileNumber": "123"})
    assert both.json() == {"Code": 1, "Message": "Invalid Email Address"}
    mobile = writer.add(person("m@example.com", MobileNumber="123", CustomFields=[field("age", "1")]))
    assert mobile.json() == {"Code": 220, "Message": "Invalid mobile number"}


INVALID_EMAILS = [
    "example+1@example",
    "plainaddress",
    "",
    "a@b.c",
    "two@@example.com",
    "a b@example.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@example..com",
    "a@example.com.",
    "a@exa_mple.com",
    "<a@example.com>",
    "a@example.c0m",
    "@example.com",
    "a@",
]


VALID_EMAILS = [
    "zoë.neu@bücher.example",
    "新しい.購読者@例え.jp",
    "пользователь@пример.рф",
    "ÉLODIE+news@example.fr",
    "o'brien@example.ie",
    "josé@xn--bcher-kva.example",
    "first.last@sub.mail.example.com",
]


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_an_invalid_address_is_code_1(writer: Writer, email: str) -> None:
    response = writer.add(person(email))
    assert (response.status_code, response.json()) == (400, {"Code": 1, "Message": "Invalid Email Address"})


def test_import_names_every_invalid_address(writer: Writer) -> None:
    entries = [person(email) for email in INVALID_EMAILS] + [person(42), {"ConsentToTrack": "Yes"}, "not an object"]
    response = writer.import_(entries)
    result = response.json()["ResultData"]
    named = INVALID_EMAILS + ["", "", ""]
    failures = [{"EmailAddress": email, "Code": 1, "Message": "Invalid Email Address"} for email in named]
    assert result["FailureDetails"] == failures
    assert counts(result) == (len(entries), 0, 0) and result["DuplicateEmailsInSubmission"] == []


def test_non_ascii_and_idn_addresses_are_accepted(writer: Writer) -> None:
    response = writer.import_([person(email) for email in VALID_EMAILS])
    assert response.status_code == 201 and counts(response.json()) == (len(VALID_EMAILS), 0, len(VALID_EMAILS))
    served = writer.emails()
    for email in VALID_EMAILS:
        assert email in served and writer.details(email)["EmailAddress"] == email
    assert writer.add(person("ǆemal.neu@bücher.example")).json() == "ǆemal.neu@bücher.example"


def test_boundary_values_are_accepted(writer: Writer) -> None:
    longest = "x" * 250
    response = writer.import_(
        [
            person(
                "early@example.com",
                MobileNumber="+1234567",
                CustomFields=[field("[subscriptiondate]", "1900-01-01"), field("[Website]", longest)],
            ),
            person(
                "late@example.com",
                MobileNumber="+123456789012345",
                ConsentToSendSms="Unchanged",
                CustomFields=[field("[subscriptiondate]", "2076-06-06")],
            ),
        ]
    )
    assert response.status_code == 201 and counts(response.json()) == (2, 0, 2)
    early = writer.details("early@example.com")
    assert early["MobileNumber"] == "+1234567"
    assert early["CustomFields"] == [field("website", longest), field("subscription date", "1900-01-01")]
    assert writer.details("late@example.com")["ConsentToSendSms"] == "No"


def test_a_duplicate_whose_last_occurrence_is_invalid_fails(writer: Writer) -> None:
    response = writer.import_([person("dup@example.com"), person("dup@example.com", ConsentToTrack="true")])
    assert response.status_code == 400
    result = response.json()["ResultData"]
    assert result["DuplicateEmailsInSubmission"] == ["dup@example.com"]
    assert [(failure["EmailAddress"], failure["Code"]) for failure in result["FailureDetails"]] == [
        ("dup@example.com", 215)
    ]
    assert counts(result) == (1, 0, 0)
    assert writer.details("dup@example.com")["Code"] == 203
