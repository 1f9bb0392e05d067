-- One row per list × email whose latest state is Bounced. The columns and types models/sources.yml declares.
{{ cm_source_rows('bounced_subscribers') }}
