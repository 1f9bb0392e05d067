-- One row per list × email whose latest state is Unconfirmed. The columns and types models/sources.yml declares.
{{ cm_source_rows('unconfirmed_subscribers') }}
