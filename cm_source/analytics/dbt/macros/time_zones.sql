{#
  The IANA zone of a Campaign Monitor zone name ("(GMT+10:00) Canberra, Melbourne, Sydney"), looked up
  in the cm_time_zones seed the way cm_source/read/time_zones.py does: the "(GMT±hh:mm)" prefix left out,
  spaces collapsed, lower case. An IANA name is taken as it is; an unknown name is UTC.
#}
{% macro cm_zone_place(zone_name) -%}
    lower(trim(regexp_replace(regexp_replace({{ zone_name }}, '^\s*\((GMT|UTC)[^)]*\)\s*', ''), '\s+', ' ', 'g')))
{%- endmacro %}


{# The day a UTC timestamp falls on in an IANA zone. #}
{% macro cm_local_day(utc_timestamp, iana_zone) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone {{ iana_zone }} as date)
{%- endmacro %}
