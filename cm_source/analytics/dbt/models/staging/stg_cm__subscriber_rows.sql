-- Every subscriber row of the five state tables, its state the table it is in.
{%- set columns = [
    ['list_id', 'text'], ['client_id', 'text'], ['email_address', 'text'], ['name', 'text'],
    ['list_joined_date', 'utc'], ['date', 'utc'],
] %}
{%- set states = [
    ['active_subscribers', 'Active'], ['unconfirmed_subscribers', 'Unconfirmed'],
    ['unsubscribed_subscribers', 'Unsubscribed'], ['bounced_subscribers', 'Bounced'],
    ['deleted_subscribers', 'Deleted'],
] %}
{{ cm_union_rows(states, columns, 'state') }}
