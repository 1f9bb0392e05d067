-- One row per list × email whose latest state is Deleted. The columns and types models/sources.yml declares.
{{ cm_source_rows('deleted_subscribers') }}
