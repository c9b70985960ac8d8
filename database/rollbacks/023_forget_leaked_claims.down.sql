-- Rollback of 023_forget_leaked_claims: nothing to put back. The rows it removed held users' claims
-- that should never have been stored; they are gone, and the collector writes only normalized texts.
select 1;
