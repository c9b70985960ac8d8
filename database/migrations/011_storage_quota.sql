-- 011_storage_quota: the storage each plan allows, in one place (issue 13), read by the storage
-- service and the SDK when a file is uploaded and by the monitoring's quota alert.
-- NULL means no limit, as plan_project_limit does for projects.
create function public.plan_storage_limit(p_plan text) returns bigint
  language sql immutable set search_path = '' as $$
  select case p_plan
    when 'free' then 1073741824::bigint       -- 1 GiB
    when 'pro' then 53687091200::bigint       -- 50 GiB
    when 'team' then 536870912000::bigint     -- 500 GiB
    else null
  end
$$;
comment on function public.plan_storage_limit(text) is 'Bytes of storage a plan allows (NULL: no limit).';
