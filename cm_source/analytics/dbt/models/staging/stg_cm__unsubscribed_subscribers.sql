-- One row per list × email whose latest state is Unsubscribed. The columns and types models/sources.yml declares.
{{ cm_source_rows('unsubscribed_subscribers') }}
