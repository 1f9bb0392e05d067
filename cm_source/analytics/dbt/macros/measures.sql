{#
  The engagement measures campaigns and journey emails share, from their event rows (one row per event,
  with event_type and email_address) grouped by whatever the caller groups by. "Distinct" counts people:
  addresses compared case-insensitively.
#}
{% macro cm_event_counts() -%}
    count(distinct case when event_type = 'bounce' then lower(email_address) end) as bounced,
    sum(case when event_type = 'open' then 1 else 0 end) as total_opens,
    count(distinct case when event_type = 'open' then lower(email_address) end) as unique_opens,
    sum(case when event_type = 'click' then 1 else 0 end) as total_clicks,
    count(distinct case when event_type = 'click' then lower(email_address) end) as unique_clicks,
    count(distinct case when event_type = 'unsubscribe' then lower(email_address) end) as unsubscribes,
    count(distinct case when event_type = 'spam_complaint' then lower(email_address) end) as spam_complaints,
    count(distinct case when event_type = 'bounce' and bounce_type = 'Hard' then lower(email_address) end) as hard_bounces,
    count(distinct case when event_type = 'bounce' and bounce_type = 'Soft' then lower(email_address) end) as soft_bounces
{%- endmacro %}


{# A ratio as a fraction, null where the denominator is 0 (or unknown). #}
{% macro cm_rate(numerator, denominator) -%}
    case when {{ denominator }} > 0 then cast({{ numerator }} as double precision) / {{ denominator }} end
{%- endmacro %}


{# The rates every sent email gets, from the columns cm_event_counts makes plus recipients and delivered. #}
{% macro cm_rates() -%}
    {{ cm_rate('unique_opens', 'delivered') }} as open_rate,
    {{ cm_rate('unique_clicks', 'delivered') }} as click_rate,
    {{ cm_rate('unique_clicks', 'unique_opens') }} as click_to_open_rate,
    {{ cm_rate('bounced', 'recipients') }} as bounce_rate,
    {{ cm_rate('unsubscribes', 'delivered') }} as unsubscribe_rate
{%- endmacro %}


{#
  The counts every sent email gets, from a relation with its recipients (recipients) and one with its
  cm_event_counts, either missing for an email nobody was sent or nobody acted on: zeros, not nulls.
#}
{% macro cm_measures(recipients, events) -%}
    coalesce({{ recipients }}.recipients, 0) as recipients,
    coalesce({{ recipients }}.recipients, 0) - coalesce({{ events }}.bounced, 0) as delivered,
  {%- for name in ['bounced', 'total_opens', 'unique_opens', 'total_clicks', 'unique_clicks', 'unsubscribes',
                   'spam_complaints', 'hard_bounces', 'soft_bounces'] %}
    coalesce({{ events }}.{{ name }}, 0) as {{ name }}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}
