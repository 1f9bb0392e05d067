-- One row per list: the API's counters of its subscribers. The columns and types models/sources.yml declares.
{{ cm_source_rows('list_stats') }}
