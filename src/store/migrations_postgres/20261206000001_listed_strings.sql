-- The strings of a JSON array bound as one parameter (a team's owners, its deploy targets),
-- as `jsonb_array_elements_text` gives them, but planned as the few they usually are: the
-- built-in is estimated at 100 rows, which makes the planner scan a whole table (every
-- service's scorecard, 10,000 rows) and hash it rather than probe its index for one owner.
CREATE FUNCTION opsdeck_listed(list jsonb) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 10
    AS $$ SELECT jsonb_array_elements_text(list) $$;
