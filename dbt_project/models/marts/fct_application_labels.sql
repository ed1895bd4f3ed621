{#-
    Every outcome known for an application, with the date it became known. The training
    set of month M takes, per application, the latest label with known_from null or on or
    before M: outcomes delivered later never reach an earlier month's model.
-#}

with

application_file_labels as (

    -- An outcome delivered in the application file itself is known with the file:
    -- the history's from the start (null), a month file's from its month.
    select
        sk_id_curr,
        target,
        application_month as known_from,
        delivery_file as label_source
    from {{ ref('stg_home_credit__applications') }}
    where target is not null

),

outcome_file_labels as (

    select
        sk_id_curr,
        target,
        known_from,
        delivery_file as label_source
    from {{ ref('stg_home_credit__outcomes') }}

)

select * from application_file_labels
union all
select * from outcome_file_labels
