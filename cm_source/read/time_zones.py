"""Campaign Monitor's time zone names, and turning its local-time strings into UTC.

The API names zones the way Windows displays them, ``"(GMT+10:00) Canberra, Melbourne, Sydney"``.
The offset in brackets is the standard one and ignores daylight saving, so it cannot be used for
arithmetic: each name is mapped to the IANA zone that keeps that place's rules, and ``zoneinfo``
does the arithmetic.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

# Keyed by the place part of every name in Campaign Monitor's GET /timezones.json, lower case;
# the "(GMT±hh:mm)" prefix is left out because it is not part of what identifies the zone.
IANA_ZONES: dict[str, str] = {
    "casablanca": "Africa/Casablanca",
    "coordinated universal time": "UTC",
    "greenwich mean time : dublin, edinburgh, lisbon, london": "Europe/London",
    "dublin, edinburgh, lisbon, london": "Europe/London",
    "monrovia, reykjavik": "Atlantic/Reykjavik",
    "amsterdam, berlin, bern, rome, stockholm, vienna": "Europe/Berlin",
    "belgrade, bratislava, budapest, ljubljana, prague": "Europe/Budapest",
    "brussels, copenhagen, madrid, paris": "Europe/Paris",
    "sarajevo, skopje, warsaw, zagreb": "Europe/Warsaw",
    "west central africa": "Africa/Lagos",
    "amman": "Asia/Amman",
    "athens, bucharest, istanbul": "Europe/Bucharest",
    "athens, bucharest": "Europe/Bucharest",
    "beirut": "Asia/Beirut",
    "cairo": "Africa/Cairo",
    "damascus": "Asia/Damascus",
    "harare, pretoria": "Africa/Johannesburg",
    "helsinki, kyiv, riga, sofia, tallinn, vilnius": "Europe/Helsinki",
    "helsinki, kiev, riga, sofia, tallinn, vilnius": "Europe/Helsinki",
    "jerusalem": "Asia/Jerusalem",
    "minsk": "Europe/Minsk",
    "windhoek": "Africa/Windhoek",
    "istanbul": "Europe/Istanbul",
    "baghdad": "Asia/Baghdad",
    "kuwait, riyadh": "Asia/Riyadh",
    "moscow, st. petersburg, volgograd": "Europe/Moscow",
    "moscow, st. petersburg": "Europe/Moscow",
    "nairobi": "Africa/Nairobi",
    "tehran": "Asia/Tehran",
    "abu dhabi, muscat": "Asia/Dubai",
    "baku": "Asia/Baku",
    "port louis": "Indian/Mauritius",
    "tbilisi": "Asia/Tbilisi",
    "yerevan": "Asia/Yerevan",
    "kabul": "Asia/Kabul",
    "ekaterinburg": "Asia/Yekaterinburg",
    "islamabad, karachi": "Asia/Karachi",
    "tashkent": "Asia/Tashkent",
    "chennai, kolkata, mumbai, new delhi": "Asia/Kolkata",
    "sri jayawardenepura": "Asia/Colombo",
    "kathmandu": "Asia/Kathmandu",
    "astana": "Asia/Almaty",
    "dhaka": "Asia/Dhaka",
    "novosibirsk": "Asia/Novosibirsk",
    "yangon (rangoon)": "Asia/Yangon",
    "bangkok, hanoi, jakarta": "Asia/Bangkok",
    "krasnoyarsk": "Asia/Krasnoyarsk",
    "beijing, chongqing, hong kong, urumqi": "Asia/Shanghai",
    "irkutsk": "Asia/Irkutsk",
    "kuala lumpur, singapore": "Asia/Singapore",
    "perth": "Australia/Perth",
    "taipei": "Asia/Taipei",
    "ulaanbaatar": "Asia/Ulaanbaatar",
    "osaka, sapporo, tokyo": "Asia/Tokyo",
    "seoul": "Asia/Seoul",
    "yakutsk": "Asia/Yakutsk",
    "adelaide": "Australia/Adelaide",
    "darwin": "Australia/Darwin",
    "brisbane": "Australia/Brisbane",
    "canberra, melbourne, sydney": "Australia/Sydney",
    "guam, port moresby": "Pacific/Port_Moresby",
    "hobart": "Australia/Hobart",
    "vladivostok": "Asia/Vladivostok",
    "magadan, solomon is., new caledonia": "Pacific/Guadalcanal",
    "magadan": "Asia/Magadan",
    "solomon is., new caledonia": "Pacific/Guadalcanal",
    "auckland, wellington": "Pacific/Auckland",
    "coordinated universal time+12": "Etc/GMT-12",
    "fiji": "Pacific/Fiji",
    "petropavlovsk-kamchatsky - old": "Asia/Kamchatka",
    "nuku'alofa": "Pacific/Tongatapu",
    "azores": "Atlantic/Azores",
    "cape verde is.": "Atlantic/Cape_Verde",
    "coordinated universal time-02": "Etc/GMT+2",
    "mid-atlantic": "Atlantic/South_Georgia",
    "brasilia": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "cayenne, fortaleza": "America/Cayenne",
    "greenland": "America/Nuuk",
    "montevideo": "America/Montevideo",
    "newfoundland": "America/St_Johns",
    "asuncion": "America/Asuncion",
    "atlantic time (canada)": "America/Halifax",
    "cuiaba": "America/Cuiaba",
    "georgetown, la paz, manaus, san juan": "America/La_Paz",
    "santiago": "America/Santiago",
    "caracas": "America/Caracas",
    "bogota, lima, quito": "America/Bogota",
    "eastern time (us & canada)": "America/New_York",
    "indiana (east)": "America/Indiana/Indianapolis",
    "central america": "America/Guatemala",
    "central time (us & canada)": "America/Chicago",
    "guadalajara, mexico city, monterrey": "America/Mexico_City",
    "saskatchewan": "America/Regina",
    "arizona": "America/Phoenix",
    "chihuahua, la paz, mazatlan": "America/Mazatlan",
    "mountain time (us & canada)": "America/Denver",
    "baja california": "America/Tijuana",
    "pacific time (us & canada)": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "coordinated universal time-11": "Etc/GMT+11",
    "samoa": "Pacific/Apia",
    "international date line west": "Etc/GMT+12",
}

_OFFSET_PREFIX = re.compile(r"^\s*\((?:GMT|UTC)\s*(?:[+-]\d{1,2}(?::?\d{2})?)?\)\s*", re.IGNORECASE)


def iana_zone(name: str) -> ZoneInfo | None:
    """The IANA zone for a Campaign Monitor zone name, or None when the name is not one we know.

    An IANA name (``"Europe/London"``) is accepted as it is, should the API ever send one.
    """
    place = " ".join(_OFFSET_PREFIX.sub("", name or "").split()).lower()
    iana = IANA_ZONES.get(place) or (name.strip() if "/" in (name or "") else None)
    if not iana:
        return None
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class LocalTime:
    """Turns the API's local-time strings into datetimes, in UTC unless asked not to.

    One instance per source run: it remembers each zone name it resolved and warns once about
    each name it could not, so a million rows in an unknown zone give one warning, not a million.
    """

    def __init__(self, to_utc: bool = True) -> None:
        self.to_utc = to_utc
        self._zones: dict[str, ZoneInfo | None] = {}

    def zone(self, name: str | None) -> ZoneInfo | None:
        """The zone for ``name``; None (with one warning) when it is unknown."""
        if not self.to_utc or not name:
            return None
        if name not in self._zones:
            self._zones[name] = iana_zone(name)
            if self._zones[name] is None:
                logger.warning(
                    "unknown Campaign Monitor time zone %r: its times are loaded as given, not converted to UTC",
                    name,
                )
        return self._zones[name]

    def parse(self, value: Any, zone: ZoneInfo | None) -> Any:
        """``"YYYY-MM-DD HH:MM:SS"`` as a datetime: UTC when the zone is known, else as given.

        A wall time that happens twice (clocks going back) is read as the first of the two, and one
        that never happens (clocks going forward) with the offset in force before the change, which
        is what ``zoneinfo`` does by default. A value in any other shape is kept as sent: dlt puts
        it in a variant column rather than failing the load or dropping it.
        """
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(timezone.utc) if self.to_utc else moment
        if zone is None:
            return moment
        return moment.replace(tzinfo=zone).astimezone(timezone.utc)

    def instant(self, value: Any, zone: ZoneInfo | None) -> Any:
        """An ISO 8601 time that carries its own offset (``2014-01-15T16:09:19-05:00``, the transactional
        API's) as that instant in UTC, whether or not local times are converted: the offset says exactly
        when it was. One that came without an offset is read like any other local time."""
        try:
            moment = datetime.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            return value
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(timezone.utc)
        return self.parse(value, zone)
