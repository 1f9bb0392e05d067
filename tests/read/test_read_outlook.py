"""The share done and the time left (``read.outlook``): known once every listing the selected tables are read
under is done, each table's parents then costing what its finished parents cost."""

from __future__ import annotations

from cm_source.read.outlook import Outlook, duration, share_and_seconds_left

SELECTED = ("clients", "campaigns", "campaign_summaries", "campaign_opens", "campaign_clicks")


def outlook_of_two_clients() -> Outlook:
    outlook = Outlook(selected=SELECTED)
    outlook.listed["clients"] += 2
    outlook.done["clients"] += 1
    return outlook


def test_nothing_is_said_until_every_listing_the_tables_hang_from_is_done() -> None:
    outlook = Outlook(selected=SELECTED)
    assert outlook.expected() is None  # not even the clients
    outlook = outlook_of_two_clients()
    outlook.listed["campaigns"] += 30
    outlook.done["campaigns"] += 1  # one client's campaigns of two
    assert outlook.expected() is None
    outlook.listed["campaigns"] += 10
    outlook.done["campaigns"] += 1
    assert outlook.expected() is None  # no summary yet says how many of the reports are empty
    outlook.counted.update({"campaign_opens": 5, "campaign_clicks": 5})
    assert outlook.expected() == {
        "clients": 1,
        "campaigns": 2,
        "campaign_summaries": 40,
        "campaign_opens": 40,
        "campaign_clicks": 40,
    }


def test_each_table_costs_what_its_finished_parents_cost_and_one_not_begun_what_its_siblings_do() -> None:
    outlook = outlook_of_two_clients()
    outlook.listed["campaigns"] += 40
    outlook.done["campaigns"] += 2
    outlook.done.update({"campaign_summaries": 10, "campaign_opens": 4})
    outlook.counted.update({"campaign_opens": 10, "campaign_clicks": 10})
    outlook.nonempty.update({"campaign_opens": 10, "campaign_clicks": 5})  # half the summaries count clicks
    pages = {"clients": 1, "campaigns": 2, "campaign_summaries": 10, "campaign_opens": 12}
    # summaries: 30 left at 1 page; opens: 36 left at 3 pages; clicks, not begun: 40, half of them read,
    # at (1 + 3) / 2 pages
    assert outlook.pages_left(pages) == 30 * 1 + 36 * 3 + 40 * 0.5 * 2
    share, seconds = share_and_seconds_left(outlook, pages, requests=50, pace=10.0) or (0.0, None)
    assert share == 25 / (25 + 178)
    assert seconds == 178 * (50 / 25) / 10.0  # pages as requests at the run's ratio, at the window's pace


def test_requests_sent_ahead_of_their_pages_are_not_counted_again_as_left() -> None:
    outlook = outlook_of_two_clients()
    outlook.listed["campaigns"] += 40
    outlook.done["campaigns"] += 2
    outlook.done.update({"campaign_summaries": 10, "campaign_opens": 40, "campaign_clicks": 40})
    outlook.counted.update({"campaign_opens": 40, "campaign_clicks": 40})
    outlook.nonempty.update({"campaign_opens": 40, "campaign_clicks": 40})
    pages = {"clients": 1, "campaigns": 2, "campaign_summaries": 10, "campaign_opens": 40, "campaign_clicks": 40}
    # 30 summaries left to read, 20 of them asked for already (for the counts): 10 requests to go, at
    # 113 requests sent for 93 pages read and 20 asked ahead, one request a page
    assert share_and_seconds_left(outlook, pages, requests=113, pace=1.0, ahead=20) == (113 / 123, 10.0)


def test_without_a_pace_there_is_a_share_and_no_time() -> None:
    outlook = outlook_of_two_clients()
    outlook.done["campaigns"] += 2
    assert share_and_seconds_left(outlook, {"clients": 1, "campaigns": 2}, requests=3, pace=None) == (1.0, None)


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (45, 720, 12000)] == ["45 s", "12 min", "3 h 20 min"]
