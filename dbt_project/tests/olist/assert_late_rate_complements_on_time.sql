-- late_rate = 1 - on_time_rate on every route.
select * from {{ ref('gold_delivery_performance') }}
where abs(on_time_rate + late_rate - 1) > 0.00001
