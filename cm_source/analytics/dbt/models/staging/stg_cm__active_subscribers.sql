-- One row per list × email whose latest state is Active. The columns and types models/sources.yml declares.
{{ cm_source_rows('active_subscribers') }}
