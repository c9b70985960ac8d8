-- Undoes 020_statement_hourly. The rollup is derived from performance_metrics: nothing is lost.
drop table private.statement_hourly;
