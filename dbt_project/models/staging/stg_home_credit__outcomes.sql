with

outcomes as (

    select * from {{ source('raw', 'outcomes') }}

)

select
    sk_id_curr,
    target,
    known_from,
    delivery_file,
    loaded_at
from outcomes
