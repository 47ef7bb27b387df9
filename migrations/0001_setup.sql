-- Helpers every later migration uses.
--
-- Every table has created_at/updated_at; `select trigger_updated_at('<table>')` installs the
-- trigger that keeps updated_at current, so no query has to remember to set it.

create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end;
$$;

create or replace function trigger_updated_at(tablename regclass) returns void
language plpgsql as $$
begin
    execute format(
        'create trigger set_updated_at before update on %s
         for each row when (old is distinct from new)
         execute function set_updated_at()',
        tablename
    );
end;
$$;
